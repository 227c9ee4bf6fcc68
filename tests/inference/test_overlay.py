"""Overlays: left/right colours, score threshold and score colours, labels, H.264 output that
decodes back (PyAV), the mp4v fallback, and the diagnostic reprojection of 3D markers checked
against the synthetic dataset's own 2D keypoints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from opencapbench.inference.overlay import (
    LEFT,
    MID,
    RIGHT,
    OverlayStyle,
    OverlayWriter,
    draw_pose,
    keypoint_sides,
    markers_at_frames,
    reproject_markers,
    write_reprojection_video,
)
from opencapbench.keypoints import get_keypoint_set

av = pytest.importorskip("av")

KPS = get_keypoint_set("synthpose52")
W, H = 320, 240


def _person(points: dict[str, tuple[float, float]], score: float = 1.0):
    kp = np.full((1, KPS.num_keypoints, 2), np.nan, np.float32)
    sc = np.zeros((1, KPS.num_keypoints), np.float32)
    for name, xy in points.items():
        kp[0, KPS.index(name)] = xy
        sc[0, KPS.index(name)] = score
    return kp, sc, np.full((1, 5), np.nan)


def _tinted(pixels: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """Which pixels are a (possibly anti-aliased, darker) shade of ``color``."""
    px = pixels.reshape(-1, 3).astype(float)
    c = np.asarray(color, float)
    cos = px @ c / (np.linalg.norm(px, axis=1) * np.linalg.norm(c) + 1e-9)
    return (cos > 0.995) & (np.linalg.norm(px, axis=1) > 0.5 * np.linalg.norm(c))


def _decode(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        return stream.codec_context.name, frames


def test_sides_follow_the_flip_pairs_and_names() -> None:
    sides = keypoint_sides(KPS)
    expected = {"left_shoulder": 1, "right_knee": -1, "lshoulder": 1, "rshoulder": -1,
                "l_calc": 1, "r_mwrist": -1, "nose": 0, "sternum": 0, "C7": 0}  # fmt: skip
    assert {n: int(sides[KPS.index(n)]) for n in expected} == expected
    # every left/right pair gets opposite sides
    assert all(sides[i] == -sides[j] != 0 for i, j in KPS.flip_pairs)


def test_h264_overlay_decodes_with_left_and_right_colours(tmp_path: Path) -> None:
    kp, sc, boxes = _person({"left_shoulder": (80, 60), "right_shoulder": (240, 60),
                             "nose": (160, 180)})  # fmt: skip
    path = tmp_path / "walk.overlay.mp4"
    with OverlayWriter(path, KPS, 30.0, (W, H)) as sink:
        for i in range(7):
            sink(i, np.zeros((H, W, 3), np.uint8), kp, sc, boxes)
    codec, frames = _decode(path)
    assert codec == "h264"
    assert len(frames) == 7
    for frame in (frames[0], frames[-1]):
        for name, color in (("left_shoulder", LEFT), ("right_shoulder", RIGHT), ("nose", MID)):
            x, y = kp[0, KPS.index(name)].astype(int)
            got = frame[y, x].astype(int)
            # lossy yuv420p: within 40 of the drawn colour, and nearest to it of the three
            assert np.abs(got - color).max() < 40, (name, got, color)
            nearest = min((LEFT, RIGHT, MID), key=lambda c: np.abs(got - c).sum())
            assert nearest == color, (name, got)


def test_odd_sized_frames_are_padded_not_refused(tmp_path: Path) -> None:
    kp, sc, boxes = _person({"left_knee": (10, 10)})
    path = tmp_path / "odd.mp4"
    with OverlayWriter(path, KPS, 25.0, (101, 75)) as sink:
        for i in range(3):
            sink(i, np.zeros((75, 101, 3), np.uint8), kp, sc, boxes)
    codec, frames = _decode(path)
    assert codec == "h264" and len(frames) == 3
    assert frames[0].shape == (76, 102, 3)  # one black row and column, coordinates unchanged
    assert np.abs(frames[0][10, 10].astype(int) - LEFT).max() < 40


def test_without_pyav_the_writer_falls_back_to_mp4v_with_a_warning(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    import opencapbench.inference.video_writer as vw

    monkeypatch.setattr(vw, "h264_available", lambda: False)
    kp, sc, boxes = _person({"right_hip": (100, 100)})
    path = tmp_path / "fallback.mp4"
    with caplog.at_level(logging.WARNING), OverlayWriter(path, KPS, 30.0, (W, H)) as sink:
        for i in range(4):
            sink(i, np.zeros((H, W, 3), np.uint8), kp, sc, boxes)
    assert "pip install av" in caplog.text
    codec, frames = _decode(path)
    assert codec == "mpeg4" and len(frames) == 4


def test_threshold_hides_or_draws_hollow_and_score_colours() -> None:
    blank = np.zeros((H, W, 3), np.uint8)
    kp, sc, boxes = _person({"left_hip": (100, 100)}, score=0.2)
    hidden = draw_pose(blank, kp, sc, boxes, KPS, style=OverlayStyle(kpt_thr=0.3))
    assert hidden.sum() == 0
    hollow = draw_pose(blank, kp, sc, boxes, KPS, style=OverlayStyle(kpt_thr=0.3, below="hollow"))
    assert tuple(hollow[100, 100]) == (0, 0, 0)  # empty centre
    assert _tinted(hollow[97, 100], LEFT).all()  # the ring, in the side colour
    # coloured by score: 1 → green fill, 0 → red fill; the outline keeps the side colour
    by_score = OverlayStyle(kpt_thr=0.0, color_by="score")
    kp1, sc1, _ = _person({"right_hip": (100, 100)}, score=1.0)
    assert tuple(draw_pose(blank, kp1, sc1, boxes, KPS, style=by_score)[100, 100]) == (0, 255, 0)
    sc0 = np.where(sc1 > 0, 0.0, sc1)
    zero = draw_pose(blank, kp1, sc0, boxes, KPS, style=by_score)
    assert tuple(zero[100, 100]) == (0, 0, 255)
    assert _tinted(zero[97, 100], RIGHT).all()


def test_labels_write_the_names() -> None:
    blank = np.zeros((H, W, 3), np.uint8)
    kp, sc, boxes = _person({"r_knee": (60, 120)})
    plain = draw_pose(blank, kp, sc, boxes, KPS)
    labelled = draw_pose(blank, kp, sc, boxes, KPS, style=OverlayStyle(labels=True))
    # the text sits up and right of the marker, where the plain drawing is empty
    assert plain[100:117, 64:120].sum() == 0
    assert _tinted(labelled[100:117, 64:120], RIGHT).sum() > 20


# ---------------------------------------------------------------------- diagnostic overlay


def test_markers_at_frames_interpolates_a_linear_motion_exactly() -> None:
    times = np.arange(0.1, 0.9, 0.01)  # 100 Hz TRC starting at 0.1 s
    velocity = np.array([1.0, -2.0, 0.5])
    positions = (times[:, None] * velocity)[:, None, :].repeat(2, axis=1)  # (T, 2, 3)
    out = markers_at_frames(times, positions, n_frames=60, fps=60.0)
    t = np.arange(60) / 60.0
    inside = (t >= 0.1 - 1e-9) & (t <= times[-1] + 1e-9)
    np.testing.assert_allclose(out[inside, 0], t[inside, None] * velocity, atol=1e-12)
    assert np.isnan(out[~inside]).all()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from opencapbench.synthetic import generate_synthetic_dataset

    root = tmp_path_factory.mktemp("synthetic")
    return generate_synthetic_dataset(root, trials=("walking1",), n_cameras=3, duration_s=0.25,
                                      progress=False)  # fmt: skip


def test_reprojected_trc_matches_the_synthetic_keypoints(synthetic) -> None:
    from opencapbench.geometry.frames import placement_rotation
    from opencapbench.io.calibration import read_opencap_calibration
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.session import read_session_metadata
    from opencapbench.io.trc import read_trc
    from opencapbench.synthetic.writer import SESSION

    info = synthetic
    tmp_path = info.root
    subject = tmp_path / "subject1"
    trc = read_trc(subject / "OpenSimData" / "Mocap" / "MarkerData" / "walking1.trc")
    meta = read_session_metadata(subject / "sessionMetadata.yaml")
    rotation = placement_rotation(meta.placement, meta.upside_down)
    compared = 0
    for cam_name in info.cameras:
        calib = subject / "VideoData" / SESSION / cam_name / "cameraIntrinsicsExtrinsics.pickle"
        camera = read_opencap_calibration(calib, name=cam_name)
        kp = Keypoints2D.load(
            store_path(info.keypoint_store, "subject1", SESSION, "walking1", cam_name)
        )
        at_frames = markers_at_frames(trc.times, trc.positions, len(kp.keypoints), kp.fps)
        uv = reproject_markers(at_frames, camera, rotation)
        seen = kp.scores[:, 0] > 0
        assert seen.mean() > 0.8
        err = np.linalg.norm(uv[seen] - kp.keypoints[:, 0][seen], axis=-1)
        assert err.max() < 0.5, (cam_name, float(err.max()))
        compared += int(seen.sum())
    assert compared > 1000


def test_reprojection_video_draws_markers_on_blank_frames(tmp_path: Path) -> None:
    reprojected = np.full((5, KPS.num_keypoints, 2), np.nan)
    reprojected[:, KPS.index("l_knee")] = (120, 80)
    detected = reprojected + (10, 0)
    path = write_reprojection_video(
        tmp_path / "Cam1.reprojection.mp4", reprojected, 60.0, (W, H), detected=detected, kps=KPS
    )
    codec, frames = _decode(path)
    assert codec == "h264" and len(frames) == 5
    assert np.abs(frames[2][78, 118].astype(int) - LEFT).max() < 40  # a left marker: blue
    assert frames[2][80, 127, 2] > 150  # the red error line towards the detection
    assert frames[2][80, 130].min() > 150  # the detection: a white dot


def test_overlay_markers_of_a_benchmark_trial(synthetic, tmp_path: Path) -> None:
    from opencapbench.benchmark.config import BenchmarkConfig
    from opencapbench.benchmark.reprojection_cli import overlay_markers
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.trc import read_trc, write_trc
    from opencapbench.synthetic.writer import SESSION

    out = tmp_path / "run"
    cfg = BenchmarkConfig(data_dir=synthetic.root, out_dir=out,
                          keypoint_store=synthetic.keypoint_store)  # fmt: skip
    (out / "results").mkdir(parents=True)
    (out / "results" / "config.toml").write_text(cfg.to_toml())
    runner = CliRunner()
    missing = runner.invoke(overlay_markers, [str(out), "subject1/walking1"])
    assert missing.exit_code == 1 and "walking1.trc does not exist" in str(missing.exception)
    # the run's TRC: here the mocap markers, trimmed as a benchmark TRC may be (from 0.05 s)
    gt = read_trc(synthetic.root / "subject1" / "OpenSimData" / "Mocap" / "MarkerData" /
                  "walking1.trc")  # fmt: skip
    keep = gt.times >= 0.05 - 1e-9
    write_trc(out / "trc" / "subject1" / "walking1.trc", gt.times[keep], gt.marker_names,
              gt.positions[keep], gt.rate_hz)  # fmt: skip
    result = runner.invoke(overlay_markers, [str(out), "subject1/walking1"])
    assert result.exit_code == 0, result.output
    cam = synthetic.cameras[0]
    video = out / "overlays" / "subject1" / "walking1" / f"{cam}.reprojection.mp4"
    assert str(video) in result.output
    codec, frames = _decode(video)
    kp = Keypoints2D.load(store_path(synthetic.keypoint_store, "subject1", SESSION, "walking1",
                                     cam))  # fmt: skip
    assert codec == "h264" and len(frames) == len(kp.keypoints)
    # scale 2 at 720 x 1280: discs of radius 6 px, detection dots of radius 2 px
    for name, color in (("r_knee", RIGHT), ("l_ankle", LEFT), ("sternum", (0, 255, 255))):
        x, y = kp.keypoints[10, 0, KPS.index(name)].round().astype(int)
        assert frames[10][y, x].min() > 200, name  # the detection, white, on its marker
        assert np.abs(frames[10][y, x + 4].astype(int) - color).max() < 40, name  # the disc
    # before the TRC starts only the 2D keypoints are drawn: white dots, no disc
    x0, y0 = kp.keypoints[0, 0, KPS.index("r_knee")].round().astype(int)
    assert frames[0][y0, x0].min() > 150
    assert frames[0][y0, x0 + 4].max() < 40


def test_overlay_markers_names_a_bad_trial(tmp_path: Path) -> None:
    from opencapbench.benchmark.errors import BenchmarkInputError
    from opencapbench.benchmark.reprojection import write_trial_reprojection

    with pytest.raises(BenchmarkInputError, match="SUBJECT/TRIAL"):
        write_trial_reprojection(tmp_path, "walking1")
