"""Overlay drawing: boxes, skeleton, COCO keypoints (filled discs) and anatomical markers
(diamonds), on BGR frames; written as an mp4 video or as images."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from opencapbench.inference.errors import VideoReadError
from opencapbench.io.atomic import atomic_path
from opencapbench.keypoints import COCO17_NAMES, KeypointSet

_LEFT = (255, 160, 0)  # BGR blue-ish for left side
_RIGHT = (0, 128, 255)  # orange for right side
_MID = (0, 220, 0)
_MARKER = (255, 0, 255)  # magenta anatomical markers
_BOX = (0, 255, 255)


def _side_color(name: str) -> tuple[int, int, int]:
    if name.startswith(("left_", "l_")) or name == "lshoulder":
        return _LEFT
    if name.startswith(("right_", "r_")) or name == "rshoulder":
        return _RIGHT
    return _MID


def draw_pose(
    frame: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    kps: KeypointSet,
    score_threshold: float = 0.3,
) -> np.ndarray:
    """Draw persons on a copy of ``frame``.

    Args:
        frame: (H, W, 3) uint8 BGR.
        keypoints: (P, K, 2) px; scores (P, K); boxes (P, 5) xyxy+score px (NaN = none).
        kps: the keypoint set (names decide COCO point vs anatomical marker, and colours).
        score_threshold: keypoints below it are not drawn.
    """
    out = frame.copy()
    scale = max(1, round(max(frame.shape[:2]) / 640))
    coco = np.array([n in COCO17_NAMES for n in kps.names])
    colors = [_side_color(n) for n in kps.names]
    for p in range(len(keypoints)):
        box = boxes[p]
        if np.isfinite(box[:4]).all():
            cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), _BOX, scale)
        ok = np.isfinite(keypoints[p]).all(axis=1) & (scores[p] >= score_threshold)
        pts = np.nan_to_num(keypoints[p]).round().astype(np.int32)
        for i, j in kps.skeleton:
            if ok[i] and ok[j]:
                cv2.line(out, tuple(pts[i]), tuple(pts[j]), colors[j], scale + 1, cv2.LINE_AA)
        for i in np.flatnonzero(ok):
            if coco[i]:
                cv2.circle(out, tuple(pts[i]), 3 * scale, colors[i], -1, cv2.LINE_AA)
                cv2.circle(out, tuple(pts[i]), 3 * scale, (255, 255, 255), 1, cv2.LINE_AA)
            else:
                cv2.drawMarker(
                    out, tuple(pts[i]), _MARKER, cv2.MARKER_DIAMOND, 7 * scale, scale, cv2.LINE_AA
                )
    return out


class OverlayWriter:
    """A frame sink that draws each frame and writes it to a video (``.mp4``, mp4v codec) or
    to ``<folder>/<frame:06d>.jpg`` images.  Use :meth:`close` (or ``with``) to finish; the
    video appears atomically at ``path`` on close."""

    def __init__(
        self,
        path: str | os.PathLike,
        kps: KeypointSet,
        fps: float,
        image_size: tuple[int, int],
        as_images: bool = False,
        score_threshold: float = 0.3,
    ) -> None:
        self.path = Path(path)
        self.kps = kps
        self.as_images = as_images
        self.score_threshold = score_threshold
        self._writer = None
        self._ctx = None
        if as_images:
            self.path.mkdir(parents=True, exist_ok=True)
        else:
            self._ctx = atomic_path(self.path)
            tmp = self._ctx.__enter__()
            self._writer = cv2.VideoWriter(
                str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(image_size)
            )
            if not self._writer.isOpened():
                self._ctx.__exit__(None, None, None)
                raise VideoReadError(f"{self.path}: cannot open a video writer (mp4v)")

    def __call__(
        self,
        index: int,
        frame: np.ndarray,
        keypoints: np.ndarray,
        scores: np.ndarray,
        boxes: np.ndarray,
    ) -> None:
        drawn = draw_pose(frame, keypoints, scores, boxes, self.kps, self.score_threshold)
        if self.as_images:
            target = self.path / f"{index:06d}.jpg"
            with atomic_path(target) as tmp:
                cv2.imwrite(str(tmp), drawn)
        else:
            self._writer.write(drawn)

    def close(self, ok: bool = True) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            exc = None if ok else RuntimeError("overlay aborted")
            self._ctx.__exit__(type(exc) if exc else None, exc, None)

    def __enter__(self) -> OverlayWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)
