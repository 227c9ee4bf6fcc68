"""Synthetic 2D keypoints of other keypoint sets for a dataset made by
:func:`~opencapbench.synthetic.generate_synthetic_dataset`.

Each keypoint of the set is a point of the subject's model driven by the trial's known motion
and projected into the dataset's own cameras, like the ``synthpose52`` keypoints:

- the keypoints the set's marker recipe turns into model markers are **those markers**: the
  set's marker set is placed on the model (:func:`~opencapbench.osim.markers.place_marker_set`,
  the same deterministic placement the benchmark makes), so IK on noise-free keypoints can be
  exact.  COCO-family body and foot keypoints are the OpenPose-style markers (``right_knee`` =
  ``RKnee``, ``left_heel`` = ``LHeel``…; HALPE's ``neck`` and ``hip`` = ``Neck`` and
  ``midHip``); ``markers35`` are the SynthPose markers, big toes included as in
  ``synthpose52``;
- points without an OpenSim marker are fixed points of the nearest body, scaled with it: nose,
  eyes and ears as in ``synthpose52`` (torso), HALPE's ``head`` 8 cm above the ears on the
  torso, COCO-WholeBody's 68 face landmarks at the nose point and its 21 points per hand at
  the hand body's origin.  No recipe uses them for IK.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from opencapbench.keypoints import get_keypoint_set

__all__ = ["SYNTHETIC_SETS", "keypoint_sources", "write_synthetic_keypoint_set"]

log = logging.getLogger(__name__)

#: Keypoint sets this module can synthesise.
SYNTHETIC_SETS = ("halpe26", "coco_wholebody", "coco17", "body25", "markers35")

_BODY25_FROM_COCO = {
    "right_shoulder": "RShoulder", "left_shoulder": "LShoulder", "right_elbow": "RElbow",
    "left_elbow": "LElbow", "right_wrist": "RWrist", "left_wrist": "LWrist",
    "right_hip": "RHip", "left_hip": "LHip", "right_knee": "RKnee", "left_knee": "LKnee",
    "right_ankle": "RAnkle", "left_ankle": "LAnkle", "left_big_toe": "LBigToe",
    "left_small_toe": "LSmallToe", "left_heel": "LHeel", "right_big_toe": "RBigToe",
    "right_small_toe": "RSmallToe", "right_heel": "RHeel", "neck": "Neck", "hip": "midHip",
}  # fmt: skip
_COCO_FROM_BODY25 = {
    "Nose": "nose", "REye": "right_eye", "LEye": "left_eye", "REar": "right_ear",
    "LEar": "left_ear",
}  # fmt: skip

# (kind, name) = ("marker", model marker name) or ("station", body, location)
Source = tuple


def keypoint_sources(keypoint_set: str) -> list[Source]:
    """Where each keypoint of a set comes from on the model (see the module docstring):
    ``("marker", name)`` or ``("station", body, (x, y, z) generic location, metres)``."""
    from opencapbench.osim.kinematics import DERIVED_KEYPOINTS

    if keypoint_set not in SYNTHETIC_SETS:
        raise ValueError(f"no synthetic keypoints for {keypoint_set!r}; sets: {SYNTHETIC_SETS}")
    names = get_keypoint_set(keypoint_set).names
    if keypoint_set == "markers35":
        return [
            ("station", *DERIVED_KEYPOINTS[n]) if n in DERIVED_KEYPOINTS else ("marker", n)
            for n in names
        ]
    out: list[Source] = []
    for n in names:
        coco = _COCO_FROM_BODY25.get(n, n)  # body25 face names → COCO names
        if n in _BODY25_FROM_COCO:
            out.append(("marker", _BODY25_FROM_COCO[n]))
        elif keypoint_set == "body25" and n not in _COCO_FROM_BODY25:
            out.append(("marker", n))
        elif coco in DERIVED_KEYPOINTS:
            out.append(("station", *DERIVED_KEYPOINTS[coco]))
        elif n == "head":
            body, (x, y, _) = DERIVED_KEYPOINTS["left_ear"]
            out.append(("station", body, (x, y + 0.08, 0.0)))
        elif n.startswith("face-"):
            out.append(("station", *DERIVED_KEYPOINTS["nose"]))
        elif n.startswith(("left_", "right_")):  # hand points
            out.append(("station", "hand_l" if n.startswith("left_") else "hand_r", (0, 0, 0)))
        else:
            raise ValueError(f"no model point for keypoint {n!r} of {keypoint_set!r}")
    return out


def _trajectories(model, q: dict[str, np.ndarray], sources: list[Source]) -> np.ndarray:
    """(T, K, 3) ground positions of the sources, metres."""
    from opencapbench.osim.kinematics import point_trajectories
    from opencapbench.osim.markers import body_scale_factors

    factors = body_scale_factors(model)
    markers = sorted({s[1] for s in sources if s[0] == "marker"})
    stations = sorted({(s[1], tuple(s[2])) for s in sources if s[0] == "station"})
    pts = point_trajectories(
        model,
        q,
        markers,
        [(b, np.asarray(loc) * factors.get(b, np.ones(3))) for b, loc in stations],
    )
    col = {("marker", m): i for i, m in enumerate(markers)}
    col |= {("station", b, loc): len(markers) + i for i, (b, loc) in enumerate(stations)}
    return pts[:, [col[(s[0], s[1]) if s[0] == "marker" else ("station", s[1], tuple(s[2]))]
                   for s in sources]]  # fmt: skip


def write_synthetic_keypoint_set(
    root: str | os.PathLike,
    keypoint_set: str,
    store: str | os.PathLike | None = None,
    noise_px: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write a keypoint store of ``keypoint_set`` for a synthetic dataset.

    Args:
        root: the dataset root written by ``generate_synthetic_dataset``.
        keypoint_set: one of :data:`SYNTHETIC_SETS`.
        store: output store root (default ``<root>/keypoints_<set>``).
        noise_px, dropout: Gaussian pixel noise (standard deviation) and fraction of
            detections dropped, as in ``generate_synthetic_dataset``.
        seed: random seed of noise, dropout and scores.

    Returns:
        The store root, in the layout ``<store>/<subject>/<session>/<trial>/<camera>.npz``.
    """
    from opencapbench.geometry.frames import placement_rotation
    from opencapbench.io.calibration import read_opencap_calibration
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.opencap_layout import discover_trials, list_subjects
    from opencapbench.io.session import read_session_metadata
    from opencapbench.osim.logs import load_model
    from opencapbench.osim.markers import place_marker_set
    from opencapbench.recipes import get_recipe
    from opencapbench.synthetic.motions import motion_for_trial
    from opencapbench.synthetic.rig import project_keypoints
    from opencapbench.synthetic.writer import anthropometry_from_model

    root = Path(root)
    store = Path(store) if store is not None else root / f"keypoints_{keypoint_set}"
    sources = keypoint_sources(keypoint_set)
    recipe = get_recipe(keypoint_set)
    rng = np.random.default_rng(seed)
    trials = discover_trials(root, keypoint_store=root / "keypoints")
    for subject in list_subjects(root):
        if subject.mocap_model is None:
            raise FileNotFoundError(f"{subject.name}: no model in {subject.model_dir}")
        with tempfile.TemporaryDirectory() as tmp:
            placed = Path(tmp) / "model.osim"
            place_marker_set(subject.mocap_model, placed, recipe)
            model = load_model(placed)
        body = anthropometry_from_model(model)
        coords = {model.getCoordinateSet().get(k).getName()
                  for k in range(model.getNumCoordinates())}  # fmt: skip
        for trial in (t for t in trials if t.subject == subject.name):
            meta = read_session_metadata(trial.metadata_path)
            board = placement_rotation(meta.placement, meta.upside_down)
            ref = Keypoints2D.load(
                next(
                    (root / "keypoints" / trial.subject / trial.session / trial.name).glob("*.npz")
                )
            )
            t_video = np.arange(ref.num_frames) / ref.fps
            q = {
                k: v for k, v in motion_for_trial(trial.name)(t_video, body).items() if k in coords
            }
            pts_board = _trajectories(model, q, sources) @ board  # p_board = R.T @ p_opensim
            for cam_dir in sorted(p for p in trial.session_dir.glob("Cam*") if p.is_dir()):
                cam = read_opencap_calibration(trial.calibration_path(cam_dir.name), cam_dir.name)
                uv, scores = project_keypoints(pts_board, cam, rng, noise_px, dropout)
                Keypoints2D(
                    uv[:, None].astype(np.float32), scores[:, None].astype(np.float32),
                    ref.fps, keypoint_set, cam.image_size,
                ).save(store_path(store, trial.subject, trial.session, trial.name, cam.name))  # fmt: skip
    log.info("wrote %s keypoints of %d trials to %s", keypoint_set, len(trials), store)
    return store
