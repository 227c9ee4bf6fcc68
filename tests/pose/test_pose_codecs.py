"""Known-answer tests of the heatmap codecs (MSRA/DARK, UDP) and the batched torch decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from opencapbench.pose.codecs import MSRAHeatmap, UDPHeatmap
from opencapbench.pose.codecs.refinement import gaussian_blur, get_heatmap_maximum
from opencapbench.pose.codecs.torch_decode import gaussian_blur as torch_blur
from opencapbench.pose.transforms.warp import get_udp_warp_matrix, warp_points

# Sub-pixel points well inside a 288x384 input (72x96 heatmap).
POINTS = np.array([[[100.3, 200.7], [37.1, 55.55], [250.2, 300.9], [144.0, 192.0]]], np.float32)


def test_unbiased_encode_dark_decode_round_trip_subpixel():
    codec = MSRAHeatmap((288, 384), (72, 96), sigma=3, unbiased=True)
    enc = codec.encode(POINTS)
    assert enc["heatmaps"].shape == (4, 96, 72)
    np.testing.assert_array_equal(enc["keypoint_weights"], np.ones((1, 4)))
    kp, scores = codec.decode(enc["heatmaps"])
    assert kp.shape == (1, 4, 2)
    np.testing.assert_allclose(kp, POINTS, atol=0.01)
    # the heatmap maximum is the Gaussian sampled at the nearest grid point
    d2 = ((POINTS[0] / 4 - np.round(POINTS[0] / 4)) ** 2).sum(-1)
    np.testing.assert_allclose(scores[0], np.exp(-d2 / (2 * 9)), rtol=1e-5)


def test_biased_encoding_loses_the_subpixel_part():
    codec = MSRAHeatmap((288, 384), (72, 96), sigma=2, unbiased=False)
    kp, _ = codec.decode(codec.encode(POINTS)["heatmaps"])
    # the patch is centred at int(mu/4 + 0.5); its neighbours are equal, so the
    # quarter-pixel shift is zero and the decoded point is the rounded centre times 4
    np.testing.assert_allclose(kp[0], np.floor(POINTS[0] / 4 + 0.5) * 4, atol=1e-6)
    # an asymmetric peak moves a quarter heatmap pixel (1 input px) toward the higher side
    hm = np.zeros((1, 96, 72), np.float32)
    hm[0, 50, 30], hm[0, 50, 31], hm[0, 49, 30] = 1.0, 0.5, 0.2
    np.testing.assert_allclose(codec.decode(hm)[0][0, 0], [30.25 * 4, 49.75 * 4])


def test_invisible_and_far_outside_keypoints_get_zero_weight():
    codec = MSRAHeatmap((288, 384), (72, 96), sigma=2, unbiased=True)
    pts = np.array([[[100, 100], [-60, 50], [50, 50]]], np.float32)
    enc = codec.encode(pts, np.array([[1.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(enc["keypoint_weights"], [[1.0, 0.0, 0.0]])
    assert enc["heatmaps"][1].max() == 0 and enc["heatmaps"][2].max() == 0
    locs, vals = get_heatmap_maximum(enc["heatmaps"])
    np.testing.assert_array_equal(locs[1], [-1, -1])
    assert vals[1] == 0


def _noisy_heatmaps(codec, rng, batch=3):
    hms = []
    for _ in range(batch):
        pts = rng.uniform([8, 8], [280, 376], size=(1, 17, 2)).astype(np.float32)
        hm = codec.encode(pts)["heatmaps"]
        hms.append(hm + rng.normal(0, 0.01, hm.shape).astype(np.float32))
    return np.stack(hms)


@pytest.mark.parametrize("unbiased", [True, False])
def test_torch_batch_decode_matches_numpy_msra(unbiased):
    rng = np.random.default_rng(0)
    codec = MSRAHeatmap((288, 384), (72, 96), sigma=2, unbiased=unbiased)
    hms = _noisy_heatmaps(codec, rng)
    kp_t, sc_t = codec.decode_torch(torch.from_numpy(hms))
    for b in range(hms.shape[0]):
        kp, sc = codec.decode(hms[b])
        np.testing.assert_allclose(kp_t[b].numpy(), kp[0], atol=1e-4)
        np.testing.assert_allclose(sc_t[b].numpy(), sc[0], atol=1e-7)


def test_torch_batch_decode_matches_numpy_udp():
    rng = np.random.default_rng(1)
    codec = UDPHeatmap((288, 384), (72, 96), sigma=2)
    hms = _noisy_heatmaps(codec, rng)
    kp_t, _ = codec.decode_torch(torch.from_numpy(hms))
    for b in range(hms.shape[0]):
        np.testing.assert_allclose(kp_t[b].numpy(), codec.decode(hms[b])[0][0], atol=1e-4)


def test_torch_blur_matches_opencv_blur():
    rng = np.random.default_rng(2)
    hm = rng.random((5, 24, 16)).astype(np.float32)
    np.testing.assert_allclose(
        torch_blur(torch.from_numpy(hm)[None], 11)[0].numpy(), gaussian_blur(hm, 11), atol=1e-6
    )


def test_udp_round_trip_in_image_space():
    """UDP warp + encode + decode + MMPose's back-mapping returns the image point."""
    codec = UDPHeatmap((288, 384), (72, 96), sigma=2)
    center, scale = np.array([300.0, 250.0]), np.array([375.0, 500.0])
    mat = get_udp_warp_matrix(center, scale, 0.0, (288, 384))
    img_pts = np.array([[[250.3, 180.6], [333.3, 401.1]]], np.float32)
    kp_in, _ = codec.decode(codec.encode(warp_points(img_pts, mat))["heatmaps"])
    back = kp_in / np.array([288, 384]) * scale + center - 0.5 * scale
    np.testing.assert_allclose(back, img_pts, atol=0.02)


def test_udp_combined_is_a_clear_error():
    from opencapbench.pose.errors import PoseConfigError

    with pytest.raises(PoseConfigError, match="combined"):
        UDPHeatmap((288, 384), (72, 96), heatmap_type="combined")
