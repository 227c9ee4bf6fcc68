"""Bad input gets a named error for its own trial; every other trial still completes.
Re-running resumes without redoing finished work."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opencapbench.benchmark.runner import BenchmarkConfig, run_benchmark
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow

TRIALS = ("walking1", "squats1", "STS1")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    generate_synthetic_dataset(
        root, subjects=2, trials=TRIALS, n_cameras=4, duration_s=0.5, seed=7, progress=False
    )
    return root


@pytest.fixture
def dataset(pristine, tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    return root


def _run(root: Path, out: Path, **kwargs):
    cfg = BenchmarkConfig(data_dir=root, out_dir=out, keypoint_store=root / "keypoints", **kwargs)
    return run_benchmark(cfg)


def _failed(outcome) -> dict[str, str]:
    return {f"{r.subject}/{r.trial}": r.error for r in outcome.failures.itertuples()}


def _scored(outcome) -> set[str]:
    return set((outcome.per_trial["subject"] + "/" + outcome.per_trial["trial"]).unique())


def _kp_file(root: Path, subject: str, trial: str, cam: str) -> Path:
    return store_path(root / "keypoints", subject, "Session0", trial, cam)


def test_bad_inputs_fail_alone_with_named_errors(dataset, tmp_path) -> None:
    # subject1/walking1: corrupt keypoint file; subject1/squats1: no ground truth;
    # subject2: calibration of the wrong shape (all its trials)
    _kp_file(dataset, "subject1", "walking1", "Cam1").write_bytes(b"not an npz")
    (dataset / "subject1/OpenSimData/Mocap/IK/squats1.mot").unlink()
    calib = dataset / "subject2/VideoData/Session0/Cam2/cameraIntrinsicsExtrinsics.pickle"
    data = pickle.loads(calib.read_bytes())
    data["rotation"] = np.eye(3)[:2]
    calib.write_bytes(pickle.dumps(data))

    outcome = _run(dataset, tmp_path / "out", cameras="Cam0,Cam1,Cam2,Cam3")
    assert _failed(outcome) == {
        "subject1/walking1": "KeypointStoreError",
        "subject1/squats1": "MissingGroundTruthError",
        "subject2/walking1": "CalibrationError",
        "subject2/squats1": "CalibrationError",
        "subject2/STS1": "CalibrationError",
    }
    assert _scored(outcome) == {"subject1/STS1"}
    messages = " ".join(outcome.failures["message"])
    assert "Cam2" in messages and "walking1" in messages
    # the trial without ground truth was still triangulated and solved
    assert (tmp_path / "out/ik/subject1/squats1.mot").is_file()


def test_missing_camera_and_nan_keypoints(dataset, tmp_path) -> None:
    shutil.rmtree(dataset / "subject2/VideoData/Session0/Cam3")
    # NaN keypoints over a third of the frames of one camera, and a truncated camera
    path = _kp_file(dataset, "subject1", "STS1", "Cam0")
    kp = Keypoints2D.load(path)
    kp.keypoints[: kp.keypoints.shape[0] // 3] = np.nan
    kp.save(path)
    path = _kp_file(dataset, "subject1", "squats1", "Cam2")
    kp = Keypoints2D.load(path)
    Keypoints2D(kp.keypoints[:-5], kp.scores[:-5], kp.fps, kp.keypoint_set, kp.image_size).save(
        path
    )

    strict = _run(dataset, tmp_path / "strict", cameras="Cam0,Cam1,Cam2,Cam3")
    assert {k: v for k, v in _failed(strict).items() if k.startswith("subject2")} == {
        f"subject2/{t}": "MissingCameraError" for t in TRIALS
    }
    assert {k for k in _scored(strict)} == {f"subject1/{t}" for t in TRIALS}
    # the default ("all") uses the three cameras that remain
    lenient = _run(dataset, tmp_path / "lenient")
    assert lenient.failures.empty, lenient.failures.to_string()
    # what the lenient run did differently is recorded, per trial, in warnings.csv
    warned = lenient.warnings.assign(
        key=lenient.warnings["subject"] + "/" + lenient.warnings["trial"]
    )
    missing = warned[
        warned["message"].str.contains("Cam3") & warned["message"].str.contains("missing")
    ]
    assert set(missing["key"]) == {f"subject2/{t}" for t in TRIALS}
    cut = warned[warned["message"].str.contains("cut to the")]  # by the sync or markers stage
    assert set(cut["key"]) == {"subject1/squats1"}
    table = pd.read_csv(tmp_path / "lenient/results/warnings.csv")
    assert len(table) == len(lenient.warnings)
    assert len(_scored(lenient)) == 6
    rmse = lenient.per_trial.set_index(["subject", "trial", "dof"])["rmse"]
    assert rmse.max() < 4.0


def test_rerun_resumes_without_redoing_work(dataset, tmp_path) -> None:
    out = tmp_path / "out"
    first = _run(dataset, out, trials=("walking1",))
    mot = out / "ik/subject1/walking1.mot"
    stamp = mot.stat().st_mtime_ns
    second = _run(dataset, out, trials=("walking1", "STS1"))
    assert mot.stat().st_mtime_ns == stamp  # finished trial skipped
    assert _scored(second) == {f"subject{i}/{t}" for i in (1, 2) for t in ("walking1", "STS1")}
    a = first.per_trial.set_index(["subject", "trial", "dof"])["rmse"]
    b = second.per_trial.set_index(["subject", "trial", "dof"])["rmse"]
    assert np.allclose(a, b.loc[a.index])


def test_a_camera_with_bad_keypoints_is_excluded_and_reported(dataset, tmp_path) -> None:
    import json

    path = _kp_file(dataset, "subject1", "walking1", "Cam2")
    kp = Keypoints2D.load(path)
    knees = [kp.kpset.index("r_knee"), kp.kpset.index("l_ankle")]
    kp.keypoints[:, :, knees, 0] += 60.0  # a systematic 60 px error on two markers
    kp.save(path)
    outcome = _run(dataset, tmp_path / "out", trials=("walking1",))
    assert outcome.failures.empty
    status = json.loads((tmp_path / "out/status/subject1/walking1.json").read_text())["markers"][
        "info"
    ]
    per_cam = status["excluded_per_camera"]
    n_points = kp.num_frames * len(knees)
    assert per_cam["Cam2"] >= 0.9 * n_points
    assert sum(v for c, v in per_cam.items() if c != "Cam2") <= 0.02 * n_points
    assert set(status["most_excluded_keypoints"]) >= {"r_knee", "l_ankle"}
    rmse = outcome.per_trial.query("subject == 'subject1'").set_index("dof")["rmse"]
    assert rmse.max() < 4.0


def test_changed_settings_or_inputs_redo_the_trial(dataset, tmp_path) -> None:
    from opencapbench.benchmark.markers3d import MarkerSettings

    out = tmp_path / "out"
    trc = out / "trc/subject1/walking1.trc"
    mot = out / "ik/subject1/walking1.mot"
    _run(dataset, out, trials=("walking1",))
    stamps = trc.stat().st_mtime_ns, mot.stat().st_mtime_ns
    _run(dataset, out, trials=("walking1",), markers=MarkerSettings(filter_hz=6.0))
    changed = trc.stat().st_mtime_ns, mot.stat().st_mtime_ns
    assert changed[0] > stamps[0] and changed[1] > stamps[1]  # new cutoff: redone
    path = _kp_file(dataset, "subject1", "walking1", "Cam0")
    Keypoints2D.load(path).save(path)  # same data, new file: inputs changed
    _run(dataset, out, trials=("walking1",), markers=MarkerSettings(filter_hz=6.0))
    assert trc.stat().st_mtime_ns > changed[0]


def _edit_gt(root: Path, subject: str, trial: str, edit) -> None:
    from opencapbench.io.mot import read_mot, write_mot

    path = root / subject / "OpenSimData/Mocap/IK" / f"{trial}.mot"
    df = edit(read_mot(path))
    write_mot(path, df.index.to_numpy(), list(df.columns), df.to_numpy(), in_degrees=True)


def test_bad_ground_truth_is_named_and_coverage_recorded(dataset, tmp_path) -> None:
    _edit_gt(
        dataset, "subject1", "walking1", lambda df: df.rename(columns={"knee_angle_l": "knee_l"})
    )
    _edit_gt(dataset, "subject1", "squats1", lambda df: df.drop(columns=["hip_flexion_r"]))
    for cam in ("Cam0", "Cam1", "Cam2", "Cam3"):  # video of only the first 40 % of the mocap
        path = _kp_file(dataset, "subject2", "walking1", cam)
        kp = Keypoints2D.load(path)
        n = int(0.4 * kp.num_frames)
        Keypoints2D(kp.keypoints[:n], kp.scores[:n], kp.fps, kp.keypoint_set, kp.image_size).save(
            path
        )
    truncated = dataset / "subject1/OpenSimData/Mocap/IK/STS1.mot"
    lines = truncated.read_text().splitlines()
    truncated.write_text("\n".join(lines[: len(lines) - 10]) + "\n")  # nRows now too large

    outcome = _run(dataset, tmp_path / "out", trials=("walking1", "squats1", "STS1"))
    failed = _failed(outcome)
    assert failed["subject1/walking1"] == "GroundTruthError"
    assert failed["subject1/squats1"] == "GroundTruthError"
    assert failed["subject1/STS1"] == "MotFileError"
    messages = " ".join(outcome.failures["message"])
    assert "knee_angle_l" in messages and "hip_flexion_r" in messages and "nRows" in messages
    part = outcome.per_trial.query("subject == 'subject2' and trial == 'walking1'")
    assert part["coverage"].iloc[0] == pytest.approx(0.4, abs=0.05)
    full = outcome.per_trial.query("subject == 'subject2' and trial == 'STS1'")
    assert full["coverage"].iloc[0] > 0.95
    warned = outcome.warnings.query("subject == 'subject2' and trial == 'walking1'")
    assert warned["message"].str.contains("ground-truth frames").any()
    assert (tmp_path / "out/results/warnings.csv").is_file()


def test_corrupt_ledger_redoes_its_trial_with_a_warning(dataset, tmp_path) -> None:
    out = tmp_path / "out"
    _run(dataset, out, trials=("walking1",))
    mots = {s: (out / f"ik/{s}/walking1.mot").stat().st_mtime_ns for s in ("subject1", "subject2")}
    ledger = out / "status/subject1/walking1.json"
    ledger.write_text('{"markers": {"state": "do')
    again = _run(dataset, out, trials=("walking1",))
    assert again.failures.empty
    assert _scored(again) == {"subject1/walking1", "subject2/walking1"}
    assert ledger.with_name("walking1.json.corrupt").is_file()
    assert (out / "ik/subject1/walking1.mot").stat().st_mtime_ns > mots["subject1"]
    assert (out / "ik/subject2/walking1.mot").stat().st_mtime_ns == mots["subject2"]


def test_trials_in_another_session_use_its_own_calibration(dataset, tmp_path) -> None:
    # walking1 of subject1 moves to Session1, whose Cam0 and Cam1 are swapped: read with
    # Session0's calibration it would be triangulated from mismatched cameras
    s0 = dataset / "subject1/VideoData/Session0"
    s1 = dataset / "subject1/VideoData/Session1"
    swap = {"Cam0": "Cam1", "Cam1": "Cam0", "Cam2": "Cam2", "Cam3": "Cam3"}
    for new, old in swap.items():
        (s1 / new / "walking1").mkdir(parents=True)
        shutil.copy(s0 / old / "cameraIntrinsicsExtrinsics.pickle", s1 / new)
        shutil.rmtree(s0 / old / "walking1")
        src = _kp_file(dataset, "subject1", "walking1", old)
        dst = store_path(dataset / "keypoints", "subject1", "Session1", "walking1", new)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    for old in swap:
        _kp_file(dataset, "subject1", "walking1", old).unlink()

    outcome = _run(dataset, tmp_path / "out", subjects=("subject1",))
    assert outcome.failures.empty, outcome.failures.to_string()
    sessions = outcome.per_trial.groupby("trial")["session"].first().to_dict()
    assert sessions == {"walking1": "Session1", "squats1": "Session0", "STS1": "Session0"}
    walking = outcome.per_trial.query("trial == 'walking1'")
    assert walking["rmse"].max() < 4.0
