"""Resume after a kill: iteration count, Adam state and LR schedule continue exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook

from synthpose.finetune.runner import build_config, build_runner
from synthpose.finetune.toy_data import write_toy_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "synthpose" / "tiny_cpu.py"


def _exp_avg(optimizer: torch.optim.Optimizer) -> dict[int, torch.Tensor]:
    """Adam's first moments by parameter index."""
    return {k: v["exp_avg"].clone() for k, v in optimizer.state_dict()["state"].items()}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Recorder(Hook):
    """Records the LR of every iteration and the state when training (re)starts."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.start: dict = {}

    def before_train(self, runner) -> None:
        opt = runner.optim_wrapper.optimizer
        self.start = dict(
            iter=runner.iter,
            epoch=runner.epoch,
            lr=opt.param_groups[0]["lr"],
            exp_avg=_exp_avg(opt),
        )

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.lrs.append(runner.optim_wrapper.optimizer.param_groups[0]["lr"])


def _runner(data: Path, work_dir: Path, max_epochs: int, resume: bool):
    cfg = build_config(
        TINY,
        data=data,
        work_dir=work_dir,
        resume=resume,
        cfg_options={
            "train_cfg.max_epochs": max_epochs,
            "train_cfg.val_interval": 100,
            "train_dataloader.batch_size": 4,
            "default_hooks.checkpoint.interval": 1,
            "default_hooks.logger.interval": 1,
            # the kill happens inside the warm-up: its state must survive
            "param_scheduler.0.end": 20,
            "val_dataloader": None,
            "val_cfg": None,
            "val_evaluator": None,
            "default_hooks.checkpoint.save_best": None,
        },
    )
    runner = build_runner(cfg)
    rec = Recorder()
    runner.register_hook(rec, priority="LOWEST")
    return runner, rec


@pytest.mark.slow
def test_resume_continues_iteration_optimizer_and_schedule(tmp_path):
    toy = write_toy_dataset(tmp_path / "toy", num_train=16, num_val=2, seed=4)
    # reference: 3 epochs without interruption (4 iterations each)
    ref, ref_rec = _runner(toy.root, tmp_path / "ref", 3, resume=False)
    ref.train()
    assert ref.iter == 12

    # "killed" run: stops after the epoch-2 checkpoint
    first, _ = _runner(toy.root, tmp_path / "run", 2, resume=False)
    first.train()
    assert (tmp_path / "run" / "epoch_2.pth").is_file()
    opt = first.optim_wrapper.optimizer
    saved_exp_avg = _exp_avg(opt)
    saved_lr = opt.param_groups[0]["lr"]
    first_lrs = list(_runner_lrs(first))
    del first

    # new process-equivalent: a fresh Runner with resume=True in the same work dir
    second, rec = _runner(toy.root, tmp_path / "run", 3, resume=True)
    second.train()
    assert rec.start["iter"] == 8 and rec.start["epoch"] == 2
    assert rec.start["lr"] == saved_lr
    assert len(rec.start["exp_avg"]) == len(saved_exp_avg) > 0
    for k, v in saved_exp_avg.items():
        assert torch.equal(rec.start["exp_avg"][k], v)
    assert second.iter == 12
    # the LR of every iteration after the resume equals the uninterrupted run's
    assert rec.lrs == ref_rec.lrs[8:]
    assert first_lrs == ref_rec.lrs[:8]


def _runner_lrs(runner):
    for hook in runner.hooks:
        if isinstance(hook, Recorder):
            return hook.lrs
    return []


@pytest.mark.slow
def test_resume_falls_back_to_the_newest_readable_checkpoint(tmp_path, caplog):
    from synthpose.finetune.runner import resume_checkpoint

    toy = write_toy_dataset(tmp_path / "toy", num_train=8, num_val=2, seed=5)
    first, _ = _runner(toy.root, tmp_path / "run", 2, resume=False)
    first.train()
    work = tmp_path / "run"
    assert (work / "last_checkpoint").read_text().strip().endswith("epoch_2.pth")
    assert not [p for p in work.glob(".*") if p.is_file()]  # atomic saves leave no temp file
    latest = work / "epoch_2.pth"
    latest.write_bytes(latest.read_bytes()[:1000])  # killed while writing (pre-atomic damage)
    assert resume_checkpoint(work) == work / "epoch_1.pth"
    assert "cannot be read" in caplog.text
    second, rec = _runner(toy.root, work, 3, resume=True)
    second.train()
    assert rec.start["epoch"] == 1 and second.iter == 6  # continued after epoch 1, to epoch 3
