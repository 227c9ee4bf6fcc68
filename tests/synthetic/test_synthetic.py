"""The synthetic OpenCap-layout dataset generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from opencapbench.geometry.frames import placement_rotation
from opencapbench.geometry.projection import project_points
from opencapbench.io.calibration import read_opencap_calibration
from opencapbench.io.keypoint_store import Keypoints2D
from opencapbench.io.mot import read_mot
from opencapbench.io.opencap_layout import discover_trials
from opencapbench.io.session import read_session_metadata
from opencapbench.io.trc import read_trc
from opencapbench.keypoints import get_keypoint_set
from opencapbench.osim.kinematics import station_trajectories
from opencapbench.osim.logs import load_model
from opencapbench.synthetic import generate_synthetic_dataset
from opencapbench.synthetic.motions import MOTIONS, motion_for_trial
from opencapbench.synthetic.rig import IPHONE13_3_K
from opencapbench.synthetic.writer import anthropometry_from_model

TRIALS = ("walking1", "squats1", "STS1")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    info = generate_synthetic_dataset(
        root, n_cameras=3, duration_s=0.5, fps=60, seed=5, progress=False
    )
    return root, info


def test_writes_the_labvalidation_layout(dataset) -> None:
    root, info = dataset
    assert info.subjects == ["subject1"] and info.cameras == ("Cam1", "Cam2", "Cam3")
    subject = root / "subject1"
    meta = read_session_metadata(subject / "sessionMetadata.yaml")
    assert meta.placement == info.placement
    assert set(meta.iphone_models) == {"Cam1", "Cam2", "Cam3"}
    assert 1.6 <= meta.height_m <= 1.9
    models = list((subject / "OpenSimData" / "Mocap" / "Model").glob("*.osim"))
    assert models == [info.models["subject1"]]
    assert load_model(models[0]).getNumMarkers() == 33
    for cam in info.cameras:
        cam_dir = subject / "VideoData" / "Session0" / cam
        assert (cam_dir / "cameraIntrinsicsExtrinsics.pickle").is_file()
        for trial in TRIALS:
            assert (cam_dir / trial).is_dir() and not any((cam_dir / trial).iterdir())
            kp = Keypoints2D.load(
                root / "keypoints" / "subject1" / "Session0" / trial / f"{cam}.npz"
            )
            assert kp.keypoints.shape == (30, 1, 52, 2)
            assert kp.keypoint_set == "synthpose52" and tuple(kp.image_size) == (720, 1280)
            assert np.all((kp.scores > 0.8) & (kp.scores < 1.0))  # noise-free: all seen
    found = discover_trials(root, keypoint_store=root / "keypoints")
    assert sorted(t.name for t in found) == sorted(TRIALS)
    assert all(t.gt_mot is not None for t in found)


def test_ground_truth_equals_the_motion_functions(dataset) -> None:
    root, info = dataset
    body = anthropometry_from_model(load_model(info.models["subject1"]))
    for trial in TRIALS:
        gt = read_mot(root / "subject1" / "OpenSimData" / "Mocap" / "IK" / f"{trial}.mot")
        t = gt.index.to_numpy()
        np.testing.assert_allclose(t, np.arange(50) / 100.0, atol=1e-9)  # 100 Hz
        expected = motion_for_trial(trial)(t, body)
        assert set(gt.columns) == set(expected)
        for name, values in expected.items():
            np.testing.assert_allclose(gt[name].to_numpy(), values, atol=1e-7, err_msg=name)


def test_reprojected_3d_reproduces_the_stored_2d(dataset) -> None:
    root, info = dataset
    R = placement_rotation(info.placement)
    subject = root / "subject1"
    for trial in TRIALS:
        trc = read_trc(subject / "OpenSimData" / "Mocap" / "MarkerData" / f"{trial}.trc")
        assert trc.marker_names == list(get_keypoint_set("synthpose52").names)
        board = trc.positions @ R  # OpenSim frame -> checkerboard world
        for cam_name in info.cameras:
            cam = read_opencap_calibration(
                subject / "VideoData" / "Session0" / cam_name / "cameraIntrinsicsExtrinsics.pickle"
            )
            np.testing.assert_allclose(cam.K, IPHONE13_3_K)
            kp = Keypoints2D.load(
                root / "keypoints" / "subject1" / "Session0" / trial / f"{cam_name}.npz"
            )
            # float32 storage: 1280 px carries ~1e-4 px resolution
            np.testing.assert_allclose(project_points(board, cam), kp.keypoints[:, 0], atol=1e-3)
            assert 3.0 < np.linalg.norm(cam.center) < 4.0


def test_noise_and_dropout(tmp_path) -> None:
    clean = generate_synthetic_dataset(
        tmp_path / "a", trials=("walking1",), n_cameras=2, duration_s=0.5, seed=7, progress=False
    )
    noisy = generate_synthetic_dataset(
        tmp_path / "b",
        trials=("walking1",),
        n_cameras=2,
        duration_s=0.5,
        seed=7,
        noise_px=2.0,
        dropout=0.2,
        progress=False,
    )
    for cam in clean.cameras:
        rel = Path("subject1") / "Session0" / "walking1" / f"{cam}.npz"
        a = Keypoints2D.load(clean.keypoint_store / rel)
        b = Keypoints2D.load(noisy.keypoint_store / rel)
        missing = b.scores == 0
        assert 0.15 < missing.mean() < 0.25
        assert np.all(np.isnan(b.keypoints[missing]))
        diff = (b.keypoints - a.keypoints)[~missing]
        assert 1.7 < diff.std() < 2.3 and abs(diff.mean()) < 0.2


@pytest.mark.parametrize("motion", ["squat", "sit-to-stand"])
def test_planted_feet(dataset, motion) -> None:
    """Squat and sit-to-stand keep the ankle centres' forward/vertical position (the planted
    sagittal leg chain); hip ab/adduction and rotation may move them sideways a little."""
    _, info = dataset
    model = load_model(info.models["subject1"])
    body = anthropometry_from_model(model)
    t = np.linspace(0.0, 2.0, 21)
    q = MOTIONS[motion](t, body)
    ankles = station_trajectories(model, q, [("talus_r", (0, 0, 0)), ("talus_l", (0, 0, 0))])
    sagittal_drift = np.linalg.norm((ankles - ankles[:1])[..., :2], axis=-1).max()
    assert sagittal_drift < 0.02
    assert np.abs(ankles - ankles[:1])[..., 2].max() < 0.1
    assert np.ptp(q["pelvis_ty"]) > 0.2  # but the pelvis does go down


def test_drives_laiuhlrich2022_scaled_to_the_subject(shared_dir, tmp_path) -> None:
    from opencapbench.osim.markers import body_scale_factors, load_synthpose_markers

    info = generate_synthetic_dataset(
        tmp_path,
        trials=("squats1",),
        n_cameras=2,
        duration_s=0.2,
        seed=3,
        model_path=shared_dir / "reference" / "opensim" / "LaiUhlrich2022.osim",
        progress=False,
    )
    meta = read_session_metadata(tmp_path / "subject1" / "sessionMetadata.yaml")
    model = load_model(info.models["subject1"])
    model.initSystem()
    s = body_scale_factors(model)["tibia_l"]
    np.testing.assert_allclose(s, meta.height_m / 1.70, rtol=1e-3)
    assert model.getNumMarkers() == 33 and model.getNumCoordinates() == 35
    generic = load_synthpose_markers()["l_mankle"].location
    loc = model.getMarkerSet().get("l_mankle").get_location().to_numpy()
    np.testing.assert_allclose(loc, np.array(generic) * s, atol=1e-9)
    gt = read_mot(tmp_path / "subject1" / "OpenSimData" / "Mocap" / "IK" / "squats1.mot")
    assert gt["pelvis_ty"].iloc[0] == pytest.approx(0.93 * s[0], abs=0.02)  # standing start


def test_offsets_missing_frames_static_trial_and_size(tmp_path) -> None:
    """Camera offsets and missing last frames are recorded and real; ``static1`` stands still;
    ``length_scale`` makes the subject that much larger than the generic model."""
    from opencapbench.osim.markers import body_scale_factors
    from opencapbench.synthetic.writer import TRUTH_FILE

    info = generate_synthetic_dataset(
        tmp_path,
        trials=("static1", "walking1"),
        n_cameras=3,
        duration_s=0.5,
        seed=2,
        max_offset_frames=6,
        max_missing_frames=4,
        length_scale=1.1,
        progress=False,
    )
    subject = tmp_path / "subject1"
    truth = json.loads((subject / TRUTH_FILE).read_text())
    assert truth == info.truth["subject1"]
    assert truth["length_scale"] == 1.1
    meta = read_session_metadata(subject / "sessionMetadata.yaml")
    assert meta.height_m == pytest.approx(1.87, abs=1e-3)
    model = load_model(info.models["subject1"])
    model.initSystem()
    for body, f in body_scale_factors(model).items():
        np.testing.assert_allclose(f, 1.1, rtol=1e-9, err_msg=body)

    R = placement_rotation(info.placement)
    offsets = truth["sync_offsets_frames"]["walking1"]
    assert set(offsets) == set(info.cameras)
    assert all(-6 <= o <= 6 for o in offsets.values()) and len(set(offsets.values())) > 1
    trc = read_trc(subject / "OpenSimData" / "Mocap" / "MarkerData" / "walking1.trc")
    for cam_name in info.cameras:
        cam = read_opencap_calibration(
            subject / "VideoData" / "Session0" / cam_name / "cameraIntrinsicsExtrinsics.pickle"
        )
        kp = Keypoints2D.load(
            tmp_path / "keypoints" / "subject1" / "Session0" / "walking1" / f"{cam_name}.npz"
        )
        n = truth["n_frames"]["walking1"][cam_name]
        assert 26 <= n <= 30 and kp.keypoints.shape[0] == n
        # camera frame i shows true frame i - offset (where the true timeline has it)
        d = offsets[cam_name]
        i = np.arange(max(d, 0), min(n, 30 + d))
        expected = project_points(trc.positions[i - d] @ R, cam)
        np.testing.assert_allclose(kp.keypoints[i, 0], expected, atol=1e-3)
        static = Keypoints2D.load(
            tmp_path / "keypoints" / "subject1" / "Session0" / "static1" / f"{cam_name}.npz"
        )
        assert np.ptp(static.keypoints[:, 0], axis=0).max() < 1e-3  # standing still


def test_make_synthetic_cli_options(tmp_path) -> None:
    from click.testing import CliRunner

    from opencapbench.benchmark.cli import make_synthetic
    from opencapbench.synthetic.writer import TRUTH_FILE

    args = [str(tmp_path), "--cameras", "2", "--duration", "0.3", "--static"]
    args += ["--max-offset-frames", "3", "--max-missing-frames", "2", "--length-scale", "1.05"]
    result = CliRunner().invoke(make_synthetic, args)
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "subject1" / TRUTH_FILE).read_text())
    assert truth["length_scale"] == 1.05
    assert set(truth["sync_offsets_frames"]) == {"static1", "walking1", "squats1", "STS1"}
    offsets = [o for t in truth["sync_offsets_frames"].values() for o in t.values()]
    assert all(-3 <= o <= 3 for o in offsets)
    frames = [n for t in truth["n_frames"].values() for n in t.values()]
    assert all(16 <= n <= 18 for n in frames)
    bad = CliRunner().invoke(make_synthetic, [str(tmp_path / "x"), "--length-scale", "3"])
    assert bad.exit_code == 2 and "--length-scale" in bad.output
