"""Subject selection and tracking across frames."""

from __future__ import annotations

import numpy as np
import pytest

from opencapbench.geometry.tracking import keypoint_boxes, select_and_track

W, H = 720, 1280  # portrait phone video; max jump 0.2 × 1000 = 200 px
K = 12


def _person(center: tuple[float, float], height: float, rng: np.random.Generator) -> np.ndarray:
    """(K, 2) keypoints spread over a box of the given height (width = height / 3)."""
    u = rng.uniform(-0.5, 0.5, size=(K, 2))
    u[0] = [0.0, -0.5]  # head on top
    u[1] = [0.0, 0.5]  # foot at the bottom
    return np.asarray(center) + u * [height / 3, height]


def _scene(F: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A subject walking towards the camera (growing) and a small bystander; shuffled slots."""
    rng = np.random.default_rng(seed)
    P = 3
    kp = np.full((F, P, K, 2), np.nan)
    sc = np.zeros((F, P, K))
    subject_slot = np.zeros(F, dtype=int)
    for f in range(F):
        slots = rng.permutation(P)
        subject_slot[f] = slots[0]
        kp[f, slots[0]] = _person((300 + 5 * f, 640), 500 + 10 * f, rng)
        sc[f, slots[0]] = rng.uniform(0.7, 1.0, K)
        kp[f, slots[1]] = _person((600, 400), 150, rng)
        sc[f, slots[1]] = rng.uniform(0.7, 1.0, K)
        # slots[2] stays empty (NaN / 0)
    return kp, sc, subject_slot


def test_keypoint_boxes_head_margin() -> None:
    kp = np.array([[[[10.0, 100.0], [30.0, 300.0], [np.nan, np.nan]]]])
    sc = np.array([[[0.9, 0.8, 0.0]]])
    boxes, has = keypoint_boxes(kp, sc)
    np.testing.assert_allclose(boxes[0, 0], [10, 100 - 0.05 * 200, 30, 300])
    assert has.tolist() == [[True]]


def test_follows_subject_through_slot_permutations() -> None:
    kp, sc, slot = _scene()
    out_kp, out_sc, idx = select_and_track(kp, sc, (W, H))
    np.testing.assert_array_equal(idx, slot)
    np.testing.assert_array_equal(out_kp, kp[np.arange(20), slot])
    np.testing.assert_array_equal(out_sc, sc[np.arange(20), slot])


def test_empty_frame_is_missing_and_track_resumes() -> None:
    kp, sc, slot = _scene()
    kp[7] = np.nan
    sc[7] = 0.0
    out_kp, out_sc, idx = select_and_track(kp, sc, (W, H))
    assert idx[7] == -1
    assert np.isnan(out_kp[7]).all() and (out_sc[7] == 0).all()
    expected = slot.copy()
    expected[7] = -1
    np.testing.assert_array_equal(idx, expected)


def test_does_not_jump_to_bystander() -> None:
    kp, sc, slot = _scene()
    # the subject vanishes in frames 3 and 4 while the far-away bystander stays visible
    for f in (3, 4):
        kp[f, slot[f]] = np.nan
        sc[f, slot[f]] = 0.0
    _, _, idx = select_and_track(kp, sc, (W, H))
    assert idx[3] == -1 and idx[4] == -1
    keep = np.ones(20, bool)
    keep[[3, 4]] = False
    np.testing.assert_array_equal(idx[keep], slot[keep])


def test_no_good_detection_warns_and_still_tracks() -> None:
    kp, sc, slot = _scene(F=5)
    sc *= 0.5  # below mean_conf everywhere
    with pytest.warns(RuntimeWarning, match="good"):
        _, _, idx = select_and_track(kp, sc, (W, H))
    np.testing.assert_array_equal(idx, slot)


def test_nothing_detected() -> None:
    kp = np.full((4, 2, K, 2), np.nan)
    out_kp, out_sc, idx = select_and_track(kp, np.zeros((4, 2, K)), (W, H))
    assert (idx == -1).all() and np.isnan(out_kp).all() and (out_sc == 0).all()
