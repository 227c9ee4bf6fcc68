"""The pose stage of ``ocb benchmark``: every camera video of every trial → keypoint store.

Each video becomes ``<store>/<subject>/<session>/<trial>/<camera>.npz`` (``Keypoints2D``,
one person slot: the subject, largest then tracked).  A store file newer than its video is
reused (the stage is resumable); a video that fails is recorded in the report and the other
videos are still processed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from opencapbench.inference.catalog import ModelEntry
from opencapbench.inference.detector import PersonDetector
from opencapbench.inference.errors import (
    ModelIntegrityError,
    ModelNotAvailableError,
    UnknownModelError,
)
from opencapbench.inference.models import LazyModels, PoseEstimator
from opencapbench.inference.pipeline import PipelineOptions, run_pose
from opencapbench.inference.video import VideoSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoJob:
    """One camera video of one trial."""

    subject: str
    session: str
    trial: str
    camera: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.session}/{self.trial}/{self.camera}"


@dataclass
class PoseStageReport:
    """What :func:`run_pose_stage` did.

    Attributes:
        written: store files computed in this run.
        reused: store files newer than their video, left as they were.
        failed: job key (``subject/session/trial/camera``) → error message.
        frames: frames processed in this run; elapsed_s: wall time, s.
    """

    written: list[Path] = field(default_factory=list)
    reused: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


def is_cached(store_file: Path, video: Path) -> bool:
    """True when ``store_file`` exists, is newer than ``video`` and loads as a valid store."""
    from opencapbench.io.keypoint_store import Keypoints2D, KeypointStoreError

    if not store_file.is_file() or not video.is_file():
        return False
    if os.stat(store_file).st_mtime < os.stat(video).st_mtime:
        return False
    try:
        Keypoints2D.load(store_file)
    except KeypointStoreError:
        return False
    return True


def run_pose_stage(
    videos: list[VideoJob],
    store_root: str | os.PathLike,
    model: PoseEstimator | str | os.PathLike | ModelEntry | LazyModels,
    detector: PersonDetector | str | None = None,
    options: PipelineOptions | None = None,
    device: str = "cpu",
    amp: str | None = None,
    det_threshold: float = 0.5,
    force: bool = False,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
) -> PoseStageReport:
    """Run detection + pose on ``videos`` and write the keypoint store under ``store_root``.

    Args:
        videos: the camera videos (see :class:`VideoJob`).
        store_root: keypoint store folder (``<out>/keypoints``).
        model: a loaded pose model, or a name/config/entry for :func:`load_pose_model`
            (loaded only if some video needs computing), or a :class:`LazyModels` shared by
            several calls (e.g. one per trial; ``detector`` and the loading options are then
            its own).
        detector: a detector, an RT-DETR repo id / folder, or None for the default RT-DETR.
        options: pipeline settings (default: detection every 4 frames, one subject).
        device, amp, checkpoint: for models given by name (see :class:`LazyModels`).
        det_threshold: detector score threshold (detector given by name).
        force: recompute even when a store file is newer than its video.
        progress: progress bars (videos, and frames per video).

    Returns:
        A :class:`PoseStageReport`; a video that fails is recorded there, not raised.

    Raises:
        ModelNotAvailableError, UnknownModelError: the pose model or detector cannot be
            loaded (no video could succeed).
    """
    from opencapbench.io.keypoint_store import store_path

    opts = options or PipelineOptions(progress=progress)
    report = PoseStageReport()
    start = time.perf_counter()
    models = (
        model
        if isinstance(model, LazyModels)
        else LazyModels(
            model, detector, checkpoint, device=device, amp=amp, det_threshold=det_threshold
        )
    )

    for job in tqdm(videos, unit="video", desc="pose", disable=not progress):
        target = store_path(store_root, job.subject, job.session, job.trial, job.camera)
        if not force and is_cached(target, Path(job.path)):
            report.reused.append(target)
            continue
        try:
            source = VideoSource(Path(job.path))
            result = run_pose(source, models.pose, detector=models.detector, options=opts)
            result.save(target)
        except Exception as exc:  # noqa: BLE001 - isolate one video's failure, keep going
            if isinstance(exc, ModelNotAvailableError | UnknownModelError | ModelIntegrityError):
                raise  # no video can succeed without the model
            report.failed[job.key] = f"{type(exc).__name__}: {exc}"
            log.error("pose stage: %s (%s) failed: %s", job.key, job.path, report.failed[job.key])
            continue
        report.written.append(target)
        report.frames += result.num_frames
    report.elapsed_s = time.perf_counter() - start
    log.info(
        "pose stage: %d written, %d reused, %d failed (%.2f frames/s)",
        len(report.written),
        len(report.reused),
        len(report.failed),
        report.frames_per_second,
    )
    return report
