"""A video file sink for BGR frames that browsers can play: H.264 (yuv420p, MP4) through PyAV.

OpenCV's pip wheels cannot encode H.264 (no GPL encoder), and browsers do not play their mp4v
files; PyAV's wheels carry libx264. Without PyAV the writer falls back to OpenCV's mp4v with a
logged warning. The file appears atomically at its path when the writer is closed.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from opencapbench.inference.errors import VideoReadError
from opencapbench.io.atomic import atomic_path

__all__ = ["VideoWriter", "h264_available"]

log = logging.getLogger(__name__)


def h264_available() -> bool:
    """True when PyAV is installed with an H.264 encoder."""
    try:
        import av
    except ImportError:
        return False
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # noqa: BLE001 - PyAV raises its own errors for unknown codecs
        return False
    return True


class VideoWriter:
    """Write (H, W, 3) uint8 BGR frames of one size to an MP4 file.

    Args:
        path: output file (``.mp4``).
        fps: frame rate, Hz (59.94 is stored exactly as 60000/1001).
        image_size: (width, height) of every frame, pixels. H.264 in yuv420p needs even sides:
            an odd side gets one black row or column at the bottom/right, so pixel
            coordinates are unchanged.
        codec: ``"h264"`` (PyAV; falls back to mp4v with a warning when PyAV is missing) or
            ``"mp4v"`` (OpenCV).
        crf: H.264 constant rate factor (lower is better quality; 18 is visually lossless).

    Attributes:
        codec: the codec actually used (``h264`` or ``mp4v``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        image_size: tuple[int, int],
        codec: str = "h264",
        crf: int = 18,
    ) -> None:
        if codec not in ("h264", "mp4v"):
            raise ValueError(f"codec must be 'h264' or 'mp4v', not {codec!r}")
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.size = (int(image_size[0]), int(image_size[1]))
        if codec == "h264" and not h264_available():
            log.warning(
                "%s: PyAV with libx264 is not installed (pip install av); writing mp4v, which "
                "browsers do not play",
                self.path,
            )
            codec = "mp4v"
        self.codec = codec
        self.frames = 0
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        try:
            if codec == "h264":
                self._open_pyav(fps, crf)
            else:
                self._open_cv2(fps)
        except BaseException as err:
            self._ctx.__exit__(type(err), err, None)
            raise

    def _open_pyav(self, fps: float, crf: int) -> None:
        import av

        w, h = self.size
        self._padded = (w + w % 2, h + h % 2)
        # faststart: the index goes first, so a browser starts playing before the end arrives
        self._container = av.open(
            str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self._padded
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(int(crf)), "preset": "veryfast"}

    def _open_cv2(self, fps: float) -> None:
        import cv2

        self._writer = cv2.VideoWriter(
            str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), self.size
        )
        if not self._writer.isOpened():
            raise VideoReadError(f"{self.path}: cannot open a video writer (mp4v)")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame of the writer's size."""
        h, w = frame.shape[:2]
        if (w, h) != self.size or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"{self.path}: frame {frame.shape} does not match size {self.size}")
        if self.codec == "h264":
            import av

            pw, ph = self._padded
            if (pw, ph) != (w, h):
                frame = np.pad(frame, ((0, ph - h), (0, pw - w), (0, 0)))
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        else:
            self._writer.write(frame)
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        """Finish the file (it replaces ``path``), or discard it when ``ok`` is False."""
        if self._ctx is None:
            return
        ctx, self._ctx = self._ctx, None
        error: BaseException | None = None
        try:
            if self.codec == "h264":
                if ok:
                    for packet in self._stream.encode(None):  # flush the encoder
                        self._container.mux(packet)
                self._container.close()
            else:
                self._writer.release()
        except BaseException as err:  # noqa: BLE001 - the temporary file must go either way
            error = err
        if not ok and error is None:
            error = RuntimeError("video aborted")
        ctx.__exit__(type(error) if error else None, error, None)
        if ok and error is not None:
            raise error

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)
