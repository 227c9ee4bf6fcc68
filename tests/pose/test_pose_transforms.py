"""Known-answer tests of the top-down pipeline: box -> centre/scale -> affine crop -> pack."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from opencapbench.pose.structures import PoseDataSample
from opencapbench.pose.transforms import Compose, ImageLoadError
from opencapbench.pose.transforms.gpu_warp import warp_affine_batch
from opencapbench.pose.transforms.warp import get_udp_warp_matrix, get_warp_matrix, warp_points

PIPELINE = [
    {"type": "LoadImage"},
    {"type": "GetBBoxCenterScale"},
    {"type": "TopdownAffine", "input_size": (288, 384)},
    {"type": "PackPoseInputs"},
]


def _results(img, bbox, keypoints=None):
    r = {"img": img, "bbox": np.array([bbox], np.float32), "bbox_score": np.ones(1, np.float32)}
    if keypoints is not None:
        r["keypoints"] = np.array([keypoints], np.float32)
        r["keypoints_visible"] = np.ones((1, len(keypoints)), np.float32)
    return r


def test_200x400_box_gives_input_scale_375x500_and_maps_points():
    img = np.zeros((600, 500, 3), np.uint8)
    out = Compose(PIPELINE)(_results(img, [100, 50, 300, 450], [[200, 250], [300, 50]]))
    sample = out["data_samples"]
    assert isinstance(sample, PoseDataSample)
    assert out["inputs"].shape == (3, 384, 288) and out["inputs"].dtype == torch.uint8
    np.testing.assert_allclose(sample.metainfo["input_scale"], [375.0, 500.0])
    np.testing.assert_allclose(sample.metainfo["input_center"], [200.0, 250.0])
    assert sample.metainfo["input_size"] == (288, 384)
    # centre -> crop centre; a point (dx, dy) from the centre scales by 288/375 = 384/500
    mat = get_warp_matrix(np.array([200.0, 250.0]), np.array([375.0, 500.0]), 0.0, (288, 384))
    np.testing.assert_allclose(
        warp_points(np.array([[200.0, 250.0], [300.0, 50.0]]), mat),
        [[144.0, 192.0], [144 + 100 * 0.768, 192 - 200 * 0.768]],
        atol=1e-4,
    )
    np.testing.assert_array_equal(sample.gt_instances.bboxes, [[100, 50, 300, 450]])
    np.testing.assert_allclose(sample.gt_instances.bbox_scales, [[375.0, 500.0]])


def test_unit_scale_crop_is_an_exact_pixel_translation():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (500, 400, 3), dtype=np.uint8)
    # box 230.4 x 307.2 -> padded scale exactly 288 x 384 around centre (200, 240)
    box = [200 - 115.2, 240 - 153.6, 200 + 115.2, 240 + 153.6]
    out = Compose(PIPELINE[:3])(_results(img, box, [[210.0, 250.0]]))
    np.testing.assert_allclose(out["input_scale"], [288.0, 384.0], atol=1e-3)
    np.testing.assert_array_equal(out["img"], img[240 - 192 : 240 + 192, 200 - 144 : 200 + 144])
    np.testing.assert_allclose(out["transformed_keypoints"][0, 0], [154.0, 202.0], atol=1e-3)


def test_udp_warp_sends_box_edges_to_pixel_centres():
    mat = get_udp_warp_matrix(np.array([300.0, 250.0]), np.array([375.0, 500.0]), 0.0, (288, 384))
    pts = np.array([[300 - 187.5, 250 - 250.0], [300 + 187.5, 250 + 250.0], [300.0, 250.0]])
    np.testing.assert_allclose(
        warp_points(pts, mat), [[0, 0], [287, 383], [143.5, 191.5]], atol=1e-4
    )


def test_grid_sample_crops_match_cv2_warp_affine():
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (5, 5), 0)
    mats = np.stack(
        [
            get_warp_matrix(np.array([150.0, 120.0]), np.array([180.0, 240.0]), 0.0, (48, 64)),
            get_warp_matrix(np.array([60.0, 200.0]), np.array([150.0, 200.0]), 25.0, (48, 64)),
            get_warp_matrix(np.array([300.0, 20.0]), np.array([90.0, 120.0]), -40.0, (48, 64)),
        ]
    )
    index = np.array([0, 1, 0])
    img2 = img[::-1].copy()
    crops = warp_affine_batch(
        [torch.from_numpy(img), torch.from_numpy(img2)], mats, index, (48, 64)
    )
    assert crops.shape == (3, 3, 64, 48)
    for i, b in enumerate(index):
        ref = cv2.warpAffine([img, img2][b], mats[i], (48, 64), flags=cv2.INTER_LINEAR)
        diff = np.abs(crops[i].permute(1, 2, 0).numpy() - ref.astype(np.float32))
        # OpenCV quantises bilinear weights to 1/32: at most a few grey levels apart
        assert diff.max() <= 4 and diff.mean() < 0.5


def test_load_image_from_file_and_missing_file(tmp_path):
    img = np.full((30, 40, 3), (10, 20, 30), np.uint8)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), img)
    out = Compose([{"type": "LoadImage"}])({"img_path": str(path)})
    np.testing.assert_array_equal(out["img"], img)
    assert out["img_shape"] == (30, 40) and out["ori_shape"] == (30, 40)
    with pytest.raises(ImageLoadError, match="missing.png"):
        Compose([{"type": "LoadImage"}])({"img_path": str(tmp_path / "missing.png")})


def test_pack_pose_inputs_puts_targets_in_mmpose_fields():
    from opencapbench.pose.transforms import PackPoseInputs

    r = _results(np.zeros((8, 6, 3), np.uint8), [0, 0, 6, 8], [[1, 2], [3, 4]])
    r["heatmaps"] = np.ones((2, 4, 3), np.float32)
    r["keypoint_weights"] = np.array([[1.0, 0.5]], np.float32)
    r["flip_indices"] = [1, 0]
    sample = PackPoseInputs()(r)["data_samples"]
    assert sample.gt_fields.heatmaps.shape == (2, 4, 3)
    assert isinstance(sample.gt_fields.heatmaps, torch.Tensor)
    torch.testing.assert_close(
        sample.gt_instance_labels.keypoint_weights, torch.tensor([[1.0, 0.5]])
    )
    np.testing.assert_array_equal(sample.gt_instances.keypoints, [[[1, 2], [3, 4]]])
    assert sample.metainfo["flip_indices"] == [1, 0]
