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
) -> KeypointSet:
    """Build a :class:`KeypointSet`, deriving flip partners from ``left_``/``l_`` name prefixes.

    A keypoint whose mirrored name is absent from ``names`` is treated as midline.
    """
    names = tuple(names)
    pos = {n: i for i, n in enumerate(names)}
    flip = tuple(pos.get(_mirror_name(n), i) for i, n in enumerate(names))
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
