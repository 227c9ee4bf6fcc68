"""Frame sources (a video file, a list of images) and a background decode thread.

Frames are ``(H, W, 3)`` uint8 **BGR** arrays (OpenCV order).  A source yields
``(frame_index, frame)`` pairs in order; :func:`prefetch` runs any such iterator in a
background thread behind a bounded queue, so decoding overlaps the model's compute
(OpenCV releases the GIL while it decodes).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from opencapbench.inference.errors import VideoReadError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

Frame = tuple[int, np.ndarray]
T = TypeVar("T")


def natural_key(text: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


@dataclass
class VideoSource:
    """A video file read with ``cv2.VideoCapture``.

    Opening reads the header and the first frame, so a missing, empty or corrupt file raises
    :class:`VideoReadError` here rather than half-way through a run.

    Attributes:
        path: the video file.
        fps: frame rate from the container, Hz (30.0 when the container reports none).
        image_size: (width, height) in pixels.
        num_frames: frame count reported by the container until the video has been read;
            then the frames that really decode (AVI headers can count more, which is logged).
    """

    path: Path
    fps: float = field(init=False)
    image_size: tuple[int, int] = field(init=False)
    num_frames: int = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise VideoReadError(f"{self.path}: video file not found")
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise VideoReadError(
                    f"{self.path}: cannot open the video (corrupt file or unsupported codec)"
                )
            ok, frame = cap.read()
            if not ok or frame is None:
                raise VideoReadError(f"{self.path}: no decodable frame (corrupt or empty video)")
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self.fps = fps if np.isfinite(fps) and fps > 0 else 30.0
            self.image_size = (int(frame.shape[1]), int(frame.shape[0]))
            self.num_frames = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 1)
        finally:
            cap.release()

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def frame_names(self) -> list[str] | None:
        return None

    @property
    def location(self) -> str:
        return str(self.path)

    def __iter__(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoReadError(f"{self.path}: cannot open the video")
        try:
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                yield index, frame
                index += 1
            if index == 0:
                raise VideoReadError(f"{self.path}: no decodable frame (corrupt or empty video)")
            if index != self.num_frames:
                log.warning(
                    "%s: the header counts %d frames but %d decode; using the %d",
                    self.path, self.num_frames, index, index,
                )  # fmt: skip
                self.num_frames = index
        finally:
            cap.release()


@dataclass
class ImageSource:
    """An ordered list of image files treated as the frames of one sequence.

    All images must have the size of the first one (a keypoint store has one image size).
    ``fps`` is 1.0: frame *i* is the *i*-th image, there is no time base. An image that cannot
    be read (or has another size) is logged and its frame left without keypoints:
    ``unreadable`` lists those frame indices after iteration.
    """

    paths: list[Path]
    label: str
    fps: float = field(init=False, default=1.0)
    image_size: tuple[int, int] = field(init=False)
    unreadable: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.paths = [Path(p) for p in self.paths]
        if not self.paths:
            raise VideoReadError(f"{self.label}: no image files")
        first = _read_image(self.paths[0])
        self.image_size = (int(first.shape[1]), int(first.shape[0]))

    @property
    def name(self) -> str:
        return self.label

    @property
    def num_frames(self) -> int:
        return len(self.paths)

    @property
    def frame_names(self) -> list[str]:
        return [p.name for p in self.paths]

    @property
    def location(self) -> str:
        return str(self.paths[0] if len(self.paths) == 1 else self.paths[0].parent)

    def __iter__(self) -> Iterator[Frame]:
        self.unreadable = []
        for index, path in enumerate(self.paths):
            try:
                image = _read_image(path)
                if (image.shape[1], image.shape[0]) != self.image_size:
                    raise VideoReadError(
                        f"{path}: image size {image.shape[1]}x{image.shape[0]} differs from the "
                        f"first image of {self.label} ({self.image_size[0]}x{self.image_size[1]})"
                    )
            except VideoReadError as err:
                # one bad image must not sink the sequence: its frame is kept, empty
                log.warning("%s; frame %d of %s is left without keypoints", err, index, self.label)
                self.unreadable.append(index)
                image = np.zeros((self.image_size[1], self.image_size[0], 3), np.uint8)
            yield index, image


FrameSource = VideoSource | ImageSource


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise VideoReadError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VideoReadError(f"{path}: cannot decode the image (corrupt or unsupported format)")
    return image


def collect_inputs(paths: Iterable[str | os.PathLike]) -> list[tuple[str, Path | list[Path]]]:
    """Expand command-line inputs into ``(name, video path | image paths)`` jobs.

    A video file is one job; a single image is a one-frame job; a folder becomes one job of
    its images (natural sort order) and one job per video inside it.  Paths that do not
    exist are kept as jobs so that the caller reports them as failed inputs.
    """
    jobs: list[tuple[str, Path | list[Path]]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                (p for p in path.iterdir() if p.is_file()), key=lambda p: natural_key(p.name)
            )
            images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
            if images:
                jobs.append((path.name, images))
            jobs.extend((v.stem, v) for v in videos)
            if not images and not videos:
                jobs.append((path.name, []))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            jobs.append((path.stem, [path]))
        else:
            jobs.append((path.stem, path))
    return jobs


def open_source(name: str, spec: Path | list[Path]) -> FrameSource:
    """Open a job from :func:`collect_inputs`; raises :class:`VideoReadError` on bad input."""
    if isinstance(spec, list):
        return ImageSource(spec, label=name)
    return VideoSource(spec)


class _End:
    pass


_END = _End()


def prefetch(items: Iterable[T], maxsize: int = 8) -> Iterator[T]:
    """Iterate ``items`` in a background thread, at most ``maxsize`` ahead of the consumer.

    Exceptions raised by the producer are re-raised in the consumer.  Closing the returned
    generator early stops the producer thread.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
            return
        put(_END)

    thread = threading.Thread(target=produce, name="ocb-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)
