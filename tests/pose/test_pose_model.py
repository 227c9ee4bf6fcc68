"""Model tests: HRNet-W48 size/shape, MMPose parameter names, head, loss, flip test, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from opencapbench.inference.catalog import MODELS
from opencapbench.keypoints import COCO17
from opencapbench.pose.api import PoseModel
from opencapbench.pose.builder import build_pose_estimator, load_config
from opencapbench.pose.codecs import MSRAHeatmap
from opencapbench.pose.models import HeatmapHead, KeypointMSELoss, TopdownPoseEstimator
from opencapbench.pose.models.flip import flip_heatmaps
from opencapbench.pose.registry import register_all_modules
from opencapbench.pose.structures import PoseDataSample
from opencapbench.pose.transforms import Compose

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pose"
SYNTHPOSE = MODELS["synthpose-hrnet48"].config_path  # bundled with the package
TINY = CONFIGS / "tiny_hrnet_test.py"


def test_synthpose_config_builds_hrnet_w48_with_63_59m_params_and_96x72_features():
    register_all_modules()  # import registering modules outside the meta-device context
    with torch.device("meta"):  # skip the costly random init; weights are zeroed below
        model = build_pose_estimator(SYNTHPOSE)
    assert isinstance(model, TopdownPoseEstimator)
    n = sum(p.numel() for p in model.backbone.parameters())
    assert round(n / 1e6, 2) == 63.59
    assert sum(p.numel() for p in model.head.parameters()) == 48 * 52 + 52
    assert model.head.decoder.input_size == (288, 384)
    backbone = model.backbone.to_empty(device="cpu").eval()
    for t in list(backbone.parameters()) + list(backbone.buffers()):
        t.data.zero_()
    with torch.inference_mode():
        feats = backbone(torch.zeros(1, 3, 384, 288))
    assert len(feats) == 1 and feats[0].shape == (1, 48, 96, 72)


def test_state_dict_keys_are_mmpose_names():
    keys = set(build_pose_estimator(TINY).state_dict())
    for k in (
        "backbone.conv1.weight",
        "backbone.bn2.running_var",
        "backbone.layer1.0.conv3.weight",
        "backbone.layer1.0.downsample.1.weight",
        "backbone.transition1.0.0.weight",
        "backbone.transition1.1.0.0.weight",
        "backbone.transition3.3.0.1.bias",
        "backbone.stage2.0.branches.1.0.conv2.weight",
        "backbone.stage3.0.fuse_layers.2.0.1.0.weight",  # 2-step downsample, first step
        "backbone.stage3.0.fuse_layers.0.2.1.weight",  # upsample branch BN
        "backbone.stage4.0.fuse_layers.0.3.0.weight",
        "head.final_layer.weight",
        "head.final_layer.bias",
    ):
        assert k in keys, k
    # stage4 keeps only the highest-resolution output
    assert not any(k.startswith("backbone.stage4.0.fuse_layers.1.") for k in keys)
    assert not any(k.startswith("head.deconv_layers") for k in keys)


def test_heatmap_head_with_deconv_layers():
    head = HeatmapHead(
        in_channels=8,
        out_channels=5,
        deconv_out_channels=(16, 16),
        deconv_kernel_sizes=(4, 3),
        conv_out_channels=(16,),
        conv_kernel_sizes=(3,),
    )
    keys = set(head.state_dict())
    assert {
        "deconv_layers.0.weight",
        "deconv_layers.1.running_mean",
        "deconv_layers.3.weight",
    } <= keys
    assert {"conv_layers.0.bias", "conv_layers.1.weight", "final_layer.weight"} <= keys
    assert head([torch.zeros(2, 8, 6, 5)]).shape == (2, 5, 24, 20)


def test_keypoint_mse_loss_known_values():
    out, tgt = torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 3, 3)
    assert KeypointMSELoss()(out, tgt).item() == pytest.approx(1.0)
    w = torch.tensor([[1.0, 0.0]])
    assert KeypointMSELoss(use_target_weight=True)(out, tgt, w).item() == pytest.approx(0.5)
    assert KeypointMSELoss(loss_weight=3.0)(out, tgt, w).item() == pytest.approx(1.5)
    tgt[0, 1] = 0  # an empty target channel
    assert KeypointMSELoss(skip_empty_channel=True)(out + 2, tgt).item() == pytest.approx(
        (1.0 * 9 + 0.0) / 18
    )


def test_flip_heatmaps_flips_reorders_and_shifts():
    hm = torch.arange(2 * 1 * 4, dtype=torch.float32).view(1, 2, 1, 4)  # ch0 0..3, ch1 4..7
    out = flip_heatmaps(hm, [1, 0], shift_heatmap=False)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([[7.0, 6, 5, 4], [3, 2, 1, 0]]))
    out = flip_heatmaps(hm, [1, 0], shift_heatmap=True)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([[7.0, 7, 6, 5], [3, 3, 2, 1]]))


class _MirrorBackbone(nn.Module):
    """A hand-built flip-equivariant 'backbone': heatmaps from coloured blobs.

    A left keypoint's channel is the 4x4-pooled red channel in the left half of the crop,
    its right partner's the red channel in the right half, the nose's the green channel.
    Pooling commutes with mirroring, so ``H(flip(x)) = swap(flip(H(x)))``.
    """

    def forward(self, x: torch.Tensor):
        red, green = x[:, 2], x[:, 1]
        w = x.shape[-1]
        left = torch.zeros_like(red)
        left[..., : w // 2] = 1
        maps = []
        for i, j in enumerate(COCO17.flip_indices):
            if i == j:
                src = green
            elif COCO17.names[i].startswith("left"):
                src = red * left
            else:
                src = red * (1 - left)
            maps.append(F.avg_pool2d(src[:, None], 4)[:, 0])
        return (torch.stack(maps, dim=1),)


def _mirror_model(flip_test: bool) -> PoseModel:
    codec = {
        "type": "MSRAHeatmap",
        "input_size": (64, 96),
        "heatmap_size": (16, 24),
        "sigma": 2,
        "unbiased": True,
    }
    est = TopdownPoseEstimator(
        backbone=_MirrorBackbone(),
        head={
            "type": "HeatmapHead",
            "in_channels": 17,
            "out_channels": 17,
            "deconv_out_channels": None,
            "final_layer": None,
            "decoder": codec,
        },
        test_cfg={"flip_test": flip_test, "flip_mode": "heatmap", "shift_heatmap": True},
        data_preprocessor={"type": "PoseDataPreprocessor", "mean": [0, 0, 0], "std": [1, 1, 1]},
    )
    return PoseModel(est, COCO17.names, COCO17.flip_indices, "coco17")


def _blob_crop() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(64.0), indexing="ij")

    def blob(x, y):
        return 200 * torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2))

    crop = torch.zeros(1, 3, 96, 64)
    crop[0, 2] = blob(17.3, 40.6) + blob(45.8, 61.2)  # red: one blob per half
    crop[0, 1] = blob(30.2, 25.7)  # green
    return crop


@pytest.mark.parametrize("flip_test, offset", [(True, 64.0), (False, 60.0)])
def test_flip_test_on_mirrored_crop_gives_mirrored_keypoints(flip_test, offset):
    """x'_k + x_partner(k) is 4*W_heatmap with the shifted flip test, 4*(W_heatmap-1) without."""
    model = _mirror_model(flip_test)
    crop = _blob_crop()
    kp, _ = model.predict_crops(crop)
    kp_m, _ = model.predict_crops(crop.flip(-1))
    fi = list(COCO17.flip_indices)
    np.testing.assert_allclose(kp_m[0, :, 0] + kp[0, fi, 0], offset, atol=1e-3)
    np.testing.assert_allclose(kp_m[0, :, 1], kp[0, fi, 1], atol=1e-3)
    # left keypoints sit on the left-half blob, right ones on the right-half blob
    assert abs(kp[0, 1, 0] - 17.3) < 2.5 and abs(kp[0, 2, 0] - 45.8) < 2.5


def _sample_batch(img, bbox, codec=None):
    pipeline = [
        {"type": "LoadImage"},
        {"type": "GetBBoxCenterScale"},
        {"type": "TopdownAffine", "input_size": (64, 96)},
    ]
    r = Compose(pipeline)(
        {
            "img": img,
            "bbox": np.array([bbox], np.float32),
            "bbox_score": np.ones(1, np.float32),
            "keypoints": np.array([[[30 + 3 * k, 40 + 2 * k] for k in range(17)]], np.float32),
            "keypoints_visible": np.ones((1, 17), np.float32),
            "flip_indices": list(COCO17.flip_indices),
        }
    )
    if codec is not None:
        r.update(codec.encode(r["transformed_keypoints"], r["keypoints_visible"]))
    return Compose([{"type": "PackPoseInputs"}])(r)


def test_predict_mode_matches_batched_api_and_maps_to_image_space():
    torch.manual_seed(0)
    model = PoseModel.from_config(TINY)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    bbox = [10.0, 15.0, 70.0, 105.0]
    packed = _sample_batch(img, bbox)
    data = model.estimator.data_preprocessor(
        {"inputs": [packed["inputs"]], "data_samples": [packed["data_samples"]]}
    )
    with torch.no_grad():
        (sample,) = model.estimator(data["inputs"], data["data_samples"], mode="predict")
    ref_kp = sample.pred_instances.keypoints[0]
    ref_sc = sample.pred_instances.keypoint_scores[0]
    # input-space keypoints map to image space as kp / input_size * scale + centre - scale / 2
    # (heatmaps from the batched path: equal up to float rounding of the batched convs)
    heat = model.heatmaps(packed["inputs"][None])
    kp_in, _ = MSRAHeatmap((64, 96), (16, 24), 2, unbiased=True).decode(heat[0].numpy())
    scale, centre = sample.metainfo["input_scale"], sample.metainfo["input_center"]
    np.testing.assert_allclose(
        ref_kp, kp_in[0] / [64, 96] * scale + centre - 0.5 * scale, atol=1e-3
    )
    ((kp, sc),) = model.predict_bboxes([img], [np.array([bbox])])
    # batched torch path vs MMPose's per-sample numpy path (float rounding only)
    np.testing.assert_allclose(kp[0], ref_kp, atol=1e-3)
    np.testing.assert_allclose(sc[0], ref_sc, atol=1e-6)


def test_loss_mode_returns_mse_against_encoded_targets_and_pck():
    torch.manual_seed(0)
    est = build_pose_estimator(TINY)
    est.init_weights()
    codec = est.head.decoder
    img = np.random.default_rng(1).integers(0, 256, (120, 100, 3), dtype=np.uint8)
    packed = [_sample_batch(img, [10.0, 15.0, 70.0, 105.0], codec) for _ in range(2)]
    data = est.data_preprocessor(
        {
            "inputs": [p["inputs"] for p in packed],
            "data_samples": [p["data_samples"] for p in packed],
        },
        True,
    )
    losses = est(data["inputs"], data["data_samples"], mode="loss")
    assert set(losses) == {"loss_kpt", "acc_pose"}
    with torch.no_grad():
        pred = est(data["inputs"], mode="tensor")
    target = torch.stack([d.gt_fields.heatmaps for d in data["data_samples"]])
    w = torch.cat([d.gt_instance_labels.keypoint_weights for d in data["data_samples"]])
    expected = ((pred - target) ** 2 * w[..., None, None]).mean()
    assert losses["loss_kpt"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert 0.0 <= losses["acc_pose"].item() <= 1.0
    # a head that outputs the target exactly has PCK 1
    from opencapbench.pose.models.accuracy import pose_pck_accuracy

    _, acc, cnt = pose_pck_accuracy(target.numpy(), target.numpy(), w.numpy() > 0)
    assert acc == 1.0 and cnt == 17


def test_unknown_model_type_is_a_clear_error():
    from opencapbench.pose.errors import PoseConfigError

    cfg = load_config(TINY)
    cfg.model.backbone.type = "ViT"
    with pytest.raises(PoseConfigError, match="'ViT'"):
        build_pose_estimator(cfg)
    cfg = load_config(TINY)
    cfg.model.type = "BottomupPoseEstimator"
    with pytest.raises(PoseConfigError, match="BottomupPoseEstimator"):
        build_pose_estimator(cfg)


def test_unused_fields_are_ignored_with_a_warning():
    cfg = load_config(TINY)
    cfg.model.test_cfg["output_keypoint_indices"] = [0, 1]
    cfg.model.backbone["zero_init_residual"] = True
    with pytest.warns(UserWarning, match="output_keypoint_indices"):
        with pytest.warns(UserWarning, match="zero_init_residual"):
            build_pose_estimator(cfg)


def test_data_sample_fields():
    ds = PoseDataSample()
    with pytest.raises(AssertionError):
        ds.gt_instances = {"not": "InstanceData"}


def test_grid_sample_crop_backend_agrees_with_cv2_crops():
    """The CUDA crop path (grid_sample, run here on CPU) agrees with MMPose's cv2 crops."""
    torch.manual_seed(0)
    model = PoseModel.from_config(TINY)
    img = np.random.default_rng(3).integers(0, 256, (30, 25, 3), dtype=np.uint8)
    img = np.ascontiguousarray(np.repeat(np.repeat(img, 4, 0), 4, 1))  # smooth-ish 120x100
    boxes = [np.array([[10.0, 15.0, 70.0, 105.0], [40.0, 5.0, 95.0, 60.0]]), np.zeros((0, 4))]
    crops_cv2, centre, scale, index = model.crop([img, img], boxes)
    ref = model.predict_bboxes([img, img], boxes)
    model.crop_backend = "torch"
    crops_t, centre_t, _, _ = model.crop([img, img], boxes)
    np.testing.assert_array_equal(index, [0, 0])
    np.testing.assert_array_equal(centre, centre_t)
    diff = (crops_cv2 - crops_t).abs()
    assert diff.max() <= 4 and diff.mean() < 0.5
    out = model.predict_bboxes([img, img], boxes)
    assert out[0][0].shape == (2, 17, 2) and out[1][0].shape == (0, 17, 2)
    np.testing.assert_allclose(out[0][1], ref[0][1], atol=0.02)
