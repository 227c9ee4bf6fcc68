"""The SynthPose training config matches the published recipe; ``--data`` / ``--amp`` /
``--cfg-options`` edits; pretrained backbones load by URL through the cache and safe loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import opencapbench.pose.registry_all  # noqa: F401  (registers)
from opencapbench.device import PrecisionError
from opencapbench.pose.builder import build_pose_estimator
from opencapbench.pose.checkpoint import save_mmpose_checkpoint
from synthpose.finetune.runner import (
    FinetuneConfigError,
    build_config,
    parse_cfg_options,
    resolve_remote_checkpoints,
)

REPO = Path(__file__).resolve().parents[2]
SYNTHPOSE = REPO / "configs/synthpose/td-hm_hrnet-w48_dark-8xb32-30e_synthpose-384x288.py"
TINY = REPO / "configs/synthpose/tiny_cpu.py"
COCO_W48 = "td-hm_hrnet-w48_dark-8xb32-210e_coco-384x288-39c3c381_20220916.pth"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_synthpose_config_is_the_published_recipe(tmp_path):
    cfg = build_config(SYNTHPOSE, data=tmp_path)
    codec = cfg.codec
    assert codec.type == "MSRAHeatmap" and codec.unbiased is True and codec.sigma == 3
    assert tuple(codec.input_size) == (288, 384) and tuple(codec.heatmap_size) == (72, 96)
    assert cfg.model.head.out_channels == 52 and cfg.model.head.in_channels == 48
    init = cfg.model.backbone.init_cfg
    assert init.type == "Pretrained" and init.prefix == "backbone"
    assert init.checkpoint.endswith(COCO_W48)
    assert cfg.optim_wrapper.optimizer.type == "Adam" and cfg.optim_wrapper.optimizer.lr == 5e-4
    warm, step = cfg.param_scheduler
    assert (warm.type, warm.end, warm.start_factor, warm.by_epoch) == (
        "LinearLR",
        500,
        0.001,
        False,
    )
    assert (step.type, list(step.milestones), step.gamma) == ("MultiStepLR", [14, 20], 0.1)
    assert cfg.train_cfg.max_epochs == 30
    loader = cfg.train_dataloader
    assert loader.batch_size == 32 and loader.sampler.type == "MultiSourceSampler"
    assert list(loader.sampler.source_ratio) == [1, 1, 1, 1]
    coco = loader.dataset.datasets[3]
    assert coco.type == "CocoDataset"
    assert coco.pipeline[0].type == "KeypointConverter" and coco.pipeline[0].num_keypoints == 52
    assert [tuple(m) for m in coco.pipeline[0].mapping] == [(i, i) for i in range(17)]
    types = [t.type for t in loader.dataset.pipeline]
    assert types == [
        "LoadImage",
        "GetBBoxCenterScale",
        "RandomFlip",
        "RandomHalfBody",
        "RandomBBoxTransform",
        "TopdownAffine",
        "GenerateTarget",
        "PackPoseInputs",
    ]
    # --data re-roots every dataset, metainfo and evaluator path
    root = str(tmp_path.resolve())
    assert coco.data_root == root + "/coco/"
    assert loader.dataset.metainfo.from_file.startswith(root + "/synthpose/")
    assert cfg.val_evaluator[1].ann_file == root + "/synthpose/rich/annotations/val.json"
    assert [m.type for m in cfg.val_evaluator] == ["PCKAccuracy", "CocoMetric"]
    assert list(cfg.val_evaluator[0].thr) == [0.05, 0.1, 0.2]


def test_synthpose_model_builds_with_hrnet_w48_and_52_heatmaps():
    cfg = build_config(SYNTHPOSE)
    cfg.model.backbone.init_cfg = None
    model = build_pose_estimator(cfg)
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    assert abs(n_backbone / 1e6 - 63.59) < 0.01
    assert model.head.final_layer.weight.shape == (52, 48, 1, 1)


def test_cfg_options_amp_and_work_dir(tmp_path):
    opts = parse_cfg_options(["train_cfg.max_epochs=3", "param_scheduler.1.milestones=[1,2]"])
    assert opts == {"train_cfg.max_epochs": 3, "param_scheduler.1.milestones": [1, 2]}
    cfg = build_config(TINY, amp="bf16", cfg_options=["train_cfg.max_epochs=3"], resume=True)
    assert cfg.train_cfg.max_epochs == 3 and cfg.resume is True
    expected = "AmpOptimWrapper" if torch.cuda.is_available() else "AutocastOptimWrapper"
    assert cfg.optim_wrapper.type == expected
    assert cfg.work_dir == str(Path("work_dirs") / "tiny_cpu")
    with pytest.raises(FinetuneConfigError, match="KEY=VALUE"):
        parse_cfg_options(["max_epochs"])
    with pytest.raises(FinetuneConfigError, match="not a folder"):
        build_config(TINY, data=tmp_path / "missing")
    with pytest.raises(PrecisionError, match="fp16 autocast needs CUDA"):
        build_config(TINY, amp="fp16", device="cpu")
    assert (
        build_config(TINY, amp="none").optim_wrapper.get("type", "OptimWrapper") == "OptimWrapper"
    )


def test_pretrained_url_resolves_to_cache_and_loads_backbone_with_prefix(tmp_path):
    cfg = build_config(TINY)
    url = "https://example.invalid/mmpose/tiny_backbone.pth"
    cfg.model.backbone.init_cfg = dict(type="Pretrained", prefix="backbone", checkpoint=url)
    # a "downloaded" checkpoint already in the cache: a whole pose model, MMPose layout
    source = build_pose_estimator(build_config(TINY))
    source.init_weights()
    save_mmpose_checkpoint(source, tmp_path / "cache" / "tiny_backbone.pth")
    resolve_remote_checkpoints(cfg, cache_dir=tmp_path / "cache")
    assert cfg.model.backbone.init_cfg.checkpoint == str(tmp_path / "cache" / "tiny_backbone.pth")
    model = build_pose_estimator(cfg)
    model.init_weights()
    for k, v in source.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
    # the head is not in the prefix: it keeps its own (different) initialisation
    assert not torch.equal(model.head.final_layer.weight, source.head.final_layer.weight)


def test_unreachable_pretrained_url_names_the_cache_path(tmp_path):
    cfg = build_config(TINY)
    cfg.model.backbone.init_cfg = dict(
        type="Pretrained", prefix="backbone", checkpoint="http://127.0.0.1:9/nothing.pth"
    )
    with pytest.raises(FinetuneConfigError, match=r"download it yourself to .*nothing\.pth"):
        resolve_remote_checkpoints(cfg, cache_dir=tmp_path)


def test_cpu_autocast_wrapper_runs_backbone_in_bf16_and_loss_in_fp32(tmp_path):
    from mmengine.dataset import pseudo_collate

    from opencapbench.pose.datasets.coco import SynthPoseDataset
    from opencapbench.pose.registry import OPTIM_WRAPPERS
    from synthpose.finetune.toy_data import write_toy_dataset

    torch.manual_seed(0)
    cfg = build_config(TINY, amp="bf16", device="cpu")
    toy = write_toy_dataset(tmp_path, num_train=4, num_val=1, seed=2)
    ds = SynthPoseDataset(ann_file=str(toy.train_ann), metainfo=str(toy.metainfo),
                          data_prefix=dict(img=str(toy.image_dir)),
                          pipeline=cfg.train_dataloader.dataset.pipeline)  # fmt: skip
    model = build_pose_estimator(cfg)
    model.init_weights()
    wrapper = OPTIM_WRAPPERS.build(
        dict(type="AutocastOptimWrapper", optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    )
    seen = {}
    model.backbone.conv2.register_forward_hook(
        lambda m, i, o: seen.setdefault("conv", o.dtype) and None
    )
    before = model.head.final_layer.weight.detach().clone()
    logs = model.train_step(pseudo_collate([ds[i] for i in range(4)]), wrapper)
    assert seen["conv"] == torch.bfloat16
    assert logs["loss"].dtype == torch.float32 and torch.isfinite(logs["loss"])
    assert model.head.final_layer.weight.dtype == torch.float32  # master weights stay fp32
    assert not torch.equal(before, model.head.final_layer.weight)
