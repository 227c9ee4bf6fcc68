"""Box tracking between detections and subject selection (pure numerics, known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from opencapbench.inference.tracking import (
    BoxTracker,
    box_iou,
    boxes_between_keyframes,
    select_largest,
)


def moving_box(t: np.ndarray) -> np.ndarray:
    """A box moving at (+3, -1) px/frame and growing 2 px/frame in width: (T, 5)."""
    t = np.asarray(t, dtype=float)
    return np.stack([10 + 3 * t, 50 - t, 60 + 5 * t, 150 - t, np.full_like(t, 0.9)], axis=-1)


def test_box_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10], [np.nan] * 4])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0, 0.0]])


def test_select_largest_picks_the_largest_area() -> None:
    dets = np.array([[0, 0, 10, 50, 0.99], [0, 0, 30, 30, 0.5], [5, 5, 20, 20, 0.9]])
    assert select_largest(dets) == 1  # 900 px² beats 500 and 225 whatever the scores
    assert select_largest(np.zeros((0, 5))) == -1


def test_interpolation_between_keyframes_is_exact_for_linear_motion() -> None:
    key_frames = np.array([0, 4, 8])
    key_boxes = moving_box(key_frames)[:, None, :]  # (3, 1, 5)
    key_ids = np.zeros((3, 1), int)
    frames = np.arange(0, 11)  # 9, 10 lie after the last key frame
    out = boxes_between_keyframes(frames, key_frames, key_boxes, key_ids)
    np.testing.assert_allclose(out[:, 0], moving_box(frames), atol=1e-9)


def test_tail_is_held_without_extrapolation_and_track_change_is_held() -> None:
    key_frames = np.array([0, 4])
    key_boxes = moving_box(key_frames)[:, None, :]
    out = boxes_between_keyframes(
        np.array([5, 6]), key_frames, key_boxes, np.zeros((2, 1), int), extrapolate=False
    )
    np.testing.assert_allclose(out[:, 0], np.repeat(moving_box([4]), 2, axis=0))
    # a different person at the next key frame: hold the previous box, do not morph into it
    ids = np.array([[0], [1]])
    out = boxes_between_keyframes(np.array([1, 2, 3]), key_frames, key_boxes, ids)
    np.testing.assert_allclose(out[:, 0], np.repeat(moving_box([0]), 3, axis=0))


def test_empty_slot_and_frames_before_first_key_are_nan() -> None:
    key_boxes = np.full((2, 1, 5), np.nan)
    key_boxes[1, 0] = moving_box([4])[0]
    ids = np.array([[-1], [0]])
    out = boxes_between_keyframes(np.array([1, 2, 4]), np.array([0, 4]), key_boxes, ids)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2, 0], moving_box([4])[0])
    assert np.isnan(
        boxes_between_keyframes(np.array([0]), np.array([2]), key_boxes[:1], ids[:1])
    ).all()


def test_tracker_keeps_subject_when_a_larger_person_appears() -> None:
    tracker = BoxTracker(max_persons=1, iou_threshold=0.3)
    subject = np.array([100, 100, 200, 400, 0.9])
    boxes, ids = tracker.update(np.array([subject, [400, 100, 450, 200, 0.8]]))
    np.testing.assert_allclose(boxes[0], subject)  # largest first
    first_id = ids[0]
    moved = subject + np.array([10, 0, 10, 0, 0])
    bigger_elsewhere = np.array([500, 0, 900, 700, 0.95])
    boxes, ids = tracker.update(np.array([bigger_elsewhere, moved]))
    np.testing.assert_allclose(boxes[0], moved)  # tracked, not the new largest
    assert ids[0] == first_id
    # the subject is gone: the largest detection takes the slot with a new track id
    boxes, ids = tracker.update(bigger_elsewhere[None])
    np.testing.assert_allclose(boxes[0], bigger_elsewhere)
    assert ids[0] != first_id
    boxes, ids = tracker.update(np.zeros((0, 5)))
    assert np.isnan(boxes).all() and ids[0] == -1


def test_tracker_multi_person_slots_follow_their_people() -> None:
    tracker = BoxTracker(max_persons=2, iou_threshold=0.3)
    a = np.array([0, 0, 100, 300, 0.9])
    b = np.array([300, 0, 350, 100, 0.9])
    boxes, ids0 = tracker.update(np.array([b, a]))
    np.testing.assert_allclose(boxes, [a, b])  # slots filled largest first
    shift = np.array([5, 0, 5, 0, 0])
    boxes, ids1 = tracker.update(np.array([a + shift, b + shift]))
    np.testing.assert_allclose(boxes, [a + shift, b + shift])
    np.testing.assert_array_equal(ids0, ids1)


def test_tracker_predicts_constant_velocity_motion() -> None:
    """Steps of 10 then 14 px on a 40 px wide box: the second step overlaps the previous box
    by IoU 0.48 only, but the velocity-predicted box by 0.82, so the track continues."""
    tracker = BoxTracker(max_persons=1, iou_threshold=0.5)
    box = np.array([0.0, 0.0, 40.0, 100.0, 0.9])
    step = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    _, ids0 = tracker.update(box[None])
    _, ids1 = tracker.update((box + 10 * step)[None])
    boxes, ids2 = tracker.update((box + 24 * step)[None])
    assert box_iou(box[None] + 10 * step, box[None] + 24 * step)[0, 0] < 0.5
    assert ids0[0] == ids1[0] == ids2[0]
    np.testing.assert_allclose(tracker.predicted()[0, :4], (box + 38 * step)[:4])


def test_tracker_rejects_bad_slot_count() -> None:
    with pytest.raises(ValueError, match="max_persons"):
        BoxTracker(max_persons=0)
