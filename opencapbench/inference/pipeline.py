"""Detection + tracking + top-down pose over one frame source.

The loop reads frames in a background thread (:func:`~opencapbench.inference.video.prefetch`),
runs the person detector on every ``det_interval``-th frame (key frames), assigns the
detections to person slots (:class:`~opencapbench.inference.tracking.BoxTracker`), gives
the frames between two key frames linearly interpolated boxes (constant-velocity
extrapolation after the last key frame), and runs the pose model on batches of crops.
Memory stays bounded: at most ``det_interval`` frames wait for their next key frame and
about ``pose_batch`` crops wait for the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from opencapbench.inference.boxes_file import FileBoxes
from opencapbench.inference.detector import PersonDetector
from opencapbench.inference.models import PoseEstimator, keypoint_set_name
from opencapbench.inference.tracking import BoxTracker, boxes_between_keyframes
from opencapbench.inference.video import FrameSource, prefetch
from opencapbench.io.keypoint_store import Keypoints2D

log = logging.getLogger(__name__)

#: ``sink(frame_index, frame_bgr, keypoints (P, K, 2), scores (P, K), boxes (P, 5))``,
#: called once per frame, in frame order, after its keypoints are known.
FrameSink = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


@dataclass
class PipelineOptions:
    """Settings of :func:`run_pose`.

    Attributes:
        det_interval: run the detector every N frames (1 = every frame); ignored (1) with
            boxes from a file.
        max_persons: person slots P per frame; 1 = the subject (largest, then tracked).
        iou_threshold: minimum IoU for a detection to continue a tracked person.
        pose_batch: crops per call of the pose model.
        prefetch: decoded frames buffered ahead by the reader thread (0 = no thread).
        progress: show a tqdm bar (frames, frames per second).
    """

    det_interval: int = 4
    max_persons: int = 1
    iou_threshold: float = 0.3
    pose_batch: int = 16
    prefetch: int = 16
    progress: bool = True


@dataclass(eq=False)
class InferenceResult(Keypoints2D):
    """The keypoints of one input (video or image sequence): a :class:`Keypoints2D` (``keypoints``
    (F, P, K, 2) px, ``scores``, ``bboxes`` (F, P, 5), ``fps`` (1.0 for image sequences),
    ``image_size``, ``keypoint_set``; ``save()`` writes the keypoint store file) plus where it
    came from.

    Attributes:
        name: input name (video stem or folder name).
        source: path of the input, as text.
        frame_names: image file names for image sequences, else None.
        elapsed_s: wall time of the run, s.
    """

    name: str = ""
    source: str = ""
    frame_names: list[str] | None = None
    elapsed_s: float = 0.0

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])


def _valid_rows(boxes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isfinite(boxes[:, :4]).all(axis=1))


def run_pose(
    source: FrameSource,
    model: PoseEstimator,
    detector: PersonDetector | None = None,
    file_boxes: FileBoxes | None = None,
    options: PipelineOptions | None = None,
    sink: FrameSink | None = None,
) -> InferenceResult:
    """Detect, track and estimate keypoints on every frame of ``source``.

    Exactly one of ``detector`` / ``file_boxes`` gives the person boxes.

    Raises:
        VideoReadError: the source cannot be decoded.
        ValueError: neither or both box providers given.
    """
    opts = options or PipelineOptions()
    if (detector is None) == (file_boxes is None):
        raise ValueError("give exactly one of detector= or file_boxes=")
    kset = keypoint_set_name(model)
    k = len(model.keypoint_names)
    p = opts.max_persons
    interval = 1 if file_boxes is not None else max(1, int(opts.det_interval))
    tracker = BoxTracker(max_persons=p, iou_threshold=opts.iou_threshold)

    key_frames: list[int] = []
    key_boxes: list[np.ndarray] = []
    key_ids: list[np.ndarray] = []
    waiting: list[tuple[int, np.ndarray]] = []  # frames since the last key frame (inclusive)
    ready: list[tuple[int, np.ndarray, np.ndarray]] = []  # frames with their slot boxes
    out_kp: list[np.ndarray] = []
    out_sc: list[np.ndarray] = []
    out_bb: list[np.ndarray] = []

    bar = tqdm(
        total=source.num_frames,
        unit="frame",
        desc=source.name,
        disable=not opts.progress,
        leave=False,
    )

    def assign_boxes(extrapolate: bool) -> None:
        if not waiting:
            return
        idx = np.array([i for i, _ in waiting])
        boxes = boxes_between_keyframes(
            idx,
            np.array(key_frames),
            np.stack(key_boxes),
            np.stack(key_ids),
            extrapolate=extrapolate,
        )
        ready.extend((i, f, b) for (i, f), b in zip(waiting, boxes, strict=True))
        waiting.clear()

    def flush() -> None:
        if not ready:
            return
        rows = [_valid_rows(b) for _, _, b in ready]
        images = [f for (_, f, _), r in zip(ready, rows, strict=True) if len(r)]
        crops = [
            b[r, :4].astype(np.float32) for (_, _, b), r in zip(ready, rows, strict=True) if len(r)
        ]
        preds = iter(model.predict_bboxes(images, crops) if images else [])
        for (index, frame, boxes), r in zip(ready, rows, strict=True):
            kp = np.full((p, k, 2), np.nan, np.float32)
            sc = np.zeros((p, k), np.float32)
            if len(r):
                pk, ps = next(preds)
                kp[r] = pk
                sc[r] = ps
            out_kp.append(kp)
            out_sc.append(sc)
            out_bb.append(boxes.astype(np.float32))
            if sink is not None:
                sink(index, frame, kp, sc, boxes)
        bar.update(len(ready))
        ready.clear()

    start = time.perf_counter()
    try:
        frames = prefetch(iter(source), opts.prefetch) if opts.prefetch > 0 else iter(source)
        for index, frame in frames:
            if index % interval == 0:
                dets = (
                    file_boxes.boxes_for(index)
                    if file_boxes is not None
                    else detector.detect([frame])[0]
                )
                boxes, ids = tracker.update(dets)
                key_frames.append(index)
                key_boxes.append(boxes)
                key_ids.append(ids)
                assign_boxes(extrapolate=False)  # frames before this key frame are now bracketed
                del key_frames[:-2], key_boxes[:-2], key_ids[:-2]
            waiting.append((index, frame))
            if (
                sum(len(_valid_rows(b)) for _, _, b in ready) >= opts.pose_batch
                or len(ready) >= 4 * opts.pose_batch
            ):
                flush()
        assign_boxes(extrapolate=True)
        flush()
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    f = len(out_kp)
    result = InferenceResult(
        name=source.name,
        source=source.location,
        keypoints=np.stack(out_kp) if f else np.zeros((0, p, k, 2), np.float32),
        scores=np.stack(out_sc) if f else np.zeros((0, p, k), np.float32),
        bboxes=np.stack(out_bb) if f else np.zeros((0, p, 5), np.float32),
        fps=float(source.fps),
        image_size=tuple(source.image_size),
        keypoint_set=kset,
        frame_names=source.frame_names,
        elapsed_s=elapsed,
    )
    log.info(
        "%s: %d frames in %.1f s (%.2f frames/s)", source.name, f, elapsed, f / max(elapsed, 1e-9)
    )
    return result
