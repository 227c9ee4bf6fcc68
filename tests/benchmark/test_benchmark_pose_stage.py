"""`ocb benchmark --model`: videos → detection + pose → keypoint store, cached across runs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from opencapbench.cli import main
from opencapbench.inference.testing import make_tiny_rtdetr, write_synthetic_video
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.synthetic import generate_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
N_FRAMES = 6


def test_benchmark_runs_pose_on_videos_and_reuses_the_store(tmp_path: Path) -> None:
    root = tmp_path / "data"
    info = generate_synthetic_dataset(
        root, trials=("walking1",), n_cameras=2, duration_s=0.2, progress=False
    )
    for cam in info.cameras:
        write_synthetic_video(
            root / "subject1/VideoData/Session0" / cam / "walking1" / "walking1.mp4", N_FRAMES
        )
    detector = make_tiny_rtdetr(tmp_path / "detector")
    out = tmp_path / "out"
    args = ["benchmark", str(root), "-o", str(out), "--device", "cpu", "--detector", str(detector),
            "--model", str(REPO / "configs/pose/tiny_hrnet_test.py")]  # fmt: skip

    first = CliRunner().invoke(main, args)
    assert "pose 1/0" in first.output, first.output  # one trial: both videos processed
    files = [
        store_path(out / "keypoints", "subject1", "Session0", "walking1", c) for c in info.cameras
    ]
    stamps = []
    for path in files:
        kp = Keypoints2D.load(path)
        assert kp.num_frames == N_FRAMES
        assert kp.keypoint_set == "coco17" and kp.image_size == (160, 120)
        stamps.append(path.stat().st_mtime_ns)

    second = CliRunner().invoke(main, args)
    assert "pose 0/1" in second.output, second.output  # reused from the ledger
    assert [p.stat().st_mtime_ns for p in files] == stamps
