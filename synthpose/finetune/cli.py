"""``ocb finetune``: train a top-down pose model (e.g. SynthPose HRNet-W48 + DARK) with
mmengine's ``Runner`` on annotations written by ``ocb generate-dataset``."""

from __future__ import annotations

import click

from opencapbench.device import device_options


@click.command(
    "finetune",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    default=None,
    help="Dataset root (as `ocb generate-dataset` writes it); replaces the config's data_root.",
)
@click.option(
    "-o",
    "--out",
    "work_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder for logs, checkpoints and the resolved config "
    "(default: work_dirs/<config name>).",
)
@click.option("--work-dir", "work_dir", type=click.Path(file_okay=False), hidden=True)
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[CHECKPOINT]",
    help="Resume training (optimizer, LR schedule, iteration count) from the work "
    "dir's last checkpoint, or from CHECKPOINT.",
)
@click.option("--load-from", default=None, help="Initialise the model from this checkpoint.")
@device_options
@click.option(
    "--launcher",
    type=click.Choice(["none", "pytorch", "slurm"]),
    default="none",
    show_default=True,
    help="Distributed launcher: `pytorch` under torchrun, `slurm` under srun.",
)
@click.option("--local-rank", "--local_rank", type=int, default=None, hidden=True)
@click.option(
    "--cfg-options",
    "cfg_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override config entries, e.g. --cfg-options train_cfg.max_epochs=5 "
    "optim_wrapper.optimizer.lr=1e-4 (several may follow one flag).",
)
@click.pass_context
def finetune(
    ctx: click.Context,
    config: str,
    data: str | None,
    work_dir: str | None,
    resume: str | None,
    load_from: str | None,
    amp: str,
    device: str,
    launcher: str,
    local_rank: int | None,
    cfg_options: tuple[str, ...],
) -> None:
    """Finetune a pose model described by the mmengine/MMPose CONFIG.

    \b
    Examples:
      ocb finetune configs/synthpose/tiny_cpu.py --data data/toy -o work_dirs/tiny
      ocb finetune configs/synthpose/td-hm_hrnet-w48_dark-8xb32-30e_synthpose-384x288.py \\
          --data data/synthpose --amp fp16
      torchrun --nproc_per_node 8 -m opencapbench.cli finetune CONFIG --launcher pytorch
    """
    import os

    if device == "cpu":  # before torch looks for GPUs: mmengine's Runner picks CUDA when visible
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from synthpose.finetune.runner import FinetuneConfigError, build_config
    from synthpose.finetune.runner import finetune as run

    extra = list(ctx.args)
    stray = [a for a in extra if "=" not in a]
    if stray:
        raise click.UsageError(f"unexpected arguments {stray}")
    if local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(local_rank))
    try:
        cfg = build_config(
            config,
            data=data,
            work_dir=work_dir,
            resume=True if resume == "auto" else (resume or False),
            amp=amp,
            cfg_options=list(cfg_options) + extra,
            launcher=launcher,
            load_from=load_from,
            device=device,
        )
        runner = run(cfg)
    except (FinetuneConfigError, FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"finished: checkpoints and logs in {runner.work_dir}")


@click.command("evaluate")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Dataset root (as `ocb generate-dataset` writes it); replaces the config's data_root.")  # fmt: skip
@click.option("-o", "--out", "work_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the log and metrics.json (default: work_dirs/<config name>_eval).")  # fmt: skip
@device_options
@click.option("--cfg-options", "cfg_options", multiple=True, metavar="KEY=VALUE",
              help="Override config entries, e.g. --cfg-options test_dataloader.batch_size=8.")  # fmt: skip
def evaluate(
    config: str, checkpoint: str, data: str | None, work_dir: str | None, amp: str, device: str,
    cfg_options: tuple[str, ...],
) -> None:  # fmt: skip
    """PCK and COCO AP of CHECKPOINT on the config's test (else validation) set, as MMPose's
    tools/test.py computes them: the numbers finetuning's validation reports.

    \b
    Example:
      ocb evaluate configs/synthpose/tiny_cpu.py work_dirs/tiny/best.pth --data data/toy
    """
    import json
    import os
    from pathlib import Path

    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from opencapbench.io.atomic import atomic_write
    from synthpose.finetune.runner import build_config, build_runner

    out = Path(work_dir) if work_dir else Path("work_dirs") / f"{Path(config).stem}_eval"
    cfg = build_config(
        config, data=data, work_dir=out, load_from=checkpoint, amp=amp, device=device,
        cfg_options=list(cfg_options),
    )  # fmt: skip
    runner = build_runner(cfg)
    metrics = runner.test() if cfg.get("test_dataloader") else runner.val()
    metrics = {k: float(v) for k, v in metrics.items()}
    with atomic_write(out / "metrics.json") as fh:
        json.dump({"config": str(config), "checkpoint": str(checkpoint), **metrics}, fh, indent=2)
    for key, value in metrics.items():
        click.echo(f"{key}: {value:.4f}")
    click.echo(f"metrics: {out / 'metrics.json'}")
