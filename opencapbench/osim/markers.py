"""Marker sets placed automatically on any subject model (SynthPose, OpenPose-style, augmenter).

SynthPose predicts 35 anatomical markers whose names are OpenSim marker names; 33 of them
live on bodies of the Rajagopal/Lai family of models (the big toes are not model markers).
Their generic locations (unscaled LaiUhlrich2022) are in ``data/synthpose_markers.yaml``.

OpenCapBench runs IK on each subject's mocap-scaled model, which must therefore carry these
markers; it left attaching them as a manual step.  :func:`attach_synthpose_markers` does it
automatically, marker by marker; :func:`place_marker_set` does the same for the marker set of
any keypoint set's recipe (:mod:`opencapbench.recipes`), and :func:`check_recipe` refuses early a
keypoint set whose markers would not land on the model:

0. **kept**: the model already has a marker of that name; it is left as it is;
1. **copied**: the subject model already has the corresponding mocap marker (the OpenCap
   mocap or LSTM-augmenter name, e.g. ``r.ASIS_study`` for ``r_ASIS``): its body and location
   are copied, since the mocap marker was placed on the subject's own anatomy;
2. **scaled**: otherwise the generic location is multiplied by the body's scale factors, read
   from the ``scale_factors`` of the geometry attached to the body (what OpenSim's ScaleTool
   updates), or 1 when the body has no geometry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opensim

from opencapbench.io.atomic import atomic_path
from opencapbench.osim.logs import load_model, opensim_log_level
from opencapbench.recipes import (
    SYNTHPOSE_MARKER_SET,
    MarkerRecipe,
    MarkerSetError,
    MarkerSpec,
    get_recipe,
    load_marker_set,
)

__all__ = [
    "MOCAP_MARKER_ALIASES",
    "MarkerPlacement",
    "MarkerSpec",
    "PlacementReport",
    "add_markers",
    "MarkerSetError",
    "attach_synthpose_markers",
    "body_scale_factors",
    "check_recipe",
    "load_synthpose_markers",
    "place_marker_set",
]


#: SynthPose marker → candidate names of the same landmark in OpenCap mocap / augmenter marker
#: sets, most specific first.  A tuple of two names means "midpoint of these two markers"
#: (they must be on the same body).  Matching falls back to case-insensitive names.
MOCAP_MARKER_ALIASES: dict[str, tuple[str | tuple[str, str], ...]] = {
    "sternum": (("R_Sternum", "L_Sternum"),),
    "rshoulder": ("r_shoulder_study", "R_Shoulder"),
    "lshoulder": ("L_shoulder_study", "L_Shoulder"),
    "r_lelbow": ("r_lelbow_study", "R_elbow_lat"),
    "l_lelbow": ("L_lelbow_study", "L_elbow_lat"),
    "r_melbow": ("r_melbow_study", "R_elbow_med"),
    "l_melbow": ("L_melbow_study", "L_elbow_med"),
    "r_lwrist": ("r_lwrist_study", "R_wrist_radius"),
    "l_lwrist": ("L_lwrist_study", "L_wrist_radius"),
    "r_mwrist": ("r_mwrist_study", "R_wrist_ulna"),
    "l_mwrist": ("L_mwrist_study", "L_wrist_ulna"),
    "r_ASIS": ("r.ASIS_study", "r.ASIS"),
    "l_ASIS": ("L.ASIS_study", "L.ASIS"),
    "r_PSIS": ("r.PSIS_study", "r.PSIS"),
    "l_PSIS": ("L.PSIS_study", "L.PSIS"),
    "r_knee": ("r_knee_study", "r_knee"),
    "l_knee": ("L_knee_study", "L_knee"),
    "r_mknee": ("r_mknee_study", "r_mknee"),
    "l_mknee": ("L_mknee_study", "L_mknee"),
    "r_ankle": ("r_ankle_study", "r_ankle"),
    "l_ankle": ("L_ankle_study", "L_ankle"),
    "r_mankle": ("r_mankle_study", "r_mankle"),
    "l_mankle": ("L_mankle_study", "L_mankle"),
    "r_5meta": ("r_5meta_study", "r_5meta"),
    "l_5meta": ("L_5meta_study", "L_5meta"),
    "r_toe": ("r_toe_study", "r_toe"),
    "l_toe": ("L_toe_study", "L_toe"),
    "r_calc": ("r_calc_study", "r_calc"),
    "l_calc": ("L_calc_study", "L_calc"),
    "C7": ("C7_study", "C7"),
}


def load_synthpose_markers(path: str | os.PathLike | None = None) -> dict[str, MarkerSpec]:
    """Read a marker set file (default: the packaged SynthPose set, 33 markers).

    Returns:
        name → :class:`MarkerSpec`, in file order.

    Raises:
        MarkerSetError: the file lacks ``markers`` or an entry lacks ``body``/``location``.
    """
    return dict(load_marker_set(SYNTHPOSE_MARKER_SET if path is None else path).markers)


def body_scale_factors(model: opensim.Model) -> dict[str, np.ndarray]:
    """Per-body (x, y, z) scale factors read from each body's first attached geometry.

    A ScaleTool-scaled model keeps its bodies' scale in the ``scale_factors`` of their meshes;
    the built-in model stores its uniform height scale there too.  Bodies without attached
    geometry get ``(1, 1, 1)``.
    """
    factors: dict[str, np.ndarray] = {}
    bodies = model.getBodySet()
    for i in range(bodies.getSize()):
        body = bodies.get(i)
        f = np.ones(3)
        if body.getPropertyByName("attached_geometry").size() > 0:
            f = body.get_attached_geometry(0).get_scale_factors().to_numpy().astype(float)
        factors[body.getName()] = f
    return factors


def add_markers(
    model: opensim.Model,
    markers: Mapping[str, MarkerSpec] | Iterable[MarkerSpec],
    scale: Mapping[str, np.ndarray] | None = None,
    replace: bool = True,
) -> list[str]:
    """Add markers to ``model`` (in place) and re-initialise it.

    Args:
        model: the model.
        markers: marker specs (body-frame locations in metres).
        scale: optional body name → (3,) factors multiplied into the locations.
        replace: replace an existing marker of the same name (else raise).

    Returns:
        The names of the markers added.

    Raises:
        MarkerSetError: a marker's body is not in the model, or a name clash with
            ``replace=False``.
    """
    specs = list(markers.values()) if isinstance(markers, Mapping) else list(markers)
    marker_set = model.updMarkerSet()
    bodies = model.getBodySet()
    added = []
    for spec in specs:
        if not bodies.contains(spec.body):
            raise MarkerSetError(
                f"model {model.getName()!r} has no body {spec.body!r} for marker {spec.name!r}"
            )
        if marker_set.contains(spec.name):
            if not replace:
                raise MarkerSetError(f"model {model.getName()!r} already has marker {spec.name!r}")
            marker_set.remove(marker_set.get(spec.name))
        loc = np.asarray(spec.location, dtype=float)
        if scale is not None and spec.body in scale:
            loc = loc * np.asarray(scale[spec.body], dtype=float)
        marker = opensim.Marker(spec.name, bodies.get(spec.body), opensim.Vec3(*loc))
        marker.set_fixed(spec.fixed)
        model.addMarker(marker)
        added.append(spec.name)
    model.finalizeConnections()
    model.initSystem()
    return added


@dataclass(frozen=True)
class MarkerPlacement:
    """How one marker was placed: ``method`` is ``kept`` (the model already had it),
    ``copied`` (from mocap marker ``source``), ``scaled`` (generic location × ``scale``) or
    ``skipped`` (body missing; ``source`` says why).
    """

    name: str
    method: str
    body: str
    location: tuple[float, float, float]
    source: str = ""
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass
class PlacementReport:
    """Result of :func:`attach_synthpose_markers`."""

    model_path: Path
    out_path: Path
    placements: list[MarkerPlacement] = field(default_factory=list)

    def by_method(self, method: str) -> list[str]:
        return [p.name for p in self.placements if p.method == method]

    def summary(self) -> str:
        """One line per method with the marker names, for logs."""
        lines = [f"markers on {self.model_path.name} -> {self.out_path}"]
        for method in ("kept", "copied", "scaled", "skipped"):
            names = self.by_method(method)
            if names:
                lines.append(f"  {method} ({len(names)}): {', '.join(names)}")
        return "\n".join(lines)


def _tup(x) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.asarray(x).ravel()[:3])


def _find_marker(model: opensim.Model, name: str) -> opensim.Marker | None:
    ms = model.getMarkerSet()
    if ms.contains(name):
        return ms.get(name)
    low = name.lower()
    for i in range(ms.getSize()):
        if ms.get(i).getName().lower() == low:
            return ms.get(i)
    return None


def _marker_body_and_location(marker: opensim.Marker) -> tuple[str, np.ndarray]:
    body = marker.getParentFrame().findBaseFrame().getName()
    # Express the location in the base body's frame (the marker may sit on an offset frame).
    loc = (
        marker.getParentFrame()
        .findTransformInBaseFrame()
        .shiftFrameStationToBase(marker.get_location())
    )
    return body, loc.to_numpy().astype(float)


def _copy_from_mocap(
    model: opensim.Model, name: str, aliases: Mapping
) -> tuple[str, np.ndarray, str] | None:
    """Body, location and source name of the mocap counterpart of ``name``, if any."""
    for cand in aliases.get(name, ()):
        if isinstance(cand, tuple):
            found = [_find_marker(model, c) for c in cand]
            if all(m is not None for m in found):
                placed = [_marker_body_and_location(m) for m in found]
                if len({b for b, _ in placed}) == 1:
                    loc = np.mean([loc for _, loc in placed], axis=0)
                    return placed[0][0], loc, "midpoint(" + ", ".join(cand) + ")"
            continue
        m = _find_marker(model, cand)
        if m is not None:
            body, loc = _marker_body_and_location(m)
            return body, loc, m.getName()
    return None


def attach_synthpose_markers(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    mocap_marker_map: Mapping[str, tuple] | None = None,
    markers: Mapping[str, MarkerSpec] | None = None,
    keep_existing: bool = True,
) -> PlacementReport:
    """Put the SynthPose markers on a subject model and save it.

    Args:
        model_path: the subject's (typically mocap-scaled) ``.osim``.
        out_path: where to write the model with the SynthPose markers (atomic write; may
            equal ``model_path``).
        mocap_marker_map: SynthPose name → candidate mocap marker names (default
            :data:`MOCAP_MARKER_ALIASES`); pass ``{}`` to force the scaled placement.
        markers: generic marker set (default :func:`load_synthpose_markers`).
        keep_existing: a marker the model already has under the SynthPose name is kept as it
            is (method ``kept``), so re-running is idempotent and hand-placed markers survive.

    Returns:
        A :class:`PlacementReport` saying, per marker, whether it was kept (already on the
        model), copied from a mocap marker, scaled from the generic location, or skipped (its
        body is missing).

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        MarkerSetError: no marker at all could be placed (not a Rajagopal-family model).
    """
    aliases = MOCAP_MARKER_ALIASES if mocap_marker_map is None else mocap_marker_map
    generic = load_synthpose_markers() if markers is None else markers
    return _place(model_path, out_path, generic, aliases, keep_existing)


def place_marker_set(
    model_in: str | os.PathLike,
    model_out: str | os.PathLike,
    recipe: MarkerRecipe | str,
    keep_existing: bool = True,
) -> PlacementReport:
    """Put the marker set of a keypoint set's recipe on a subject model and save it.

    Generalises :func:`attach_synthpose_markers` (same placement rules: kept, copied from a
    mocap marker for the SynthPose set, scaled from the generic location, skipped) to any
    recipe: the SynthPose set for ``synthpose52``/``markers35``, the OpenPose-style set for
    ``halpe26``/``coco_wholebody``/``coco17``/``body25``, the augmenter's 43 ``*_study``
    markers when the recipe runs OpenCap's augmenter.

    Args:
        model_in: the subject's ``.osim``.
        model_out: output ``.osim`` (atomic write; may equal ``model_in``).
        recipe: a :class:`~opencapbench.recipes.MarkerRecipe` or a keypoint-set name.
        keep_existing: see :func:`attach_synthpose_markers`.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    generic = load_marker_set(recipe.marker_set).markers
    aliases = MOCAP_MARKER_ALIASES if recipe.marker_set == SYNTHPOSE_MARKER_SET else {}
    return _place(model_in, model_out, generic, aliases, keep_existing)


def check_recipe(
    keypoint_set: str, model_path: str | os.PathLike, augmenter: str | None = None
) -> MarkerRecipe:
    """Refuse early a keypoint set the benchmark cannot score on this model.

    Checks that the set has a marker recipe (and can feed the augmenter when one is asked
    for) and that every marker IK would use either is on the model already or has its body
    there, so :func:`place_marker_set` will put it on.

    Returns:
        The recipe.

    Raises:
        RecipeError: no recipe (the message lists the sets that have one), or the set cannot
            feed the augmenter.
        FileNotFoundError: ``model_path`` does not exist.
        MarkerSetError: markers whose body the model lacks (the message names them and the
            model).
    """
    recipe = get_recipe(keypoint_set, augmenter)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"OpenSim model not found: {model_path}")
    model = load_model(model_path)
    bodies = model.getBodySet()
    specs = load_marker_set(recipe.marker_set).markers
    lost = [
        f"{n} (body {specs[n].body})"
        for n in recipe.marker_names
        if not model.getMarkerSet().contains(n) and not bodies.contains(specs[n].body)
    ]
    if lost:
        raise MarkerSetError(
            f"{model_path}: markers of keypoint set {keypoint_set!r} cannot be placed on this "
            f"model, its bodies are missing: {', '.join(lost)}"
        )
    return recipe


def _place(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    generic: Mapping[str, MarkerSpec],
    aliases: Mapping[str, tuple],
    keep_existing: bool,
) -> PlacementReport:
    """Place ``generic`` markers on a model marker by marker (see the module docstring)."""
    model_path, out_path = Path(model_path), Path(out_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"OpenSim model not found: {model_path}")
    model = load_model(model_path)
    with opensim_log_level("error"):
        model.initSystem()
    factors = body_scale_factors(model)
    bodies = model.getBodySet()
    report = PlacementReport(model_path, out_path)
    specs: list[MarkerSpec] = []
    ms = model.getMarkerSet()
    for name, spec in generic.items():
        # only the SynthPose set (which has mocap aliases) matches names case-insensitively:
        # OpenPose-style ``RShoulder`` is not SynthPose's ``rshoulder``
        if not keep_existing:
            existing = None
        elif aliases:
            existing = _find_marker(model, name)
        else:
            existing = ms.get(name) if ms.contains(name) else None
        copied = _copy_from_mocap(model, name, aliases) if existing is None else None
        if existing is not None:
            body, loc = _marker_body_and_location(existing)
            placement = MarkerPlacement(name, "kept", body, _tup(loc), existing.getName())
        elif copied is not None:
            body, loc, source = copied
            placement = MarkerPlacement(name, "copied", body, _tup(loc), source)
        elif bodies.contains(spec.body):
            f = factors.get(spec.body, np.ones(3))
            loc = np.asarray(spec.location) * f
            placement = MarkerPlacement(name, "scaled", spec.body, _tup(loc), "", _tup(f))
        else:
            report.placements.append(
                MarkerPlacement(name, "skipped", spec.body, spec.location, "body not in model")
            )
            continue
        report.placements.append(placement)
        specs.append(MarkerSpec(name, placement.body, placement.location, spec.fixed))
    if not specs:
        raise MarkerSetError(
            f"{model_path}: none of the marker bodies exist in this model "
            f"(expected Rajagopal/Lai body names such as pelvis, femur_r, tibia_r, calcn_r)"
        )
    add_markers(model, specs)
    with atomic_path(out_path) as tmp:
        model.printToXML(str(tmp))
    return report
