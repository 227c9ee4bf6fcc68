"""The benchmark's pose stage: keypoint store layout, caching, per-video error isolation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from opencapbench.inference.detector import RTDetrPersonDetector
from opencapbench.inference.models import load_pose_model
from opencapbench.inference.pipeline import PipelineOptions
from opencapbench.inference.pose_stage import VideoJob, run_pose_stage
from opencapbench.inference.testing import make_tiny_rtdetr, torch_threads, write_synthetic_video
from opencapbench.io.keypoint_store import Keypoints2D, store_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory):
    detector = RTDetrPersonDetector(
        make_tiny_rtdetr(tmp_path_factory.mktemp("det")), score_threshold=0.0
    )
    pose = load_pose_model(
        REPO / "configs" / "pose" / "tiny_hrnet_test.py", flip_test=True, batch_size=8
    )
    return pose, detector


def test_pose_stage_writes_caches_and_isolates_failures(tmp_path: Path, models) -> None:
    pose, detector = models
    data = tmp_path / "data"
    jobs = [
        VideoJob("subject2", "Session0", "walking1", "Cam0", write_synthetic_video(data / "c0.avi", 5, (128, 96), 60.0, "MJPG")),
        VideoJob("subject2", "Session0", "walking1", "Cam1", write_synthetic_video(data / "c1.mp4", 4, (96, 128), 60.0)),
        VideoJob("subject2", "Session0", "walking1", "Cam2", data / "corrupt.mov"),
    ]  # fmt: skip
    jobs[2].path.write_bytes(b"not a video at all")
    store = tmp_path / "keypoints"
    opts = PipelineOptions(det_interval=2, progress=False)

    report = run_pose_stage(jobs, store, pose, detector, options=opts, progress=False)
    files = [store_path(store, "subject2", "Session0", "walking1", c) for c in ("Cam0", "Cam1")]
    assert report.written == files and report.reused == []
    assert list(report.failed) == ["subject2/Session0/walking1/Cam2"]
    assert "VideoReadError" in report.failed["subject2/Session0/walking1/Cam2"]
    assert report.frames == 9 and not report.ok

    for path, frames, size in zip(files, (5, 4), ((128, 96), (96, 128)), strict=True):
        kp = Keypoints2D.load(path)
        assert kp.keypoints.shape == (frames, 1, 17, 2) and kp.keypoint_set == "coco17"
        assert kp.fps == pytest.approx(60.0) and kp.image_size == size
        assert np.isfinite(kp.bboxes[..., :4]).all()  # the subject slot is filled on every frame

    # second run: nothing to do but the broken video
    again = run_pose_stage(jobs, store, pose, detector, options=opts, progress=False)
    assert again.written == [] and again.reused == files and len(again.failed) == 1

    # a video newer than its store file is recomputed; force recomputes everything
    later = os.stat(files[1]).st_mtime + 10
    os.utime(jobs[1].path, (later, later))
    third = run_pose_stage(jobs[:2], store, pose, detector, options=opts, progress=False)
    assert third.written == [files[1]] and third.reused == [files[0]]
    forced = run_pose_stage(
        jobs[:2], store, pose, detector, options=opts, force=True, progress=False
    )
    assert forced.written == files


def test_lazy_models_load_once_across_trials_and_never_when_all_is_cached(
    tmp_path: Path, models
) -> None:
    from opencapbench.inference.models import LazyModels

    pose, detector = models
    data = tmp_path / "data"
    jobs = [
        VideoJob("s1", "Session0", trial, "Cam0", write_synthetic_video(data / f"{trial}.avi", 3, (96, 96), 30.0, "MJPG"))
        for trial in ("walking1", "STS1")
    ]  # fmt: skip
    store = tmp_path / "keypoints"
    opts = PipelineOptions(det_interval=2, progress=False)
    shared = LazyModels(REPO / "configs" / "pose" / "tiny_hrnet_test.py", detector)
    first = run_pose_stage([jobs[0]], store, shared, options=opts, progress=False)
    loaded = shared.pose
    second = run_pose_stage([jobs[1]], store, shared, options=opts, progress=False)
    assert first.ok and second.ok and len(first.written) == len(second.written) == 1
    assert shared.pose is loaded and shared.detector is detector
    # all cached: a model that cannot even be found is never loaded
    unusable = LazyModels("no-such-model", detector="no/such-detector")
    again = run_pose_stage(jobs, store, unusable, options=opts, progress=False)
    assert again.reused == first.written + second.written and again.ok
    assert "pose" not in vars(unusable) and "detector" not in vars(unusable)
