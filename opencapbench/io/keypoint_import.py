"""Bringing foreign 2D keypoints into the store: one camera, or a whole tree in one call, with
image sizes and frame rates taken from the dataset where it has them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencapbench.io.keypoint_store import Keypoints2D, KeypointStoreError, store_path
from opencapbench.io.opencap_layout import (
    CALIBRATION_FILE,
    VIDEO_SUFFIXES,
    natural_key,
    session_cameras,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportJob:
    """One camera of one trial: its source (JSON folder or pose pickle) and store address."""

    source: Path
    subject: str
    session: str
    trial: str
    camera: str


def find_import_jobs(root: Path, fmt: str) -> list[ImportJob]:
    """The cameras of a tree ``root/<subject>/<session>/<trial>/<camera>`` (a JSON folder,
    ``<camera>_json``, or ``<camera>.pkl``), in natural order.

    Raises:
        KeypointStoreError: no camera found; the message shows the expected layout.
    """
    jobs = []
    for trial_dir in sorted(Path(root).glob("*/*/*"), key=lambda p: natural_key(str(p))):
        if not trial_dir.is_dir():
            continue
        subject, session, trial = trial_dir.relative_to(root).parts
        for entry in sorted(trial_dir.iterdir(), key=lambda p: natural_key(p.name)):
            if fmt == "openpose" and entry.is_dir() and any(entry.glob("*.json")):
                camera = entry.name.removesuffix("_json")
            elif fmt == "opencap" and entry.suffix == ".pkl":
                camera = entry.stem
            else:
                continue
            jobs.append(ImportJob(entry, subject, session, trial, camera))
    if not jobs:
        what = "<camera>/ of *.json" if fmt == "openpose" else "<camera>.pkl"
        raise KeypointStoreError(
            f"{root}: no camera found; a tree is laid out <subject>/<session>/<trial>/{what}"
        )
    return jobs


def dataset_camera(dataset: Path, job: ImportJob) -> str:
    """The dataset's spelling of the job's camera folder (``cam1`` → ``Cam1``)."""
    session_dir = Path(dataset) / job.subject / "VideoData" / job.session
    if session_dir.is_dir():
        for name in session_cameras(session_dir):
            if name.lower() == job.camera.lower():
                return name
    return job.camera


def dataset_image_size(dataset: Path, job: ImportJob) -> tuple[int, int] | None:
    """(width, height) of the camera's calibration in the dataset, or None."""
    from opencapbench.io.calibration import read_opencap_calibration

    calib = Path(dataset) / job.subject / "VideoData" / job.session / job.camera / CALIBRATION_FILE
    if not calib.is_file():
        return None
    return tuple(read_opencap_calibration(calib).image_size)


def dataset_fps(dataset: Path, job: ImportJob) -> float | None:
    """Frame rate of the trial's video of this camera in the dataset, or None."""
    import cv2

    folder = Path(dataset) / job.subject / "VideoData" / job.session / job.camera / job.trial
    videos = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        return None
    cap = cv2.VideoCapture(str(videos[0]))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return fps if np.isfinite(fps) and fps > 0 else None


def check_not_swapped(kp: Keypoints2D, source: Path) -> None:
    """Refuse an image size that reads as (height, width): keypoints that do not fit in the
    stated width × height but fit in height × width.

    Raises:
        KeypointStoreError: the size looks swapped (it names both readings).
    """
    w, h = kp.image_size
    x, y = kp.keypoints[..., 0], kp.keypoints[..., 1]
    if w == h or not np.isfinite(x).any():
        return
    x_max, y_max = float(np.nanmax(x)), float(np.nanmax(y))

    def fits(width: float, height: float) -> bool:
        return x_max <= 1.02 * width and y_max <= 1.02 * height

    if not fits(w, h) and fits(h, w):
        raise KeypointStoreError(
            f"{source}: keypoints reach x = {x_max:.0f}, y = {y_max:.0f} px: outside "
            f"--image-size {w} {h} (width, height) but inside {h} {w}: the size looks swapped"
        )


def import_job(
    job: ImportJob,
    fmt: str,
    store: Path,
    keypoint_set: str | None,
    fps: float | None,
    image_size: tuple[int, int] | None,
    dataset: Path | None,
) -> tuple[Path, Keypoints2D]:
    """Read one camera's keypoints and write its store file; returns the path and keypoints.

    The image size comes from the dataset's calibration when there is one (a different
    ``image_size`` given too is an error), else from ``image_size``; the frame rate likewise
    from the dataset's video, else ``fps``.
    """
    from opencapbench.io.opencap_pose import import_opencap_pickle
    from opencapbench.io.openpose_json import import_openpose_json

    camera = dataset_camera(dataset, job) if dataset else job.camera
    job = ImportJob(job.source, job.subject, job.session, job.trial, camera)
    size = dataset_image_size(dataset, job) if dataset else None
    if size is not None and image_size is not None and tuple(image_size) != size:
        swapped = tuple(image_size) == size[::-1]
        raise KeypointStoreError(
            f"{job.source}: --image-size {image_size[0]} {image_size[1]} "
            f"{'is the calibration size swapped' if swapped else 'differs from the calibration'}"
            f" ({size[0]} {size[1]}, width first)"
        )
    size = size or image_size
    rate = (dataset_fps(dataset, job) if dataset else None) or fps
    if size is None or rate is None:
        missing = [n for n, v in (("--image-size", size), ("--fps", rate)) if v is None]
        raise KeypointStoreError(
            f"{job.source}: {' and '.join(missing)} needed (no calibration or video of "
            f"{job.subject}/{job.session}/{job.camera} in --dataset says it)"
        )
    reader = import_openpose_json if fmt == "openpose" else import_opencap_pickle
    kp = reader(job.source, keypoint_set, rate, tuple(size))
    check_not_swapped(kp, job.source)
    path = kp.save(store_path(store, job.subject, job.session, job.trial, job.camera))
    return path, kp
