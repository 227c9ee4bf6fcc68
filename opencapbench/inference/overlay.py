"""Overlay drawing on BGR frames: person boxes, the skeleton, COCO keypoints (filled discs) and
anatomical markers (diamonds), left and right in different colours, optionally coloured by
score and labelled; written as a browser-playable H.264 video or as images.

Also the diagnostic overlay of a benchmark trial: its triangulated 3D markers (TRC, OpenSim
frame) reprojected into each camera (:func:`reproject_markers`) and drawn over the video, with a
line from each reprojection to the 2D detection it came from (:func:`draw_reprojection`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opencapbench.camera import Camera
from opencapbench.geometry.frames import rotate_points
from opencapbench.geometry.projection import project_points
from opencapbench.inference.video_writer import VideoWriter
from opencapbench.io.atomic import atomic_path
from opencapbench.keypoints import COCO17_NAMES, KeypointSet

__all__ = [
    "LEFT",
    "MID",
    "RIGHT",
    "OverlayStyle",
    "OverlayWriter",
    "draw_pose",
    "draw_reprojection",
    "keypoint_sides",
    "markers_at_frames",
    "reproject_markers",
    "write_reprojection_video",
]

log = logging.getLogger(__name__)

# BGR colours
LEFT = (255, 160, 0)  # blue: left side
RIGHT = (0, 128, 255)  # orange: right side
MID = (0, 220, 0)  # green: midline COCO points and links
_MARKER_MID = (255, 0, 255)  # magenta: midline anatomical markers
_BOX = (0, 255, 255)
_WHITE = (255, 255, 255)
_REPROJ = (0, 255, 255)  # yellow: reprojected midline 3D markers

_LEFT_PREFIXES = ("left_", "l_", "lshoulder")
_RIGHT_PREFIXES = ("right_", "r_", "rshoulder")


def keypoint_sides(kps: KeypointSet) -> np.ndarray:
    """Side of each keypoint: +1 left, -1 right, 0 midline.

    A keypoint is lateral when it has a left/right partner in ``kps.flip_indices``; its side is
    read from the name prefix (``left_``/``l_``/``lshoulder`` vs ``right_``/``r_``/``rshoulder``,
    the conventions of :mod:`opencapbench.keypoints`).

    Returns:
        (K,) int8.
    """
    sides = np.zeros(kps.num_keypoints, dtype=np.int8)
    for i, j in kps.flip_pairs:
        for k in (i, j):
            name = kps.names[k].lower()
            sides[k] = 1 if name.startswith(_LEFT_PREFIXES) else (
                -1 if name.startswith(_RIGHT_PREFIXES) else 0)  # fmt: skip
    return sides


def _side_colors(sides: np.ndarray, midline: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    return [LEFT if s > 0 else RIGHT if s < 0 else midline for s in sides.tolist()]


def _score_color(score: float) -> tuple[int, int, int]:
    """Red (score 0) → yellow (0.5) → green (1), BGR."""
    s = float(np.clip(score, 0.0, 1.0))
    return (0, int(round(255 * min(1.0, 2 * s))), int(round(255 * min(1.0, 2 * (1 - s)))))


@dataclass(frozen=True)
class OverlayStyle:
    """How keypoints are drawn.

    Attributes:
        kpt_thr: keypoints scoring below it are hidden, or drawn hollow with ``below="hollow"``.
        below: ``"hide"`` or ``"hollow"``.
        color_by: ``"side"`` (left blue, right orange, midline green/magenta) or ``"score"``
            (fill from red at 0 to green at 1; the outline keeps the side colour).
        labels: write each keypoint's name beside it.
    """

    kpt_thr: float = 0.3
    below: str = "hide"
    color_by: str = "side"
    labels: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.kpt_thr <= 1.0:
            raise ValueError(f"kpt_thr must be in [0, 1], got {self.kpt_thr}")
        if self.below not in ("hide", "hollow"):
            raise ValueError(f"below must be 'hide' or 'hollow', not {self.below!r}")
        if self.color_by not in ("side", "score"):
            raise ValueError(f"color_by must be 'side' or 'score', not {self.color_by!r}")


def draw_pose(
    frame: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    kps: KeypointSet,
    score_threshold: float | None = None,
    style: OverlayStyle | None = None,
) -> np.ndarray:
    """Draw persons on a copy of ``frame``.

    Args:
        frame: (H, W, 3) uint8 BGR.
        keypoints: (P, K, 2) px; scores (P, K); boxes (P, 5) xyxy+score px (NaN = none).
        kps: the keypoint set (names decide COCO point vs anatomical marker; flip pairs and
            names decide left/right colours).
        score_threshold: shorthand for ``style.kpt_thr``.
        style: colours, threshold and labels (default :class:`OverlayStyle`).

    Returns:
        (H, W, 3) uint8 BGR.
    """
    style = style or OverlayStyle()
    thr = style.kpt_thr if score_threshold is None else score_threshold
    out = frame.copy()
    scale = max(1, round(max(frame.shape[:2]) / 640))
    coco = np.array([n in COCO17_NAMES for n in kps.names])
    sides = keypoint_sides(kps)
    point_colors = _side_colors(sides, MID)
    marker_colors = _side_colors(sides, _MARKER_MID)
    for p in range(len(keypoints)):
        box = boxes[p]
        if np.isfinite(box[:4]).all():
            cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), _BOX, scale)
        finite = np.isfinite(keypoints[p]).all(axis=1)
        strong = finite & (scores[p] >= thr)
        weak = finite & ~strong & (style.below == "hollow")
        pts = np.nan_to_num(keypoints[p]).round().astype(np.int32)
        for i, j in kps.skeleton:
            if strong[i] and strong[j]:
                cv2.line(out, tuple(pts[i]), tuple(pts[j]), point_colors[j], scale + 1, cv2.LINE_AA)
        for i in np.flatnonzero(strong | weak):
            at = tuple(pts[i].tolist())
            fill = _score_color(scores[p, i]) if style.color_by == "score" else point_colors[i]
            if coco[i]:
                radius = 3 * scale
                if strong[i]:
                    cv2.circle(out, at, radius, fill, -1, cv2.LINE_AA)
                    edge = point_colors[i] if style.color_by == "score" else _WHITE
                    cv2.circle(out, at, radius, edge, 1, cv2.LINE_AA)
                else:
                    cv2.circle(out, at, radius, point_colors[i], 1, cv2.LINE_AA)
            else:
                color = (
                    _score_color(scores[p, i]) if style.color_by == "score" else marker_colors[i]
                )
                thickness = scale if strong[i] else 1
                cv2.drawMarker(
                    out, at, color, cv2.MARKER_DIAMOND, 7 * scale, thickness, cv2.LINE_AA
                )
            if style.labels:
                cv2.putText(out, kps.names[i], (at[0] + 4 * scale, at[1] - 2 * scale),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.3 * scale, point_colors[i], 1,
                            cv2.LINE_AA)  # fmt: skip
    return out


class OverlayWriter:
    """A frame sink that draws each frame and writes it to a video (``.mp4``, H.264 through
    PyAV, see :class:`~opencapbench.inference.video_writer.VideoWriter`) or to
    ``<folder>/<frame:06d>.jpg`` images. Use :meth:`close` (or ``with``) to finish; the video
    appears atomically at ``path`` on close."""

    def __init__(
        self,
        path: str | os.PathLike,
        kps: KeypointSet,
        fps: float,
        image_size: tuple[int, int],
        as_images: bool = False,
        score_threshold: float | None = None,
        style: OverlayStyle | None = None,
        codec: str = "h264",
    ) -> None:
        self.path = Path(path)
        self.kps = kps
        self.as_images = as_images
        style = style or OverlayStyle()
        if score_threshold is not None:
            style = OverlayStyle(score_threshold, style.below, style.color_by, style.labels)
        self.style = style
        self._video: VideoWriter | None = None
        if as_images:
            self.path.mkdir(parents=True, exist_ok=True)
        else:
            self._video = VideoWriter(self.path, fps, image_size, codec=codec)

    def __call__(
        self,
        index: int,
        frame: np.ndarray,
        keypoints: np.ndarray,
        scores: np.ndarray,
        boxes: np.ndarray,
    ) -> None:
        drawn = draw_pose(frame, keypoints, scores, boxes, self.kps, style=self.style)
        if self.as_images:
            target = self.path / f"{index:06d}.jpg"
            with atomic_path(target) as tmp:
                cv2.imwrite(str(tmp), drawn)
        else:
            self._video.write(drawn)

    def close(self, ok: bool = True) -> None:
        if self._video is not None:
            self._video.close(ok)
            self._video = None

    def __enter__(self) -> OverlayWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


# ---------------------------------------------------------------------- diagnostic overlay


def reproject_markers(positions: np.ndarray, camera: Camera, to_opensim: np.ndarray) -> np.ndarray:
    """Pixels of 3D markers given in OpenSim's frame (as in a benchmark TRC) in one camera.

    Args:
        positions: (..., 3) metres in OpenSim's Y-up frame; NaN = missing.
        camera: the camera; its extrinsics map the calibration (checkerboard) world.
        to_opensim: (3, 3) rotation with ``p_opensim = R @ p_world``
            (:func:`opencapbench.geometry.frames.placement_rotation`).

    Returns:
        (..., 2) pixel ``(u, v)`` in the original, distorted image; NaN for missing markers
        and for markers behind the camera.
    """
    world = rotate_points(positions, np.asarray(to_opensim, dtype=np.float64).T)
    return project_points(world, camera)


def markers_at_frames(
    times: np.ndarray, positions: np.ndarray, n_frames: int, fps: float
) -> np.ndarray:
    """Linear interpolation of marker trajectories at video frame times ``f / fps``.

    Args:
        times: (T,) seconds, increasing (TRC times count from the first video frame).
        positions: (T, M, 3).
        n_frames: F video frames.
        fps: video frame rate, Hz.

    Returns:
        (F, M, 3); NaN outside ``[times[0], times[-1]]`` (± 1 µs) and where a neighbouring
        sample is NaN.
    """
    times = np.asarray(times, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    t = np.arange(n_frames) / fps
    out = np.full((n_frames, *positions.shape[1:]), np.nan)
    if times.size == 0:
        return out
    eps = 1e-6  # s: TRC files store times rounded (8 decimals here, fewer elsewhere)
    inside = (t >= times[0] - eps) & (t <= times[-1] + eps)
    tc = np.clip(t[inside], times[0], times[-1])
    hi = np.clip(np.searchsorted(times, tc, side="left"), 1, max(times.size - 1, 1))
    lo = hi - 1
    if times.size == 1:
        out[inside] = positions[0]
        return out
    w = ((tc - times[lo]) / (times[hi] - times[lo]))[:, None, None]
    exact_lo, exact_hi = w[:, 0, 0] <= 0, w[:, 0, 0] >= 1
    blend = (1 - w) * positions[lo] + w * positions[hi]
    # a frame on a sample takes it as is (no NaN from an unused neighbour)
    blend[exact_lo] = positions[lo][exact_lo]
    blend[exact_hi] = positions[hi][exact_hi]
    out[inside] = blend
    return out


def draw_reprojection(
    frame: np.ndarray,
    reprojected: np.ndarray,
    detected: np.ndarray | None = None,
    sides: np.ndarray | None = None,
    names: Iterable[str] | None = None,
) -> np.ndarray:
    """Draw reprojected markers on a copy of ``frame``: discs coloured by side (left blue,
    right orange, midline yellow), the 2D detection of each as a white dot on top, and a red
    line between them (the reprojection error). A white dot in the middle of its disc is a
    marker that agrees with its detection.

    Args:
        frame: (H, W, 3) uint8 BGR.
        reprojected: (M, 2) px, NaN = none.
        detected: (M, 2) px of the same markers, NaN = none.
        sides: (M,) +1 left, -1 right, 0 midline (:func:`keypoint_sides`).
        names: M labels to write beside the markers.
    """
    out = frame.copy()
    scale = max(1, round(max(frame.shape[:2]) / 640))
    m = len(reprojected)
    sides = np.zeros(m, np.int8) if sides is None else np.asarray(sides)
    colors = _side_colors(sides, _REPROJ)
    labels = list(names) if names is not None else None
    ok_r = np.isfinite(reprojected).all(axis=1)
    ok_d = np.isfinite(detected).all(axis=1) if detected is not None else np.zeros(m, bool)
    r = np.nan_to_num(reprojected).round().astype(np.int32)
    d = np.nan_to_num(detected).round().astype(np.int32) if detected is not None else r
    for i in np.flatnonzero(ok_r):
        cv2.circle(out, tuple(r[i].tolist()), 3 * scale, colors[i], -1, cv2.LINE_AA)
    for i in np.flatnonzero(ok_r & ok_d):
        cv2.line(out, tuple(r[i].tolist()), tuple(d[i].tolist()), (0, 0, 255), scale, cv2.LINE_AA)
    for i in np.flatnonzero(ok_d):
        cv2.circle(out, tuple(d[i].tolist()), scale, _WHITE, -1, cv2.LINE_AA)
    if labels is not None:
        for i in np.flatnonzero(ok_r):
            cv2.putText(out, labels[i], (int(r[i, 0]) + 4 * scale, int(r[i, 1]) - 2 * scale),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.3 * scale, colors[i], 1,
                        cv2.LINE_AA)  # fmt: skip
    return out


def write_reprojection_video(
    path: str | os.PathLike,
    reprojected: np.ndarray,
    fps: float,
    image_size: tuple[int, int],
    frames: Iterable[np.ndarray] | None = None,
    detected: np.ndarray | None = None,
    kps: KeypointSet | None = None,
    labels: bool = False,
    codec: str = "h264",
) -> Path:
    """Write the diagnostic overlay of one camera: reprojected markers over its video.

    Args:
        path: output ``.mp4``.
        reprojected: (F, M, 2) px per video frame (:func:`reproject_markers` of
            :func:`markers_at_frames`).
        fps: frame rate, Hz.
        image_size: (width, height).
        frames: the camera's BGR frames (e.g. iterated from its video); None draws on black.
            Frames beyond ``F`` are ignored; missing ones are black.
        detected: (F, M, 2) px of the 2D detections of the same markers, or None.
        kps: the markers' keypoint set (side colours and labels), or None.
        labels: write the marker names.
        codec: ``"h264"`` or ``"mp4v"``.
    """
    n = len(reprojected)
    w, h = image_size
    sides = keypoint_sides(kps) if kps is not None else None
    names = kps.names if (kps is not None and labels) else None
    source = iter(frames) if frames is not None else iter(())
    with VideoWriter(path, fps, image_size, codec=codec) as video:
        for f in range(n):
            frame = next(source, None)
            if frame is None:
                frame = np.zeros((h, w, 3), np.uint8)
            det = detected[f] if detected is not None else None
            video.write(draw_reprojection(frame, reprojected[f], det, sides, names))
    return Path(path)


def trial_reprojection_videos(
    out_dir: str | os.PathLike,
    trc_times: np.ndarray,
    trc_positions: np.ndarray,
    cameras: Iterable[Camera],
    to_opensim: np.ndarray,
    fps: float,
    n_frames: int,
    videos: Mapping[str, str | os.PathLike] | None = None,
    detections: Mapping[str, np.ndarray] | None = None,
    kps: KeypointSet | None = None,
    labels: bool = False,
) -> list[Path]:
    """The diagnostic overlay of a benchmark trial, one ``<camera>.reprojection.mp4`` each.

    Args:
        out_dir: output folder.
        trc_times, trc_positions: the trial's TRC (``TrcData.times``, ``.positions``: (T, M, 3)
            metres, OpenSim frame).
        cameras: the session's cameras.
        to_opensim: (3, 3) rotation of the session's checkerboard placement.
        fps, n_frames: the videos' frame rate and length (e.g. from the keypoint store).
        videos: camera name → video file; cameras without one are drawn on black.
        detections: camera name → (F, M, 2) px of the 2D keypoints of the tracked person.
        kps: the keypoint set of the TRC's markers.
        labels: write the marker names.
    """
    from opencapbench.inference.video import VideoSource

    at_frames = markers_at_frames(trc_times, trc_positions, n_frames, fps)
    written = []
    for cam in cameras:
        frames, size = None, cam.image_size
        video = (videos or {}).get(cam.name)
        if video is not None:
            source = VideoSource(Path(video))
            frames, size = (frame for _, frame in source), source.image_size
            if tuple(size) != tuple(cam.image_size):
                log.warning("%s: video %s is %s px, its calibration %s px", cam.name, video,
                            size, cam.image_size)  # fmt: skip
        target = Path(out_dir) / f"{cam.name}.reprojection.mp4"
        written.append(write_reprojection_video(
            target, reproject_markers(at_frames, cam, to_opensim), fps, size, frames,
            (detections or {}).get(cam.name), kps, labels,
        ))  # fmt: skip
        log.info("reprojection overlay: %s", target)
    return written
