"""Person boxes between detections: slot assignment at key frames and in-between boxes.

Pure numerics on arrays, no I/O.  Boxes are ``(..., 5)`` float arrays
``x1, y1, x2, y2, score`` in image pixels; a missing box is all-NaN.  A *slot* is one of
``P`` person positions of the keypoint store; the tracker keeps the same person in the same
slot across key frames (where the detector ran), and :func:`boxes_between_keyframes`
fills the frames in between.

Subject selection follows OpenCap / OpenCapBench: the largest person is chosen at the first
detection and then tracked (kept while it overlaps a detection by ``iou_threshold``); only
when the tracked person is lost does the largest detection take the slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas ``(...,)`` in px² of boxes ``(..., >=4)`` (0 for degenerate, NaN for missing)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    w = np.clip(boxes[..., 2] - boxes[..., 0], 0.0, None)
    h = np.clip(boxes[..., 3] - boxes[..., 1], 0.0, None)
    return w * h


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union ``(N, M)`` of boxes ``a (N, >=4)`` and ``b (M, >=4)``.

    Pairs involving a missing (NaN) box have IoU 0.
    """
    a = np.asarray(a, dtype=np.float64)[:, None, :4]
    b = np.asarray(b, dtype=np.float64)[None, :, :4]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = box_area(a) + box_area(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def select_largest(detections: np.ndarray) -> int:
    """Index of the largest-area box in ``detections (N, >=4)``; -1 when there is none."""
    dets = np.asarray(detections, dtype=np.float64)
    if dets.size == 0:
        return -1
    areas = np.nan_to_num(box_area(dets.reshape(-1, dets.shape[-1])), nan=-1.0)
    return int(np.argmax(areas)) if areas.max() >= 0 else -1


@dataclass
class BoxTracker:
    """Assigns detections at key frames to ``max_persons`` slots.

    Call :meth:`update` with each key frame's detections; it returns the slot boxes
    ``(P, 5)`` and slot track ids ``(P,)`` (-1 = empty slot).  Each tracked box is first moved
    by its velocity over the previous key interval (constant-velocity prediction; key frames
    are assumed evenly spaced); a slot keeps its person while that prediction overlaps a new
    detection by at least ``iou_threshold`` (optimal one-to-one matching on IoU).  Unmatched
    slots are freed; free slots take the unmatched detections, largest first.  With
    ``max_persons=1`` this is "largest, then tracked".
    """

    max_persons: int = 1
    iou_threshold: float = 0.3
    boxes: np.ndarray = field(init=False)
    ids: np.ndarray = field(init=False)
    velocity: np.ndarray = field(init=False)
    _next_id: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.max_persons < 1:
            raise ValueError(f"max_persons must be >= 1, got {self.max_persons}")
        self.boxes = np.full((self.max_persons, 5), np.nan)
        self.ids = np.full(self.max_persons, -1, dtype=np.int64)
        self.velocity = np.zeros((self.max_persons, 4))

    def predicted(self) -> np.ndarray:
        """Slot boxes ``(P, 5)`` moved by one key interval at their last velocity."""
        pred = self.boxes.copy()
        pred[:, :4] += self.velocity
        return pred

    def update(self, detections: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Assign ``detections (N, 5)`` to slots; returns copies of ``(boxes (P, 5), ids (P,))``."""
        dets = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
        dets = dets[np.isfinite(dets[:, :4]).all(axis=1)]
        dets = dets[np.argsort(-box_area(dets), kind="stable")]
        new_boxes = np.full_like(self.boxes, np.nan)
        new_ids = np.full_like(self.ids, -1)
        new_velocity = np.zeros_like(self.velocity)
        used = np.zeros(len(dets), dtype=bool)
        live = np.flatnonzero(self.ids >= 0)
        if len(live) and len(dets):
            iou = box_iou(self.predicted()[live], dets)
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols, strict=True):
                if iou[r, c] >= self.iou_threshold:
                    slot = live[r]
                    new_boxes[slot] = dets[c]
                    new_ids[slot] = self.ids[slot]
                    new_velocity[slot] = dets[c, :4] - self.boxes[slot, :4]
                    used[c] = True
        free = iter(np.flatnonzero(new_ids < 0))
        for c in np.flatnonzero(~used):
            slot = next(free, None)
            if slot is None:
                break
            new_boxes[slot] = dets[c]
            new_ids[slot] = self._next_id
            self._next_id += 1
        self.boxes, self.ids, self.velocity = new_boxes, new_ids, new_velocity
        return new_boxes.copy(), new_ids.copy()


def boxes_between_keyframes(
    frames: np.ndarray,
    key_frames: np.ndarray,
    key_boxes: np.ndarray,
    key_ids: np.ndarray,
    extrapolate: bool = True,
) -> np.ndarray:
    """Boxes at arbitrary frames from boxes at key frames.

    Args:
        frames: (T,) frame indices to fill.
        key_frames: (M,) strictly increasing key-frame indices.
        key_boxes: (M, P, 5) slot boxes at the key frames (NaN = empty slot).
        key_ids: (M, P) slot track ids (-1 = empty); interpolation only joins equal ids.
        extrapolate: after the last key frame, move a box with the constant velocity of its
            last two key frames (same track); otherwise hold it.

    Returns:
        (T, P, 5) boxes.  Between two key frames where a slot holds the same track the box
        (and score) is linearly interpolated; where the track ends at the next key frame the
        box of the previous key frame is held; before the first key frame, or where the slot
        is empty at the previous key frame, the box is NaN.
    """
    frames = np.asarray(frames, dtype=np.float64)
    key_frames = np.asarray(key_frames, dtype=np.float64)
    key_boxes = np.asarray(key_boxes, dtype=np.float64)
    key_ids = np.asarray(key_ids)
    m = len(key_frames)
    out = np.full((len(frames), key_boxes.shape[1], 5), np.nan)
    if m == 0 or len(frames) == 0:
        return out
    i0 = np.searchsorted(key_frames, frames, side="right") - 1  # previous key frame (T,)
    valid = i0 >= 0
    i0c = np.clip(i0, 0, m - 1)
    inside = valid & (i0 < m - 1)
    tail = valid & (i0 == m - 1)

    # interpolation between key frames i0 and i0+1
    i1c = np.clip(i0c + 1, 0, m - 1)
    span = key_frames[i1c] - key_frames[i0c]
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(span > 0, (frames - key_frames[i0c]) / span, 0.0)[:, None, None]
    b0, b1 = key_boxes[i0c], key_boxes[i1c]
    same = (key_ids[i0c] == key_ids[i1c]) & (key_ids[i0c] >= 0)  # (T, P)
    lerp = b0 + alpha * (b1 - b0)
    inner = np.where(same[..., None], lerp, b0)
    out[inside] = inner[inside]

    # after the last key frame: constant velocity from the last two key frames
    last = key_boxes[m - 1][None]
    held = np.repeat(last, len(frames), axis=0)
    if extrapolate and m >= 2:
        prev = key_boxes[m - 2]
        dt = key_frames[m - 1] - key_frames[m - 2]
        same_tail = (key_ids[m - 1] == key_ids[m - 2]) & (key_ids[m - 1] >= 0)  # (P,)
        velocity = np.where(same_tail[:, None], (key_boxes[m - 1] - prev) / dt, 0.0)
        velocity[:, 4] = 0.0  # the score is held, not extrapolated
        steps = (frames - key_frames[m - 1])[:, None, None]
        held = last + steps * velocity[None]
    out[tail] = held[tail]
    return out
