"""Training augmentations: flip, half-body, box jitter, keypoint conversion, targets."""

from __future__ import annotations

import numpy as np
import pytest

import opencapbench.pose.registry_all  # noqa: F401  (registers)
from opencapbench.pose.registry import TRANSFORMS
from opencapbench.pose.transforms.common_transforms import (
    KeypointConverter,
    RandomFlip,
    RandomHalfBody,
    truncated_normal,
)

FLIP = [0, 2, 1, 4, 3]  # nose, r_hand, l_hand, r_foot, l_foot


def _sample(width: int = 40, height: int = 30) -> dict:
    img = np.zeros((height, width, 3), np.uint8)
    kps = np.array([[[20.0, 5.0], [10.0, 12.0], [31.0, 12.0], [14.0, 25.0], [27.0, 26.0]]])
    for i, (x, y) in enumerate(kps[0]):
        img[int(y), int(x)] = (i + 1) * 40  # a marker pixel per keypoint
    return dict(
        img=img,
        keypoints=kps.astype(np.float32),
        keypoints_visible=np.array([[1, 1, 0, 1, 1]], np.float32),
        bbox=np.array([[5.0, 2.0, 35.0, 28.0]], np.float32),
        bbox_center=np.array([[20.0, 15.0]], np.float32),
        bbox_scale=np.array([[30.0, 26.0]], np.float32),
        flip_indices=FLIP,
        upper_body_ids=[0, 1, 2],
        lower_body_ids=[3, 4],
    )


def test_horizontal_flip_swaps_and_mirrors_keypoints():
    s = _sample()
    orig = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
    out = RandomFlip(prob=1.0)(s)
    assert out["flip"] is True and out["flip_direction"] == "horizontal"
    w = 40
    # keypoint i of the result is the mirror of keypoint FLIP[i] of the input
    expected = orig["keypoints"][:, FLIP].copy()
    expected[..., 0] = w - 1 - expected[..., 0]
    np.testing.assert_allclose(out["keypoints"], expected)
    np.testing.assert_array_equal(out["keypoints_visible"], [[1, 0, 1, 1, 1]])
    # right hand (index 1) now sits where the mirrored left hand was: x = 39 - 31 = 8
    np.testing.assert_allclose(out["keypoints"][0, 1], [8.0, 12.0])
    np.testing.assert_allclose(out["bbox_center"], [[19.0, 15.0]])
    np.testing.assert_allclose(out["bbox"], [[4.0, 2.0, 34.0, 28.0]])
    # every marker pixel moved with its (swapped) keypoint
    for i in range(5):
        x, y = out["keypoints"][0, i]
        assert out["img"][int(y), int(x), 0] == (FLIP[i] + 1) * 40


def test_flip_twice_is_identity_and_prob_zero_is_noop():
    s = _sample()
    kps = s["keypoints"].copy()
    twice = RandomFlip(prob=1.0)(RandomFlip(prob=1.0)(s))
    np.testing.assert_allclose(twice["keypoints"], kps)
    s2 = _sample()
    out = RandomFlip(prob=0.0)(s2)
    assert out["flip"] is False
    np.testing.assert_allclose(out["keypoints"], kps)


@pytest.mark.parametrize("upper_prob, half, kept", [(1.0, "upper", [0, 1]), (0.0, "lower", [3, 4])])
def test_half_body_keeps_one_half(upper_prob, half, kept):
    t = RandomHalfBody(
        min_total_keypoints=3,
        min_upper_keypoints=2,
        min_lower_keypoints=2,
        padding=1.5,
        prob=1.0,
        upper_prioritized_prob=upper_prob,
    )
    out = t(_sample())
    assert out["half_body"] == [half]
    vis = out["keypoints_visible"][0]
    assert sorted(np.flatnonzero(vis > 0).tolist()) == kept
    pts = _sample()["keypoints"][0, kept]
    lo, hi = pts.min(0), pts.max(0)
    np.testing.assert_allclose(out["bbox_center"][0], (lo + hi) / 2, atol=1e-5)
    np.testing.assert_allclose(
        out["bbox_scale"][0], np.maximum((hi - lo) * 1.5, 0.1 * ((hi - lo) * 1.5).max()), atol=1e-5
    )


def test_half_body_skips_when_too_few_keypoints():
    t = RandomHalfBody(min_total_keypoints=9, prob=1.0)
    out = t(_sample())
    assert out["half_body"] == [None]
    np.testing.assert_allclose(out["bbox_center"], [[20.0, 15.0]])


def test_truncated_normal_range_and_spread():
    np.random.seed(0)  # noqa: NPY002  (the transforms use the global generator)
    v = truncated_normal(20000)
    assert v.min() >= -1 and v.max() <= 1
    # std of a standard normal truncated to [-1, 1] is 0.5379
    assert abs(v.std() - 0.5379) < 0.01 and abs(v.mean()) < 0.01


def test_bbox_transform_ranges():
    np.random.seed(1)  # noqa: NPY002  (the transforms use the global generator)
    t = TRANSFORMS.build(
        dict(
            type="RandomBBoxTransform",
            shift_factor=0.16,
            shift_prob=1.0,
            scale_factor=(0.5, 1.5),
            scale_prob=1.0,
            rotate_factor=80.0,
            rotate_prob=1.0,
        )
    )
    shifts, scales, rots = [], [], []
    for _ in range(300):
        out = t(_sample())
        shifts.append((out["bbox_center"][0] - [20.0, 15.0]) / [30.0, 26.0])
        scales.append(out["bbox_scale"][0] / [30.0, 26.0])
        rots.append(out["bbox_rotation"][0])
    shifts, scales, rots = map(np.asarray, (shifts, scales, rots))
    assert np.abs(shifts).max() <= 0.16 + 1e-6 and np.abs(shifts).max() > 0.12
    np.testing.assert_allclose(scales[:, 0], scales[:, 1], rtol=1e-5)  # isotropic
    assert scales.min() >= 0.5 - 1e-6 and scales.max() <= 1.5 + 1e-6
    assert np.abs(rots).max() <= 80 + 1e-4 and np.abs(rots).max() > 60


def test_keypoint_converter_maps_into_larger_set():
    s = _sample()
    out = KeypointConverter(num_keypoints=8, mapping=[(0, 7), (1, 2), ((3, 4), 5)])(s)
    assert out["keypoints"].shape == (1, 8, 2)
    np.testing.assert_allclose(out["keypoints"][0, 7], [20, 5])
    np.testing.assert_allclose(out["keypoints"][0, 5], [20.5, 25.5])
    np.testing.assert_array_equal(out["keypoints_visible"][0], [0, 0, 1, 0, 0, 1, 0, 1])


def _subpixel_peak(hm: np.ndarray) -> np.ndarray:
    """Peak of a Gaussian heatmap from a 3-point parabola fit of its log (exact for Gaussians)."""
    y, x = np.unravel_index(np.argmax(hm), hm.shape)
    lg = np.log(np.maximum(hm, 1e-30))
    dx = 0.5 * (lg[y, x + 1] - lg[y, x - 1]) / (2 * lg[y, x] - lg[y, x + 1] - lg[y, x - 1])
    dy = 0.5 * (lg[y + 1, x] - lg[y - 1, x]) / (2 * lg[y, x] - lg[y + 1, x] - lg[y - 1, x])
    return np.array([x + dx, y + dy])


def test_targets_peak_at_transformed_keypoints_after_augmentation(tmp_path):
    """Full training pipeline on a toy image: each target peaks at its transformed keypoint
    (within 0.05 heatmap px) and the warped image shows that keypoint's colour there."""
    from opencapbench.pose.datasets.coco import SynthPoseDataset
    from synthpose.finetune.toy_data import TOY_KEYPOINTS, write_toy_dataset

    toy = write_toy_dataset(
        tmp_path, num_train=6, num_val=1, num_keypoints=5, image_size=(160, 160), seed=3
    )
    codec = dict(
        type="MSRAHeatmap", input_size=(96, 128), heatmap_size=(24, 32), sigma=2, unbiased=True
    )
    pipeline = [
        dict(type="LoadImage"),
        dict(type="GetBBoxCenterScale"),
        dict(type="RandomFlip", prob=0.5),
        dict(
            type="RandomBBoxTransform", rotate_factor=40, rotate_prob=1.0, scale_factor=(0.9, 1.1)
        ),
        dict(type="TopdownAffine", input_size=(96, 128)),
        dict(type="GenerateTarget", encoder=codec),
    ]
    ds = SynthPoseDataset(
        ann_file=str(toy.train_ann),
        metainfo=str(toy.metainfo),
        data_prefix=dict(img=str(toy.image_dir)),
        pipeline=pipeline,
    )
    names = list(TOY_KEYPOINTS)[:5]
    np.random.seed(5)  # noqa: NPY002  (the transforms use the global generator)
    checked = 0
    for idx in range(len(ds)):
        r = ds[idx]
        for k in range(5):
            if r["keypoint_weights"][0, k] == 0:
                continue
            expected = r["transformed_keypoints"][0, k] / 4.0
            if not (1 <= expected[0] <= 22 and 1 <= expected[1] <= 30):
                continue  # peak outside the heatmap interior: nothing to locate
            peak = _subpixel_peak(r["heatmaps"][k])
            assert np.abs(peak - expected).max() < 0.05, (idx, k, peak, expected)
            x, y = np.round(r["transformed_keypoints"][0, k]).astype(int)
            colour = r["img"][y, x].astype(int)
            assert np.abs(colour - TOY_KEYPOINTS[names[k]][0]).max() < 60, (idx, k, colour)
            checked += 1
    assert checked >= 20
