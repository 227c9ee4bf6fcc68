"""Checkpoint tests: MMPose layout, safe loading allowlist, keypoint-count checks."""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from opencapbench.keypoints import COCO17
from opencapbench.pose.api import PoseModel
from opencapbench.pose.builder import build_pose_estimator, load_config
from opencapbench.pose.checkpoint import (
    dataset_meta_from_keypoint_set,
    load_checkpoint_file,
    load_pretrained,
    save_mmpose_checkpoint,
)
from opencapbench.pose.errors import CheckpointMismatchError, UnsafeCheckpointError

TINY = Path(__file__).resolve().parents[2] / "configs" / "pose" / "tiny_hrnet_test.py"


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> tuple[Path, dict]:
    torch.manual_seed(0)
    model = build_pose_estimator(TINY)
    model.init_weights()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_mmpose_checkpoint(model, path, dataset_meta_from_keypoint_set(COCO17))
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def test_save_then_safe_load_round_trips_with_mmpose_layout(tiny_ckpt):
    path, sd = tiny_ckpt
    ckpt = load_checkpoint_file(path)
    assert set(ckpt) == {"meta", "state_dict"}
    assert list(ckpt["state_dict"]) == list(sd)
    assert "backbone.stage4.0.fuse_layers.0.3.0.weight" in ckpt["state_dict"]
    for k, v in sd.items():
        torch.testing.assert_close(ckpt["state_dict"][k], v)
    meta = ckpt["meta"]["dataset_meta"]
    assert meta["flip_indices"] == list(COCO17.flip_indices)
    assert meta["keypoint_id2name"][16] == "right_ankle"
    assert isinstance(meta["sigmas"], np.ndarray) and meta["sigmas"][0] == pytest.approx(0.026)


def test_pose_model_loads_checkpoint_and_reads_dataset_meta(tiny_ckpt, tmp_path):
    path, sd = tiny_ckpt
    model = PoseModel.from_config(TINY, checkpoint=path)
    torch.testing.assert_close(
        model.estimator.state_dict()["head.final_layer.weight"], sd["head.final_layer.weight"]
    )
    assert model.keypoint_names == list(COCO17.names) and model.keypoint_set == "coco17"
    # names that no registered set has come from the checkpoint's dataset_meta
    est = build_pose_estimator(TINY)
    est.load_state_dict(sd)
    meta = dataset_meta_from_keypoint_set(COCO17)
    meta["keypoint_id2name"] = {i: f"kp{i}" for i in range(17)}
    custom = tmp_path / "custom.pth"
    save_mmpose_checkpoint(est, custom, meta)
    model = PoseModel.from_config(TINY, checkpoint=custom)
    assert model.keypoint_names[3] == "kp3" and model.keypoint_set is None
    assert model.flip_indices == list(COCO17.flip_indices)


def _training_checkpoint() -> dict:
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer

    buf = HistoryBuffer()
    buf.update(0.25)
    buf.update(np.float64(0.5))
    return {
        "meta": {
            "epoch": 3,
            "cfg": "model = dict(type='TopdownPoseEstimator')",
            "dataset_meta": {
                "sigmas": np.array([0.026, 0.025], np.float32),
                "keypoint_colors": np.zeros((2, 3), np.uint8),
                "num_keypoints": np.int64(2),
            },
        },
        "state_dict": OrderedDict(w=torch.ones(2)),
        "message_hub": {
            "log_scalars": OrderedDict({"train/loss": buf}),
            "runtime_info": OrderedDict(best_score=np.float64(0.7), cfg=ConfigDict(a=1)),
            "resumed_keys": OrderedDict({"train/loss": True}),
        },
        "optimizer": {
            "state": {0: {"step": torch.tensor(3.0)}},
            "param_groups": [{"lr": 5e-4, "params": [0]}],
        },
    }


def test_training_checkpoint_with_numpy_and_mmengine_objects_loads(tmp_path):
    path = tmp_path / "epoch_3.pth"
    torch.save(_training_checkpoint(), path)
    ckpt = load_checkpoint_file(path)
    np.testing.assert_allclose(ckpt["meta"]["dataset_meta"]["sigmas"], [0.026, 0.025])
    assert ckpt["meta"]["dataset_meta"]["keypoint_colors"].dtype == np.uint8
    buf = ckpt["message_hub"]["log_scalars"]["train/loss"]
    assert buf.current() == 0.5 and buf.mean() == pytest.approx(0.375)
    assert ckpt["message_hub"]["runtime_info"]["best_score"] == pytest.approx(0.7)
    assert ckpt["message_hub"]["runtime_info"]["cfg"]["a"] == 1


def test_numpy1_pickles_load(tmp_path):
    """Checkpoints written under numpy 1.x name ``numpy.core.multiarray`` functions."""
    raw = io.BytesIO()
    torch.save(_training_checkpoint()["meta"], raw)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    path = tmp_path / "np1.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            dst.writestr(info, data)
    meta = load_checkpoint_file(path)
    np.testing.assert_allclose(meta["dataset_meta"]["sigmas"], [0.026, 0.025])


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_disallowed_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "x": _Payload(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pth.*io\.open"):
        load_checkpoint_file(path)
    assert not marker.exists()
    # the restricted getattr is not a general getattr
    torch.save({"x": _GetattrPayload()}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(path)


class _GetattrPayload:
    """Pickles ``getattr(HistoryBuffer, "__init__")``: getattr is only allowed for statistics."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer

        return (getattr, (HistoryBuffer, "__init__"))


def test_keypoint_count_mismatch_is_a_clear_error(tiny_ckpt, tmp_path):
    path, sd = tiny_ckpt
    cfg = load_config(TINY)
    cfg.model.head.out_channels = 5
    with pytest.raises(
        CheckpointMismatchError,
        match="config head out_channels: 5.*checkpoint head.final_layer: 17",
    ):
        PoseModel.from_config(cfg, checkpoint=path)
    est = build_pose_estimator(TINY)
    est.load_state_dict(sd)
    meta = dataset_meta_from_keypoint_set(COCO17)
    meta["keypoint_id2name"] = {0: "a", 1: "b", 2: "c"}
    bad = tmp_path / "bad_meta.pth"
    save_mmpose_checkpoint(est, bad, meta)
    with pytest.raises(CheckpointMismatchError, match="dataset_meta: 3"):
        PoseModel.from_config(TINY, checkpoint=bad)
    with pytest.raises(CheckpointMismatchError, match="'synthpose52' has 52"):
        PoseModel.from_config(TINY, checkpoint=path, keypoint_set="synthpose52")


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_checkpoint_file(tmp_path / "nope.pth")


def test_load_pretrained_backbone_prefix(tiny_ckpt):
    path, sd = tiny_ckpt
    backbone = build_pose_estimator(TINY).backbone
    missing, unexpected = load_pretrained(backbone, path, prefix="backbone")
    assert missing == [] and unexpected == []
    torch.testing.assert_close(backbone.conv1.weight, sd["backbone.conv1.weight"])


def test_init_cfg_pretrained_backbone_and_mmpose0_head_keys(tiny_ckpt, tmp_path):
    path, sd = tiny_ckpt
    cfg = load_config(TINY)
    cfg.model.backbone.init_cfg = {
        "type": "Pretrained",
        "prefix": "backbone",
        "checkpoint": str(path),
    }
    est = build_pose_estimator(cfg)
    est.init_weights()
    torch.testing.assert_close(
        est.backbone.stage4[0].fuse_layers[0][3][0].weight,
        sd["backbone.stage4.0.fuse_layers.0.3.0.weight"],
    )
    # MMPose 0.x named the head 'keypoint_head'
    old = OrderedDict(
        (k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k, v)
        for k, v in sd.items()
    )
    old_path = tmp_path / "mmpose0.pth"
    torch.save({"state_dict": old}, old_path)
    model = PoseModel.from_config(TINY, checkpoint=old_path)
    torch.testing.assert_close(model.estimator.head.final_layer.bias, sd["head.final_layer.bias"])
