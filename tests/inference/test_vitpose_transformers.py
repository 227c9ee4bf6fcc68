"""The ViTPose path against transformers' own documented flow, inside the image and at its border.

transformers' flow (model card / docs): ``VitPoseImageProcessor(images, boxes=COCO xywh)`` →
``VitPoseForPoseEstimation(pixel_values)`` → ``post_process_pose_estimation(outputs, boxes)``.
The model is a small randomly initialised ``VitPoseForPoseEstimation`` made here (no download).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from opencapbench.inference.testing import torch_threads
from opencapbench.inference.vitpose import VitPoseEstimator, bilinear_crops

IMAGE_HW = (240, 320)
#: xyxy px: two inside the image, one whose padded crop crosses the left and bottom borders,
#: one crossing the top and right borders, one sticking out on three sides
BOXES = np.array(
    [
        [100.5, 40.0, 180.0, 200.0],
        [30.0, 60.3, 95.7, 150.0],
        [-20.3, 130.2, 60.0, 255.0],
        [250.4, -30.0, 335.0, 90.6],
        [-15.0, -10.0, 330.0, 120.0],
    ]
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer ViTPose (hidden 32) with the real 256x192 input and 17 keypoints."""
    from transformers import (
        VitPoseBackboneConfig,
        VitPoseConfig,
        VitPoseForPoseEstimation,
        VitPoseImageProcessorPil,
    )

    out = tmp_path_factory.mktemp("vitpose_small")
    torch.manual_seed(3)
    backbone = VitPoseBackboneConfig(
        image_size=[256, 192],
        patch_size=[16, 16],
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_ratio=2,
        out_indices=[2],
    )
    config = VitPoseConfig(
        backbone_config=backbone, num_labels=17, use_simple_decoder=True, scale_factor=4
    )
    VitPoseForPoseEstimation(config).eval().save_pretrained(out)
    VitPoseImageProcessorPil(size={"height": 256, "width": 192}).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A smooth random BGR image (H, W, 3) uint8: a crop's content depends on where it is."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (*IMAGE_HW, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 4)


def transformers_flow(folder: Path, image_bgr: np.ndarray, boxes: np.ndarray):
    """Keypoints (N, K, 2) px and scores (N, K) the way transformers' docs run ViTPose."""
    from transformers import VitPoseForPoseEstimation, VitPoseImageProcessorPil

    processor = VitPoseImageProcessorPil.from_pretrained(folder)
    model = VitPoseForPoseEstimation.from_pretrained(folder).eval()
    xywh = [[[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in boxes]]
    inputs = processor(images=[image_bgr[..., ::-1].copy()], boxes=xywh, return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    (results,) = processor.post_process_pose_estimation(outputs, boxes=xywh)
    kp = np.stack([r["keypoints"].numpy() for r in results])
    sc = np.stack([r["scores"].numpy() for r in results])
    return kp, sc, inputs["pixel_values"].numpy()


def test_bilinear_crops_known_answer() -> None:
    """Hand-computed samples of a 2x3 one-channel image: interpolation, rounding, borders."""
    image = torch.tensor([[0, 100, 200], [50, 150, 255]], dtype=torch.uint8)[..., None]
    src_x = np.array([[0.0, 0.25, 1.5, 2.0, 2.0001, -0.0001]])
    src_y = np.array([[0.0, 0.5, 1.0]])
    got = bilinear_crops(image, src_x, src_y)[0, ..., 0].numpy()
    expected = np.array(
        [
            [0, 25, 150, 200, 0, 0],
            [25, 50, 176, 228, 0, 0],  # 176.25 -> 176, 227.5 -> 228 (half up)
            [50, 75, 203, 255, 0, 0],  # 202.5 -> 203
        ]
    )
    np.testing.assert_array_equal(got, expected)


def test_crops_at_the_border_equal_the_processor(folder: Path, image: np.ndarray) -> None:
    est = VitPoseEstimator(folder, flip_test=False)
    crops, _, _ = est._crops([image], [BOXES])
    ours = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    _, _, pixel_values = transformers_flow(folder, image, BOXES)
    theirs = (pixel_values - est._add.numpy()) / est._mul.numpy()  # back to grey levels
    diff = np.abs(ours - theirs)
    # the same sample points and weights: equal but for rare rounding ties (one grey level)
    assert diff.max() <= 1.01
    assert (diff > 0.5).mean() < 1e-4
    # the zero band where the source point is outside the image is the processor's exactly
    assert (ours == 0).mean() > 0.1


def test_keypoints_equal_transformers_flow_inside_and_across_borders(
    folder: Path, image: np.ndarray
) -> None:
    with torch_threads(1):
        est = VitPoseEstimator(folder, flip_test=False)
        ((kp, sc),) = est.predict_bboxes([image], [BOXES])
        kp_ref, sc_ref, _ = transformers_flow(folder, image, BOXES)
    err = np.linalg.norm(kp - kp_ref, axis=-1).max(axis=1)
    assert err.max() < 0.02, f"per-box max keypoint difference {err} px"  # measured: 2e-4
    np.testing.assert_allclose(sc, sc_ref, atol=2e-3)
    # cv2's warp with a constant border was 0.05 px off on the border boxes (and up to 31 px on
    # the wide one, where a one-grey-level change moved an argmax between near-equal pixels)


def test_no_flip_is_the_transformers_flow_and_flip_changes_it(
    folder: Path, image: np.ndarray
) -> None:
    with torch_threads(1):
        flipped = VitPoseEstimator(folder, flip_test=True)
        plain = VitPoseEstimator(folder, flip_test=False)
        crops, _, _ = plain._crops([image], [BOXES[:2]])
        heat_plain = plain.predict_crops(crops)
        heat_flip = flipped.predict_crops(crops)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(crops[..., ::-1])).permute(0, 3, 1, 2)
            x = x.float() * plain._mul + plain._add
            direct = plain.model(pixel_values=x).heatmaps.numpy()
            mirrored = plain.model(pixel_values=x.flip(-1)).heatmaps.numpy()
    np.testing.assert_allclose(heat_plain, direct, atol=1e-5)
    # flip test = mean of the heatmaps and the mirrored crop's heatmaps, mirrored back with the
    # left/right pairs swapped (UDP crops: no one-pixel shift)
    back = mirrored[:, np.array(flipped.flip_indices), :, ::-1]
    np.testing.assert_allclose(heat_flip, 0.5 * (direct + back), atol=1e-5)
