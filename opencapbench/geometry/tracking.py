"""Pick the subject among the people detected in one camera's video and follow them in time.

OpenCap's rule (single-subject capture, bystanders possible): build a keypoint bounding box per
detected person, start from the largest box among confidently detected people, then walk
forwards and backwards in time, each frame keeping the person whose box corners moved least.
A move larger than a fraction of the image size breaks the track for that frame (marked
missing) instead of jumping to someone else.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["keypoint_boxes", "select_and_track"]


def keypoint_boxes(
    keypoints: np.ndarray, scores: np.ndarray, head_margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes of each person's detected keypoints, extended upwards for the head.

    Args:
        keypoints: (F, P, K, 2) pixels, NaN = missing.
        scores: (F, P, K) confidences; a keypoint counts when finite and > 0.
        head_margin: fraction of the box height added above the top keypoint.

    Returns:
        ``(boxes (F, P, 4) x1, y1, x2, y2 in pixels, has_box (F, P) bool)``; a person needs at
        least two detected keypoints for a box, otherwise its row is NaN.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    valid = np.isfinite(kp).all(axis=-1) & np.isfinite(sc) & (sc > 0)
    has_box = valid.sum(axis=-1) >= 2
    x = kp[..., 0]
    y = kp[..., 1]
    x1 = np.where(valid, x, np.inf).min(axis=-1)
    x2 = np.where(valid, x, -np.inf).max(axis=-1)
    y1 = np.where(valid, y, np.inf).min(axis=-1)
    y2 = np.where(valid, y, -np.inf).max(axis=-1)
    y1 = y1 - head_margin * (y2 - y1)  # y points down: "above the head" is smaller y
    boxes = np.stack([x1, y1, x2, y2], axis=-1)
    boxes[~has_box] = np.nan
    return boxes, has_box


def select_and_track(
    keypoints: np.ndarray,
    scores: np.ndarray,
    image_size: tuple[int, int],
    min_good_keypoints: int = 10,
    good_conf: float = 0.4,
    mean_conf: float = 0.6,
    max_jump_frac: float = 0.2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Select the subject (largest well-detected person) and track them through the video.

    1. Per person and frame, the keypoint box (:func:`keypoint_boxes`, +5 % above the head).
    2. "Good" detections have at least ``min_good_keypoints`` keypoints with confidence
       > ``good_conf`` and a mean confidence over all K keypoints (missing = 0) > ``mean_conf``.
       The start is the frame/person with the largest box area among them (if there is none,
       the largest box overall, with a warning).
    3. From the start frame, forwards then backwards: in each frame take the person whose box
       moved least from the last matched box (mean absolute change of x1, y1, x2, y2).  If that
       change exceeds ``max_jump_frac × mean(width, height)``, the frame is marked missing and
       the last known box is kept; in later frames the person nearest to that box is
       re-acquired as soon as one is within the same limit.  (The limit does not grow while
       the subject is missing: a bystander seen during an occlusion is not taken for the
       subject; a subject who reappears far from where they vanished stays missing.)

    Args:
        keypoints: (F, P, K, 2) pixels; P person slots, NaN-padded.
        scores: (F, P, K) confidences; NaN is treated as 0.
        image_size: ``(width, height)`` in pixels.
        min_good_keypoints, good_conf, mean_conf: the "good detection" rule above.
        max_jump_frac: largest per-frame box change, as a fraction of the mean image dimension.

    Returns:
        ``(kp (F, K, 2), sc (F, K), person_index (F,))``: the subject's keypoints (NaN where
        missing), scores (0 where missing) and slot index per frame (-1 where missing).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    sc = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if kp.ndim != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3]:
        raise ValueError(
            f"expected keypoints (F, P, K, 2) and scores (F, P, K), got {kp.shape} and {sc.shape}"
        )
    F, P, K, _ = kp.shape
    out_kp = np.full((F, K, 2), np.nan)
    out_sc = np.zeros((F, K))
    index = np.full(F, -1, dtype=np.int64)
    if F == 0 or P == 0:
        return out_kp, out_sc, index

    boxes, has_box = keypoint_boxes(kp, sc)
    area = np.where(
        has_box, (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]), -1.0
    )
    good = (
        has_box
        & ((sc > good_conf).sum(axis=-1) >= min_good_keypoints)
        & (sc.mean(axis=-1) > mean_conf)
    )
    if not has_box.any():
        return out_kp, out_sc, index
    if good.any():
        f0, p0 = np.unravel_index(np.argmax(np.where(good, area, -np.inf)), area.shape)
    else:
        warnings.warn(
            f"no detection meets the 'good' rule (>= {min_good_keypoints} keypoints above "
            f"{good_conf}, mean confidence above {mean_conf}); starting from the largest box",
            RuntimeWarning,
            stacklevel=2,
        )
        f0, p0 = np.unravel_index(np.argmax(area), area.shape)
    index[f0] = p0

    max_jump = max_jump_frac * (image_size[0] + image_size[1]) / 2.0
    for frames in (range(f0 + 1, F), range(f0 - 1, -1, -1)):
        last_box = boxes[f0, p0]
        for f in frames:
            if not has_box[f].any():
                continue
            change = np.abs(boxes[f] - last_box).mean(axis=-1)
            change[~has_box[f]] = np.inf
            p = int(np.argmin(change))
            if change[p] <= max_jump:
                index[f] = p
                last_box = boxes[f, p]

    found = index >= 0
    out_kp[found] = kp[found, index[found]]
    out_sc[found] = sc[found, index[found]]
    return out_kp, out_sc, index
