"""The ``ocb`` command line.

Sub-commands live next to the code they drive and are imported only when invoked, so
``ocb --help`` stays fast (no torch / OpenSim import).
"""

from __future__ import annotations

import importlib
import sys

import click

#: command name -> "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "generate-dataset": "synthpose.generate.cli:generate_dataset",
    "finetune": "synthpose.finetune.cli:finetune",
    "evaluate": "synthpose.finetune.cli:evaluate",
    "infer": "opencapbench.inference.cli:infer",
    "benchmark": "opencapbench.benchmark.cli:benchmark",
    "make-synthetic": "opencapbench.benchmark.cli:make_synthetic",
    "demo": "opencapbench.benchmark.cli:demo",
    "import-keypoints": "opencapbench.io.cli:import_keypoints",
    "convert-calibration": "opencapbench.io.cli:convert_calibration",
    "compare": "opencapbench.report.cli:compare",
    "merge": "opencapbench.benchmark.cli:merge",
    "fetch-models": "opencapbench.inference.fetch_cli:fetch_models",
    "overlay-markers": "opencapbench.benchmark.reprojection_cli:overlay_markers",
    "pose2sim-skeleton": "opencapbench.io.pose2sim_cli:pose2sim_skeleton",
}

#: one-line help shown by ``ocb --help`` without importing the command's module.
SHORT_HELP: dict[str, str] = {
    "generate-dataset": "SynthPose 2D annotations (COCO JSON) from SMPL-X bodies.",
    "finetune": "Finetune an HRNet/DARK pose model on generated annotations (mmengine Runner).",
    "evaluate": "PCK and COCO AP of a pose checkpoint on an annotation set (as MMPose's test).",
    "infer": "Detect people and estimate 2D keypoints on images and videos.",
    "benchmark": "OpenCapBench: 2D keypoints -> 3D markers -> OpenSim IK -> joint-angle errors.",
    "make-synthetic": "Write a synthetic OpenCap-layout dataset with known joint angles.",
    "demo": "Generate a synthetic dataset and benchmark it end to end (no downloads).",
    "import-keypoints": "Import OpenPose/Pose2Sim JSON or OpenCap pickles into the keypoint store.",
    "convert-calibration": "Convert OpenCap calibration pickles <-> Pose2Sim/AniPose TOML.",
    "compare": "Compare benchmark runs: the paper's table (Markdown, CSV, LaTeX).",
    "fetch-models": "Download the pose models and the detector once, for offline machines.",
    "merge": "Rebuild a benchmark's results from every ledger (after --shard runs).",
    "overlay-markers": "Reproject a trial's triangulated markers into each camera (video).",
    "pose2sim-skeleton": "Write a Pose2Sim Config.toml skeleton for a keypoint set.",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context):
        """Run the sub-command; a named error becomes one line on stderr and exit code 1."""
        from opencapbench.errors import OCBError

        try:
            return super().invoke(ctx)
        except OCBError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {type(err).__name__}: {err}", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: finished steps are recorded; run again to resume", err=True)
            sys.exit(130)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opencapbench")
@click.option("-v", "--verbose", count=True, help="More output (-vv for library debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only; no progress bars.")
@click.option("--debug", is_flag=True, help="Show the full traceback of a named error.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool, debug: bool) -> None:
    """opencapbench: markerless motion capture, from video to joint angles, measured."""
    from opencapbench.console import setup_logging

    ctx.obj = {"debug": debug}
    setup_logging(-1 if quiet else verbose)


if __name__ == "__main__":
    main()
