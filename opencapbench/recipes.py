"""Marker recipes: how each keypoint set becomes OpenSim markers, and which IK they get.

A recipe says, for one keypoint set, which 2D keypoints the triangulation sees (copies of
detected keypoints, or midpoints such as OpenCap's ``Neck`` = shoulder midpoint), which
OpenSim marker set is placed on the subject model (package data in
``opencapbench/osim/data/``), and the IK weight of every marker.  Pure: no OpenSim here; the
placement on a model is :func:`opencapbench.osim.markers.place_marker_set`.

Derived keypoints are computed **in 2D, per camera, before triangulation**, as OpenCap does
(``arrangeMMposePkl`` turns every camera's COCO-WholeBody detections into OpenPose BODY_25
before synchronisation and triangulation): the derived points then take part in the
2D filtering and the reprojection-based camera exclusion like any detected keypoint, and a
midpoint's confidence is the **smaller** of its two sources' (OpenCap's rule), so a
midpoint is never more trusted than the worse of the two keypoints it is built from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from opencapbench.errors import OCBError
from opencapbench.keypoints import BODY25_NAMES, get_keypoint_set, list_keypoint_sets

__all__ = [
    "AUGMENTER_INPUT_MARKERS",
    "AUGMENTER_MARKER_SET",
    "MarkerRecipe",
    "MarkerSetData",
    "MarkerSetError",
    "MarkerSpec",
    "RecipeError",
    "derive_keypoints2d",
    "get_recipe",
    "list_recipes",
    "load_marker_set",
]


class MarkerSetError(OCBError, ValueError):
    """A marker set file or a model is inconsistent with the marker set."""


class RecipeError(OCBError, ValueError):
    """A keypoint set has no marker recipe, or its recipe cannot serve the requested use."""


@dataclass(frozen=True)
class MarkerSpec:
    """One marker: the body it is fixed to and its location in that body's frame (metres)."""

    name: str
    body: str
    location: tuple[float, float, float]
    fixed: bool = False


@dataclass(frozen=True)
class MarkerSetData:
    """A marker set file: markers (name → spec, file order) and optional IK weights."""

    markers: dict[str, MarkerSpec]
    ik_weights: dict[str, float]
    source: str


def _read_text(name_or_path: str | os.PathLike) -> tuple[str, str]:
    """Text and display name of a marker set: an existing file, else a package data file."""
    path = Path(name_or_path)
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    ref = resources.files("opencapbench").joinpath("osim", "data", str(name_or_path))
    return ref.read_text(encoding="utf-8"), f"opencapbench/osim/data/{name_or_path}"


@cache
def _load_marker_set_cached(name_or_path: str) -> MarkerSetData:
    text, where = _read_text(name_or_path)
    doc = yaml.safe_load(text) or {}
    entries = doc.get("markers")
    if not isinstance(entries, dict) or not entries:
        raise MarkerSetError(f"{where}: no 'markers' mapping")
    markers: dict[str, MarkerSpec] = {}
    for name, e in entries.items():
        try:
            loc = tuple(float(x) for x in e["location"])
            body = str(e["body"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MarkerSetError(f"{where}: marker {name!r} needs body and location") from exc
        if len(loc) != 3:
            raise MarkerSetError(f"{where}: marker {name!r} location must have 3 numbers")
        markers[str(name)] = MarkerSpec(str(name), body, loc, bool(e.get("fixed", False)))
    weights_doc = doc.get("ik_weights") or {}
    try:
        weights = {str(k): float(v) for k, v in weights_doc.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise MarkerSetError(f"{where}: 'ik_weights' must map marker names to numbers") from exc
    unknown = sorted(set(weights) - set(markers))
    if unknown:
        raise MarkerSetError(f"{where}: ik_weights name markers not in the set: {unknown}")
    return MarkerSetData(markers, weights, where)


def load_marker_set(name_or_path: str | os.PathLike) -> MarkerSetData:
    """Read a marker set YAML file: a package data file name (``openpose_markers.yaml``) or a
    path.

    Raises:
        MarkerSetError: the file lacks ``markers``, an entry lacks ``body``/``location``, or
            ``ik_weights`` names a marker that is not in the set.
    """
    return _load_marker_set_cached(str(name_or_path))


#: OpenCap's augmenter inputs (BODY_25 names): the lower model's 15 markers, the upper
#: model's 7 (the first three shared), and the reference marker ``midHip``.
AUGMENTER_INPUT_MARKERS: tuple[str, ...] = (
    "Neck", "RShoulder", "LShoulder", "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle",
    "RHeel", "LHeel", "RSmallToe", "LSmallToe", "RBigToe", "LBigToe",
    "RElbow", "LElbow", "RWrist", "LWrist", "midHip",
)  # fmt: skip

#: The package marker set of the augmenter's 43 ``*_study`` output markers (with the IK
#: weights of OpenCap's ``Setup_IK.xml``).
AUGMENTER_MARKER_SET = "augmenter_markers.yaml"
OPENPOSE_MARKER_SET = "openpose_markers.yaml"
SYNTHPOSE_MARKER_SET = "synthpose_markers.yaml"

# (source keypoint) or (source a, source b) for a midpoint, per BODY_25 keypoint
_Source = str | tuple[str, str] | None


def _body25_from(
    neck: _Source, mid_hip: _Source, feet: dict[str, str] | None
) -> dict[str, _Source]:
    """BODY_25 keypoint → source name(s) for the COCO-family sets."""
    m: dict[str, _Source] = {
        "Nose": "nose", "Neck": neck, "RShoulder": "right_shoulder", "RElbow": "right_elbow",
        "RWrist": "right_wrist", "LShoulder": "left_shoulder", "LElbow": "left_elbow",
        "LWrist": "left_wrist", "midHip": mid_hip, "RHip": "right_hip", "RKnee": "right_knee",
        "RAnkle": "right_ankle", "LHip": "left_hip", "LKnee": "left_knee",
        "LAnkle": "left_ankle", "REye": "right_eye", "LEye": "left_eye", "REar": "right_ear",
        "LEar": "left_ear",
    }  # fmt: skip
    for b25 in ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"):
        m[b25] = feet.get(b25) if feet else None
    return m


_COCO_FEET = {
    "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
    "RBigToe": "right_big_toe", "RSmallToe": "right_small_toe", "RHeel": "right_heel",
}  # fmt: skip
_SHOULDERS = ("right_shoulder", "left_shoulder")
_HIPS = ("right_hip", "left_hip")


@dataclass(frozen=True)
class MarkerRecipe:
    """How the keypoints of one set become OpenSim markers and IK tasks.

    Attributes:
        keypoint_set: the set detected in the images (e.g. ``halpe26``).
        target_set: the set triangulated (``body25`` for the COCO family, else the set itself).
        sources: per ``target_set`` keypoint, the source keypoint name, a pair of names whose
            midpoint it is, or None (not available from this set: NaN, confidence 0).
        marker_set: package data file (or path) of the marker set placed on the subject model.
        augmenter: an OpenCap augmenter version (``v0.3``) run on the triangulated markers
            before IK, or None.
        description: one line for help texts and reports.
    """

    keypoint_set: str
    target_set: str
    sources: tuple[_Source, ...]
    marker_set: str
    augmenter: str | None = None
    description: str = ""
    _index: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = get_keypoint_set(self.keypoint_set)
        tgt = get_keypoint_set(self.target_set)
        if len(self.sources) != tgt.num_keypoints:
            raise RecipeError(
                f"recipe {self.keypoint_set!r}: {len(self.sources)} sources for the "
                f"{tgt.num_keypoints} keypoints of {self.target_set!r}"
            )
        a = np.full(tgt.num_keypoints, -1)
        b = np.full(tgt.num_keypoints, -1)
        for t, s in enumerate(self.sources):
            if s is None:
                continue
            pair = (s, s) if isinstance(s, str) else s
            a[t], b[t] = src.index(pair[0]), src.index(pair[1])
        object.__setattr__(self, "_index", (a, b))

    @property
    def marker_names(self) -> tuple[str, ...]:
        """Names of the markers IK uses: the augmenter's outputs when it runs, else the
        triangulated keypoints that have a source and a marker in :attr:`marker_set`."""
        markers = load_marker_set(self.marker_set).markers
        if self.augmenter is not None:
            return tuple(markers)
        names = get_keypoint_set(self.target_set).names
        return tuple(n for n, s in zip(names, self.sources, strict=True) if s and n in markers)

    @property
    def triangulated_names(self) -> tuple[str, ...]:
        """Names of the ``target_set`` keypoints, the columns of the triangulated TRC."""
        return get_keypoint_set(self.target_set).names

    @property
    def ik_weights(self) -> dict[str, float]:
        """Marker → IK weight, for :attr:`marker_names`."""
        weights = load_marker_set(self.marker_set).ik_weights
        return {n: weights[n] for n in self.marker_names if n in weights}

    def derive(self, points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints of ``keypoint_set`` → keypoints of ``target_set``.

        Args:
            points: (..., K, D) float, pixels (D = 2) or metres (D = 3); NaN = missing.
            scores: (..., K) confidences in [0, 1]; 0 = missing.

        Returns:
            ``(points (..., T, D), scores (..., T))``: copies, or midpoints whose score is the
            minimum of the two sources' (a midpoint with a missing source is missing); a
            keypoint without source is NaN with score 0.
        """
        points = np.asarray(points, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float64)
        k = get_keypoint_set(self.keypoint_set).num_keypoints
        if points.shape[-2] != k or scores.shape != points.shape[:-1]:
            raise RecipeError(
                f"recipe {self.keypoint_set!r}: expected points (..., {k}, D) and scores "
                f"(..., {k}), got {points.shape} and {scores.shape}"
            )
        a, b = self._index
        have = a >= 0
        ai, bi = np.where(have, a, 0), np.where(have, b, 0)
        out = 0.5 * (points[..., ai, :] + points[..., bi, :])
        conf = np.minimum(scores[..., ai], scores[..., bi])
        missing = ~have | ~np.isfinite(out).all(axis=-1)
        out[missing] = np.nan
        conf = np.where(missing, 0.0, conf)
        return out, conf

    def with_augmenter(self, version: str) -> MarkerRecipe:
        """This recipe followed by OpenCap's marker augmenter ``version``: IK then runs on the
        augmenter's 43 anatomical markers with OpenCap's weights.

        Raises:
            RecipeError: the triangulated keypoints lack an augmenter input (e.g. ``coco17``
                has no feet).
        """
        available = {
            n for n, s in zip(self.triangulated_names, self.sources, strict=True) if s is not None
        }
        missing = [m for m in AUGMENTER_INPUT_MARKERS if m not in available]
        if missing:
            raise RecipeError(
                f"keypoint set {self.keypoint_set!r} cannot feed OpenCap's marker augmenter: "
                f"it gives no {', '.join(missing)} (sets that can: "
                f"{', '.join(_augmentable_sets())})"
            )
        return MarkerRecipe(
            self.keypoint_set,
            self.target_set,
            self.sources,
            AUGMENTER_MARKER_SET,
            augmenter=version,
            description=f"{self.description} -> OpenCap LSTM augmenter {version}",
        )


def _identity(name: str, marker_set: str, description: str) -> MarkerRecipe:
    names = get_keypoint_set(name).names
    return MarkerRecipe(name, name, tuple(names), marker_set, description=description)


def _to_body25(name: str, sources: dict[str, _Source], description: str) -> MarkerRecipe:
    return MarkerRecipe(
        name,
        "body25",
        tuple(sources[n] for n in BODY25_NAMES),
        OPENPOSE_MARKER_SET,
        description=description,
    )


def _build_recipes() -> dict[str, MarkerRecipe]:
    feetless = _body25_from(_SHOULDERS, _HIPS, None)
    coco_feet = _body25_from(_SHOULDERS, _HIPS, _COCO_FEET)
    return {
        "synthpose52": _identity(
            "synthpose52", SYNTHPOSE_MARKER_SET, "SynthPose: 35 anatomical markers (+ COCO-17)"
        ),
        "markers35": _identity(
            "markers35", SYNTHPOSE_MARKER_SET, "35 anatomical markers (e.g. from SMPL vertices)"
        ),
        "body25": _identity(
            "body25", OPENPOSE_MARKER_SET, "OpenPose BODY_25 -> OpenPose-style markers"
        ),
        # Neck and midHip as shoulder and hip midpoints for every COCO-family set, HALPE-26
        # included (its own neck/hip are annotated points, not midpoints; the OpenPose-style
        # marker set puts Neck and midHip exactly at the midpoints, and OpenCap's augmenter
        # was trained on OpenCap's midpoint convention).
        "halpe26": _to_body25(
            "halpe26", coco_feet, "HALPE-26 -> OpenPose-style markers (Neck, midHip midpoints)"
        ),
        "coco_wholebody": _to_body25(
            "coco_wholebody",
            coco_feet,
            "COCO-WholeBody body+feet -> OpenPose-style markers (Neck, midHip midpoints)",
        ),
        "coco17": _to_body25(
            "coco17", feetless, "COCO-17 -> OpenPose-style markers without feet (no heel/toes)"
        ),
    }


@cache
def _recipes() -> dict[str, MarkerRecipe]:
    return _build_recipes()


def _augmentable_sets() -> list[str]:
    out = []
    for name, r in _recipes().items():
        have = {n for n, s in zip(r.triangulated_names, r.sources, strict=True) if s is not None}
        if set(AUGMENTER_INPUT_MARKERS) <= have:
            out.append(name)
    return out


def list_recipes() -> list[str]:
    """Keypoint sets that have a marker recipe."""
    return sorted(_recipes())


def get_recipe(keypoint_set: str, augmenter: str | None = None) -> MarkerRecipe:
    """The marker recipe of a keypoint set, optionally followed by OpenCap's augmenter.

    Raises:
        RecipeError: no recipe for this set (the message lists the sets that have one), or
            the set cannot feed the augmenter.
    """
    recipe = _recipes().get(str(keypoint_set).lower())
    if recipe is None:
        known = ", ".join(list_recipes())
        registered = set(list_keypoint_sets()) - set(_recipes())
        extra = (
            f" (registered without a recipe: {', '.join(sorted(registered))})" if registered else ""
        )
        raise RecipeError(
            f"keypoint set {keypoint_set!r} has no marker recipe; sets with one: {known}{extra}"
        )
    return recipe.with_augmenter(augmenter) if augmenter else recipe


def derive_keypoints2d(kp, recipe: MarkerRecipe):
    """Apply :meth:`MarkerRecipe.derive` to a :class:`~opencapbench.io.keypoint_store.Keypoints2D`
    of ``recipe.keypoint_set``; returns a ``Keypoints2D`` of ``recipe.target_set`` (same frames,
    person slots, frame rate and image size; person boxes kept)."""
    from opencapbench.io.keypoint_store import Keypoints2D

    if kp.keypoint_set != recipe.keypoint_set:
        raise RecipeError(
            f"keypoints of set {kp.keypoint_set!r} given to the recipe of {recipe.keypoint_set!r}"
        )
    if recipe.target_set == recipe.keypoint_set:
        return kp
    pts, sc = recipe.derive(kp.keypoints, kp.scores)
    return Keypoints2D(pts, sc, kp.fps, recipe.target_set, kp.image_size, kp.bboxes)
