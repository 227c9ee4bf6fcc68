"""Registry of named keypoint sets.

A keypoint set fixes the order of keypoints in every array of shape ``(..., K, ...)`` that
the toolkit passes around: keypoint stores, model heatmaps, TRC marker columns, COCO
annotations.  Sets are looked up by name (``get_keypoint_set("synthpose52")``) so no stage
hard-codes an order.  New sets can be registered at run time with :func:`register_keypoint_set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

#: The 35 anatomical markers of the published SynthPose model, in model output order
#: (HF model card ``stanfordmimi/synthpose-hrnet-48-mmpose``).  Note ``l_calc`` precedes
#: ``r_calc`` and the lateral wrist markers precede the medial ones.
SYNTHPOSE_MARKER_NAMES: tuple[str, ...] = (
    "sternum",
    "rshoulder",
    "lshoulder",
    "r_lelbow",
    "l_lelbow",
    "r_melbow",
    "l_melbow",
    "r_lwrist",
    "l_lwrist",
    "r_mwrist",
    "l_mwrist",
    "r_ASIS",
    "l_ASIS",
    "r_PSIS",
    "l_PSIS",
    "r_knee",
    "l_knee",
    "r_mknee",
    "l_mknee",
    "r_ankle",
    "l_ankle",
    "r_mankle",
    "l_mankle",
    "r_5meta",
    "l_5meta",
    "r_toe",
    "l_toe",
    "r_big_toe",
    "l_big_toe",
    "l_calc",
    "r_calc",
    "C7",
    "L2",
    "T11",
    "T6",
)

#: COCO OKS sigmas of the 17 body keypoints.
COCO17_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

#: COCO joint weights used by MMPose for training (elbows/knees 1.2, wrists/ankles 1.5).
COCO17_JOINT_WEIGHTS: tuple[float, ...] = (
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2,
    1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5,
)  # fmt: skip

#: COCO skeleton as 0-based index pairs (the 19 links MMPose draws).
COCO17_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

#: Sigma given to every anatomical marker (as in the published SynthPose metainfo).
MARKER_SIGMA = 0.05

_UPPER_COCO = set(COCO17_NAMES[:11])


def _mirror_name(name: str) -> str:
    """Return the left/right partner of ``name`` following the SynthPose/COCO conventions."""
    pairs = (("left_", "right_"), ("l_", "r_"), ("lshoulder", "rshoulder"))
    for a, b in pairs:
        if name.startswith(a):
            return b + name[len(a) :]
        if name.startswith(b):
            return a + name[len(b) :]
    return name


@dataclass(frozen=True)
class KeypointSet:
    """An ordered set of named keypoints.

    Attributes:
        name: registry name.
        names: keypoint names in array order, length K.
        flip_indices: ``flip_indices[i]`` is the index of the left/right partner of keypoint i
            (``i`` itself for midline keypoints), length K.
        upper_body: boolean mask (K,), True for keypoints above the hips.
        sigmas: OKS sigmas (K,).
        joint_weights: per-keypoint training loss weights (K,).
        skeleton: index pairs to draw, each ``(i, j)``.
    """

    name: str
    names: tuple[str, ...]
    flip_indices: tuple[int, ...]
    upper_body: tuple[bool, ...]
    sigmas: tuple[float, ...]
    joint_weights: tuple[float, ...]
    skeleton: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        k = len(self.names)
        if len(set(self.names)) != k:
            raise ValueError(f"keypoint set {self.name!r} has duplicate names")
        for attr in ("flip_indices", "upper_body", "sigmas", "joint_weights"):
            if len(getattr(self, attr)) != k:
                raise ValueError(f"keypoint set {self.name!r}: {attr} must have {k} entries")
        for i, j in enumerate(self.flip_indices):
            if self.flip_indices[j] != i:
                raise ValueError(f"keypoint set {self.name!r}: flip_indices is not an involution")

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of keypoint ``name``; raises ``KeyError`` with the valid names otherwise."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not in keypoint set {self.name!r}") from None

    def indices(self, names: Sequence[str]) -> np.ndarray:
        """Indices of several keypoints, as an int array."""
        return np.array([self.index(n) for n in names], dtype=int)

    @property
    def flip_pairs(self) -> list[tuple[int, int]]:
        """Left/right index pairs ``(i, j)`` with ``i < j``."""
        return [(i, j) for i, j in enumerate(self.flip_indices) if i < j]


def keypoint_set_from_names(
    name: str,
    names: Sequence[str],
    sigmas: Sequence[float] | None = None,
    joint_weights: Sequence[float] | None = None,
    skeleton: Sequence[tuple[int, int]] = (),
    upper_body: Sequence[bool] | None = None,
    pairs: Sequence[tuple[str, str]] = (),
) -> KeypointSet:
    """Build a :class:`KeypointSet`, deriving flip partners from ``left_``/``l_`` name prefixes.

    ``pairs`` adds left/right partners the prefixes cannot tell (face landmarks, ``R``/``L``
    names).  A keypoint with no partner is treated as midline.
    """
    names = tuple(names)
    pos = {n: i for i, n in enumerate(names)}
    partner = {n: _mirror_name(n) for n in names}
    for a, b in pairs:
        partner[a], partner[b] = b, a
    flip = tuple(pos.get(partner[n], i) for i, n in enumerate(names))
    k = len(names)
    return KeypointSet(
        name=name,
        names=names,
        flip_indices=flip,
        upper_body=tuple(upper_body) if upper_body is not None else (True,) * k,
        sigmas=tuple(sigmas) if sigmas is not None else (MARKER_SIGMA,) * k,
        joint_weights=tuple(joint_weights) if joint_weights is not None else (1.0,) * k,
        skeleton=tuple(skeleton),
    )


_LOWER_MARKERS = {
    "r_ASIS", "l_ASIS", "r_PSIS", "l_PSIS", "r_knee", "l_knee", "r_mknee", "l_mknee",
    "r_ankle", "l_ankle", "r_mankle", "l_mankle", "r_5meta", "l_5meta", "r_toe", "l_toe",
    "r_big_toe", "l_big_toe", "l_calc", "r_calc", "L2",
}  # fmt: skip

_REGISTRY: dict[str, KeypointSet] = {}


def register_keypoint_set(kps: KeypointSet, overwrite: bool = False) -> KeypointSet:
    """Add a keypoint set to the registry under ``kps.name``."""
    if kps.name in _REGISTRY and not overwrite:
        raise ValueError(f"keypoint set {kps.name!r} is already registered")
    _REGISTRY[kps.name] = kps
    return kps


def get_keypoint_set(name: str) -> KeypointSet:
    """Look up a registered keypoint set by name (case-insensitive)."""
    key = name.lower()
    if key not in _REGISTRY:
        raise KeyError(f"unknown keypoint set {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[key]


def list_keypoint_sets() -> list[str]:
    return sorted(_REGISTRY)


COCO17 = register_keypoint_set(
    keypoint_set_from_names(
        "coco17",
        COCO17_NAMES,
        sigmas=COCO17_SIGMAS,
        joint_weights=COCO17_JOINT_WEIGHTS,
        skeleton=COCO17_SKELETON,
        upper_body=[n in _UPPER_COCO for n in COCO17_NAMES],
    )
)

SYNTHPOSE52 = register_keypoint_set(
    keypoint_set_from_names(
        "synthpose52",
        COCO17_NAMES + SYNTHPOSE_MARKER_NAMES,
        sigmas=COCO17_SIGMAS + (MARKER_SIGMA,) * len(SYNTHPOSE_MARKER_NAMES),
        joint_weights=COCO17_JOINT_WEIGHTS + (1.0,) * len(SYNTHPOSE_MARKER_NAMES),
        skeleton=COCO17_SKELETON,
        upper_body=[n in _UPPER_COCO for n in COCO17_NAMES]
        + [n not in _LOWER_MARKERS for n in SYNTHPOSE_MARKER_NAMES],
    )
)


# ------------------------------------------------------------------ whole-body and foot sets

#: HALPE-26 (MMPose ``halpe26``, Pose2Sim/RTMPose "body with feet"): COCO-17, then head, neck,
#: hip (pelvis centre) and the feet, interleaved left/right by type.
HALPE26_NAMES: tuple[str, ...] = COCO17_NAMES + (
    "head", "neck", "hip",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
    "left_heel", "right_heel",
)  # fmt: skip
HALPE26_SIGMAS: tuple[float, ...] = COCO17_SIGMAS + (0.026, 0.026, 0.066) + (0.079,) * 6

#: The 23 body and foot keypoints that open COCO-WholeBody (feet grouped by side).
COCO_WHOLEBODY_FEET: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(f"{side}_{f}{k}" for f in _FINGERS for k in range(1, 5))


#: COCO-WholeBody's 133 keypoints (MMPose ``coco_wholebody``): 17 body, 6 feet, 68 face
#: landmarks ``face-0`` … ``face-67`` (iBUG 68 order), 21 left-hand and 21 right-hand points.
COCO_WHOLEBODY_NAMES: tuple[str, ...] = (
    COCO17_NAMES
    + COCO_WHOLEBODY_FEET
    + tuple(f"face-{i}" for i in range(68))
    + _hand("left")
    + _hand("right")
)

#: Mirror partners of the 68 face landmarks (jaw, brows, nose, eyes, mouth).
_FACE68_PAIRS: tuple[tuple[int, int], ...] = (
    *((i, 16 - i) for i in range(8)),
    *((17 + i, 26 - i) for i in range(5)),
    (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67),
)  # fmt: skip

#: COCO-WholeBody OKS sigmas (``myeval_wholebody.py`` of the COCO-WholeBody evaluation).
COCO_WHOLEBODY_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
    0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089, 0.068, 0.066, 0.066,
    0.092, 0.094, 0.094, 0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031,
    0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038, 0.043, 0.041, 0.045,
    0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015,
    0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017,
    0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010,
    0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009,
    0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01,
    0.008, 0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035,
    0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019,
    0.022, 0.031, 0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024,
    0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02,
    0.019, 0.022, 0.031,
)  # fmt: skip

#: OpenPose BODY_25 in OpenCap's spelling (``midHip`` with a lower-case m): the keypoints of
#: OpenCap's pose pickles and the names of its pre-augmentation markers.
BODY25_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "midHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
_BODY25_PAIRS = tuple(
    (n, "L" + n[1:]) for n in BODY25_NAMES if n.startswith("R") and "L" + n[1:] in BODY25_NAMES
)
_BODY25_LOWER = {n for n in BODY25_NAMES if n.endswith(("Hip", "Knee", "Ankle", "Toe", "Heel"))}
_UPPER_HALPE = _UPPER_COCO | {"head", "neck"}

HALPE26 = register_keypoint_set(
    keypoint_set_from_names(
        "halpe26",
        HALPE26_NAMES,
        sigmas=HALPE26_SIGMAS,
        skeleton=COCO17_SKELETON,
        upper_body=[n in _UPPER_HALPE for n in HALPE26_NAMES],
    )
)

COCO_WHOLEBODY = register_keypoint_set(
    keypoint_set_from_names(
        "coco_wholebody",
        COCO_WHOLEBODY_NAMES,
        sigmas=COCO_WHOLEBODY_SIGMAS,
        skeleton=COCO17_SKELETON,
        upper_body=[
            n in _UPPER_COCO
            or n.startswith(("face-", "left_h", "right_h"))
            or any(f in n for f in _FINGERS)
            for n in COCO_WHOLEBODY_NAMES
        ],
        pairs=[(f"face-{a}", f"face-{b}") for a, b in _FACE68_PAIRS],
    )
)

BODY25 = register_keypoint_set(
    keypoint_set_from_names(
        "body25",
        BODY25_NAMES,
        upper_body=[n not in _BODY25_LOWER for n in BODY25_NAMES],
        pairs=_BODY25_PAIRS,
    )
)

#: The 35 SynthPose anatomical markers alone, for methods that produce them directly (markers
#: taken from SMPL mesh vertices, e.g. CLIFF or Virtual Markers in OpenCapBench's table).
MARKERS35 = register_keypoint_set(
    keypoint_set_from_names(
        "markers35",
        SYNTHPOSE_MARKER_NAMES,
        upper_body=[n not in _LOWER_MARKERS for n in SYNTHPOSE_MARKER_NAMES],
    )
)
