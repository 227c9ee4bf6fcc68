"""Scaling a generic model from a static trial (``opencapbench.osim.scale``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opencapbench.io.mot import read_mot
from opencapbench.io.session import read_session_metadata
from opencapbench.osim.ik import run_ik
from opencapbench.osim.scale import (
    StaticTrialError,
    find_still_window,
    prepare_generic_model,
    scale_model,
)
from opencapbench.synthetic import generate_synthetic_dataset

MAIN_SEGMENTS = ("pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l", "torso")


def test_still_window_is_found_where_nothing_moves() -> None:
    fps = 50.0
    t = np.arange(200) / fps
    pos = np.zeros((200, 3, 3))
    pos[:, 0, 1] = 0.5 * t  # one marker slides along the others at 0.5 m/s ...
    pos[120:180, 0, 1] = pos[120, 0, 1]  # ... except for 1.2 s
    drift = np.array([1.0, 0.0, 0.0]) * t[:, None, None]  # moving as a whole is fine
    start, stop = find_still_window(pos + drift, fps)
    assert stop - start == 50 and 120 <= start and stop <= 180  # the longest window, 1 s
    pos[:, 0, 1] = 0.5 * t
    assert find_still_window(pos, fps) is None  # never still
    pos[100:106, 0, 1] = pos[100, 0, 1]
    assert find_still_window(pos, fps) == (100, 105)  # 0.1 s is enough
    # 1 Hz sway of ±2.67 mm about the centroid (2/3 of the marker's 4 mm): 1 s spans 5.3 mm,
    # so the window shrinks before the 3 mm limit is relaxed; at best (centred on a peak)
    # 25 frames (0.48 s) span 2.67 mm * (1 - cos(0.48 pi)) = 2.5 mm, 30 frames 3.3 mm
    pos[:, 0, 1] = 0.004 * np.sin(2 * np.pi * t)
    start, stop = find_still_window(pos, fps)
    assert stop - start == 25


def _larger_subject(root: Path, model_path=None):
    return generate_synthetic_dataset(
        root,
        trials=("static1", "walking1"),
        n_cameras=2,
        duration_s=1.0,
        seed=4,
        length_scale=1.1,
        model_path=model_path,
        progress=False,
    )


def _check_scaling(root: Path, generic: Path) -> None:
    subject = root / "subject1"
    markers = subject / "OpenSimData" / "Mocap" / "MarkerData"
    meta = read_session_metadata(subject / "sessionMetadata.yaml")
    result = scale_model(
        generic,
        markers / "static1.trc",
        root / "out" / "subject1.osim",
        meta.mass_kg,
        meta.height_m,
        name="subject1",
    )
    for body in MAIN_SEGMENTS:
        np.testing.assert_allclose(result.factors[body], 1.1, rtol=0.03, err_msg=body)
    assert result.info()["scale_factors"]["pelvis"] == pytest.approx([1.1] * 3, rel=0.03)
    run_ik(result.model_path, markers / "walking1.trc", root / "out" / "walking1.mot", unclamp=True)
    pred = read_mot(root / "out" / "walking1.mot")
    gt = read_mot(subject / "OpenSimData" / "Mocap" / "IK" / "walking1.mot")
    gt = gt.reindex(pred.index, method="nearest", tolerance=1e-6).dropna()
    dofs = [c for c in gt.columns if c in pred.columns and not c.startswith("pelvis_t")]
    assert len(dofs) >= 29
    worst = (pred.loc[gt.index, dofs] - gt[dofs]).abs().max()
    assert worst.max() < 2.0, worst.sort_values().tail()


def test_scales_the_builtin_model_to_a_larger_subject(tmp_path) -> None:
    _larger_subject(tmp_path)
    generic = prepare_generic_model(tmp_path / "generic.osim")
    _check_scaling(tmp_path, generic)


def test_scales_laiuhlrich2022_to_a_larger_subject(shared_dir, tmp_path) -> None:
    lai = shared_dir / "reference" / "opensim" / "LaiUhlrich2022.osim"
    _larger_subject(tmp_path, lai)
    generic = prepare_generic_model(tmp_path / "generic.osim", lai)
    _check_scaling(tmp_path, generic)


def test_missing_or_moving_static_trial_is_a_named_error(tmp_path) -> None:
    info = generate_synthetic_dataset(
        tmp_path, trials=("walking1",), n_cameras=2, duration_s=1.0, seed=1, progress=False
    )
    generic = prepare_generic_model(tmp_path / "generic.osim")
    markers = tmp_path / "subject1" / "OpenSimData" / "Mocap" / "MarkerData"
    with pytest.raises(StaticTrialError, match="subject1: static trial markers .* missing"):
        scale_model(generic, markers / "static1.trc", tmp_path / "s.osim", 70, 1.7, "subject1")
    with pytest.raises(StaticTrialError, match="subject1: in .*walking1.trc the subject never"):
        scale_model(generic, markers / "walking1.trc", tmp_path / "s.osim", 70, 1.7, "subject1")
    assert not (tmp_path / "s.osim").exists() and info.subjects == ["subject1"]
