"""Config tests: MMPose configs load with mmengine and build through the 'mmpose' registries."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS
from mmengine.registry import DefaultScope

from opencapbench.inference.catalog import MODELS as CATALOG
from opencapbench.pose.models import TopdownPoseEstimator
from opencapbench.pose.registry import KEYPOINT_CODECS, MODELS, TRANSFORMS
from opencapbench.pose.transforms import TopdownAffine

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pose"
SYNTHPOSE = CATALOG["synthpose-hrnet48"].config_path  # bundled with the package
TINY = CONFIGS / "tiny_hrnet_test.py"


def test_synthpose_inference_config_fields():
    cfg = Config.fromfile(str(SYNTHPOSE))
    assert cfg.default_scope == "mmpose"
    head = cfg.model.head
    assert head.out_channels == 52 and head.in_channels == 48 and head.deconv_out_channels is None
    assert head.decoder.type == "MSRAHeatmap" and head.decoder.unbiased is True
    assert tuple(head.decoder.input_size) == (288, 384)
    assert tuple(head.decoder.heatmap_size) == (72, 96)
    assert cfg.model.test_cfg.flip_test and cfg.model.test_cfg.shift_heatmap
    assert [t.type for t in cfg.val_dataloader.dataset.pipeline] == [
        "LoadImage",
        "GetBBoxCenterScale",
        "TopdownAffine",
        "PackPoseInputs",
    ]


def test_registries_are_mmpose_scoped_children_of_mmengine_roots():
    assert MODELS.scope == "mmpose" and MODELS.parent is ROOT_MODELS
    assert ROOT_MODELS.children["mmpose"] is MODELS
    assert {
        "HRNet",
        "HeatmapHead",
        "KeypointMSELoss",
        "PoseDataPreprocessor",
        "TopdownPoseEstimator",
    } <= set(MODELS.module_dict)
    assert {"MSRAHeatmap", "UDPHeatmap"} <= set(KEYPOINT_CODECS.module_dict)
    assert {"LoadImage", "GetBBoxCenterScale", "TopdownAffine", "PackPoseInputs"} <= set(
        TRANSFORMS.module_dict
    )


def test_mmengine_root_registries_build_under_default_scope_mmpose():
    """What mmengine's Runner does with ``default_scope='mmpose'``: build from the roots."""
    cfg = Config.fromfile(str(TINY))
    with DefaultScope.overwrite_default_scope("mmpose"):
        model = ROOT_MODELS.build(cfg.model)
        affine = ROOT_TRANSFORMS.build({"type": "TopdownAffine", "input_size": (64, 96)})
    assert isinstance(model, TopdownPoseEstimator)
    assert model.head.out_channels == 17 and model.head.decoder.heatmap_size == (16, 24)
    assert isinstance(affine, TopdownAffine)


def test_unknown_codec_type_is_a_clear_error():
    from opencapbench.pose.builder import build_pose_estimator
    from opencapbench.pose.errors import PoseConfigError

    cfg = Config.fromfile(str(TINY))
    cfg.model.head.decoder = {"type": "SimCCLabel", "input_size": (64, 96)}
    with pytest.raises(PoseConfigError, match="head.decoder: unknown type 'SimCCLabel'"):
        build_pose_estimator(cfg)
