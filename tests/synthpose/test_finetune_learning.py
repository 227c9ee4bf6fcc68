"""A tiny HRNet learns toy keypoints on CPU; its checkpoint works in ``ocb infer`` and has
MMPose's layout; ``ocb finetune`` writes the resolved config and reports bad data clearly."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from mmengine.hooks import Hook

from opencapbench.cli import main as ocb
from opencapbench.pose.checkpoint import load_checkpoint_file
from synthpose.finetune.runner import build_config, build_runner
from synthpose.finetune.toy_data import render_person, write_toy_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "synthpose" / "tiny_cpu.py"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class EvalRecorder(Hook):
    """Evaluates the freshly initialised model before training; keeps every validation result."""

    def __init__(self) -> None:
        self.initial: dict = {}
        self.val: list[dict] = []

    def before_train(self, runner) -> None:
        loop = runner.val_loop
        runner.model.eval()
        with torch.no_grad():
            for batch in loop.dataloader:
                loop.evaluator.process(data_samples=runner.model.val_step(batch), data_batch=batch)
        self.initial = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        runner.model.train()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.val.append(dict(metrics or {}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train the tiny config for 192 iterations (16 epochs x 12 batches of 8)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("learn")
    toy = write_toy_dataset(root / "data", num_train=96, num_val=24, num_keypoints=5, seed=0)
    cfg = build_config(
        TINY,
        data=toy.root,
        work_dir=root / "work",
        cfg_options=[
            "train_cfg.max_epochs=16",
            "train_cfg.val_interval=8",
            "train_dataloader.batch_size=8",
            "param_scheduler.1.milestones=[12,15]",
            "param_scheduler.1.end=16",
            "default_hooks.checkpoint.interval=8",
        ],
    )
    runner = build_runner(cfg)
    rec = EvalRecorder()
    runner.register_hook(rec, priority="LOWEST")
    runner.train()
    losses = np.asarray(runner.message_hub.get_scalar("train/loss").data[0], float)
    torch.set_num_threads(before)
    return dict(toy=toy, work=root / "work", rec=rec, losses=losses, runner=runner)


@pytest.mark.slow
def test_training_loss_falls_and_pck_rises(trained):
    losses = trained["losses"]
    assert len(losses) == 192
    first, last = losses[:10].mean(), losses[-10:].mean()
    assert first / last >= 5.0, (first, last)
    initial = trained["rec"].initial
    final = trained["rec"].val[-1]
    assert initial["pck/PCK@0.1"] <= 0.3, initial  # untrained: chance level
    assert final["pck/PCK@0.1"] >= 0.8, final
    assert final["pck/PCK@0.2"] >= final["pck/PCK@0.1"] >= final["pck/PCK@0.05"]
    assert final["coco/AP"] > initial["coco/AP"]


@pytest.mark.slow
def test_ocb_evaluate_reproduces_the_validation_metrics(trained, tmp_path):
    checkpoint = trained["work"] / "epoch_16.pth"
    result = CliRunner().invoke(
        ocb, ["evaluate", str(TINY), str(checkpoint), "--data", str(trained["toy"].root),
              "-o", str(tmp_path / "eval"), "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    final = trained["rec"].val[-1]  # finetuning's validation after the last epoch
    for key in ("pck/PCK@0.05", "pck/PCK@0.1", "pck/PCK@0.2", "coco/AP", "coco/AR"):
        assert got[key] == pytest.approx(final[key], abs=1e-6), key
    assert 0.0 < got["coco/AP"] <= 1.0


@pytest.mark.slow
def test_best_checkpoint_has_mmpose_layout_and_resolved_config_is_written(trained):
    work = trained["work"]
    best = sorted(work.glob("best_pck_PCK@0.1_epoch_*.pth"))
    assert len(best) == 1
    ckpt = load_checkpoint_file(best[0])
    meta = ckpt["meta"]["dataset_meta"]
    assert meta["flip_indices"] == [0, 2, 1, 4, 3]
    assert meta["keypoint_id2name"][1] == "right_hand"
    np.testing.assert_allclose(meta["sigmas"], 0.05)
    keys = list(ckpt["state_dict"])
    assert all(k.startswith(("backbone.", "head.")) for k in keys), keys[:5]
    assert ckpt["state_dict"]["head.final_layer.weight"].shape[0] == 5
    assert "backbone.stage4.0.fuse_layers.0.1.0.weight" in keys
    resolved = (work / "tiny_cpu.py").read_text()
    assert str(trained["toy"].root) in resolved
    assert "max_epochs=16" in resolved.replace(" ", "")


@pytest.mark.slow
def test_ocb_infer_finds_the_keypoints_with_the_finetuned_checkpoint(trained, tmp_path):
    from opencapbench.inference.outputs import read_json

    work = trained["work"]
    best = sorted(work.glob("best_pck_PCK@0.1_epoch_*.pth"))[0]
    rng = np.random.default_rng(123)
    img = rng.integers(40, 90, size=(96, 96, 3), dtype=np.uint8)
    box = np.array([20.0, 8.0, 55.0, 78.0])  # x, y, w, h
    truth = render_person(img, box, 5, rng, jitter=0.12)
    cv2.imwrite(str(tmp_path / "person.png"), img)
    x, y, w, h = box
    boxes = {"frames": [{"frame": 0, "boxes": [[x, y, x + w, y + h, 1.0]]}]}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        ocb,
        [
            "infer",
            str(tmp_path / "person.png"),
            "-m",
            str(work / "tiny_cpu.py"),
            "--checkpoint",
            str(best),
            "--boxes",
            str(tmp_path / "boxes.json"),
            "-o",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
            "--no-openpose",
            "--table",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    res = read_json(out / "person.keypoints.json")
    kps = np.asarray(res.keypoints)[0, 0]  # frame 0, person 0: (K, 2)
    err = np.linalg.norm(kps - truth, axis=1)
    assert (err < 0.1 * max(w, h)).sum() >= 4, err
    assert np.median(err) < 3.0, err


@pytest.mark.slow
def test_cli_finetune_runs_and_reports_bad_annotations(tmp_path):
    toy = write_toy_dataset(tmp_path / "data", num_train=8, num_val=4, seed=9)
    work = tmp_path / "work"
    args = ["finetune", str(TINY), "--data", str(toy.root), "-o", str(work),
            "--cfg-options", "train_cfg.max_epochs=1", "train_cfg.val_interval=1",
            "train_dataloader.batch_size=4"]  # fmt: skip
    result = CliRunner().invoke(ocb, args)
    assert result.exit_code == 0, result.output
    assert (work / "epoch_1.pth").is_file()
    assert "max_epochs=1" in (work / "tiny_cpu.py").read_text().replace(" ", "")

    coco = json.loads(toy.train_ann.read_text())
    coco["annotations"][2]["keypoints"] = coco["annotations"][2]["keypoints"][:9]
    toy.train_ann.write_text(json.dumps(coco))
    result = CliRunner().invoke(ocb, args)
    assert result.exit_code != 0
    assert "annotation id=3" in result.output and "metainfo has 5" in result.output
