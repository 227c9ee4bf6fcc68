"""``ocb generate-dataset``: SynthPose COCO annotations from SMPL-X bodies.

One sub-command per source layout (``npz``, ``bedlam``, ``infinity``, ``rich``) plus
``validate-markers``.  Layouts and examples: docs/generate-dataset.md.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click

from opencapbench.benchmark.shard import SHARD_HELP, ShardParam

SOURCE_HELP = {
    "npz": "Plain .npz files of SMPL-X parameters + per-frame cameras (file or folder).",
    "bedlam": "BEDLAM ground-truth *.npz files (folder searched recursively).",
    "infinity": "Infinity AI / VisionFit videos: <root>/<video>/labels.json (+ video.mp4).",
    "rich": "RICH: bodies/, scan_calibration/, images/ under the RICH root.",
}


def _common(f):
    options = [
        click.argument("input_path", type=click.Path(exists=True, path_type=Path)),
        click.option("--smplx-dir", required=True, type=click.Path(exists=True, path_type=Path),
                     help="Folder with SMPLX_{NEUTRAL,MALE,FEMALE}.npz/.pkl (licensed; never downloaded)."),
        click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
                     help="Output folder (annotations/, shards/, metainfo)."),
        click.option("--markers", type=click.Path(exists=True, path_type=Path), default=None,
                     help="Marker file (.yaml or OpenCapBench .csv); default: shipped v1 (52 keypoints)."),
        click.option("--every-n", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Keep frames whose frame number is a multiple of N."),
        click.option("--split", default="train", show_default=True, help="Split name of the output."),
        click.option("--val-fraction", default=0.0, show_default=True, type=click.FloatRange(0, 1),
                     help="Put this fraction of source files (by name hash) in split 'val'."),
        click.option("--occlusion/--no-occlusion", default=True, show_default=True,
                     help="Depth-test keypoints against the posed mesh (v=1 when hidden)."),
        click.option("--occlusion-tol", default=0.02, show_default=True, type=float,
                     help="Depth tolerance of the occlusion test, metres."),
        click.option("--exact-bbox", is_flag=True,
                     help="Boxes from the whole mesh even without occlusion (slower)."),
        click.option("--device", default="auto", show_default=True,
                     help="torch device: auto (cuda if available), cpu, cuda, cuda:1..."),
        click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1)),
        click.option("--float64", is_flag=True, help="Compute in double precision."),
        click.option("--threads", default=0, type=click.IntRange(min=0),
                     help="torch CPU threads (0: torch default; 1 is often fastest on busy machines)."),
        click.option("--image-root", type=click.Path(path_type=Path), default=None,
                     help="Folder that image file names are relative to (for --crops)."),
        click.option("--crops", is_flag=True, help="Also write person-centred crops (needs --image-root)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--shard", type=ShardParam(), default=None, help=SHARD_HELP),
    ]  # fmt: skip
    for opt in reversed(options):
        f = opt(f)
    return f


def _run(kind: str, input_path: Path, source_kwargs: dict | None = None, **kw) -> None:
    import torch

    from opencapbench.device import resolve_device
    from opencapbench.errors import OCBError
    from synthpose.generate.pipeline import GenerateOptions, run
    from synthpose.generate.sources import SOURCES

    if kw["threads"]:
        torch.set_num_threads(kw["threads"])
    device = resolve_device(kw["device"])
    try:
        source = SOURCES[kind](
            input_path, every_n=kw["every_n"], batch_size=kw["batch_size"], **(source_kwargs or {})
        )
        opts = GenerateOptions(
            smplx_dir=kw["smplx_dir"], out=kw["out"], markers=kw["markers"],
            occlusion=kw["occlusion"], exact_bbox=kw["exact_bbox"],
            occlusion_tol_m=kw["occlusion_tol"], device=device,
            dtype=torch.float64 if kw["float64"] else torch.float32, split=kw["split"],
            val_fraction=kw["val_fraction"], image_root=kw["image_root"], crops=kw["crops"],
            shard=kw["shard"],
        )  # fmt: skip
        summary = run(source, opts, progress=not kw["quiet"])
    except OCBError as exc:  # a named error that stops the whole run: one line, exit 1
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{summary['frames']} frames read, {summary['annotations']} annotations written; "
        f"{summary['units_done']} source files done, "
        f"{summary['units_skipped']} resumed, {len(summary['failed'])} failed"
    )
    for unit, err in summary["failed"].items():
        click.echo(f"  FAILED {unit}: {err}", err=True)
    skipped = sum(len(frames) for frames in summary["nonfinite"].values())
    if skipped:
        click.echo(
            f"  {skipped} frame(s) of {len(summary['nonfinite'])} source file(s) skipped: "
            f"NaN/inf parameters (see {kw['out'] / 'skipped_frames.json'})",
            err=True,
        )
    for split, path in summary["outputs"].items():
        click.echo(f"  {split}: {path}")
    click.echo(f"  metainfo: {summary['metainfo']}  (metainfo=dict(from_file=...))")
    if summary["failed"]:
        raise SystemExit(1)  # the rest is written; failures.csv lists what to fix


@click.group("generate-dataset", context_settings={"help_option_names": ["-h", "--help"]})
def generate_dataset() -> None:
    """SynthPose 2D annotations (COCO JSON + MMPose metainfo) from SMPL-X bodies.

    \b
    ocb generate-dataset bedlam   BEDLAM_NPZ_DIR --smplx-dir MODELS --out OUT --every-n 6
    ocb generate-dataset infinity VISIONFIT_DIR  --smplx-dir MODELS --out OUT --val-fraction 0.2
    ocb generate-dataset rich     RICH_ROOT      --smplx-dir MODELS --out OUT --split val
    ocb generate-dataset npz      PARAMS.npz     --smplx-dir MODELS --out OUT
    ocb generate-dataset validate-markers --smplx-dir MODELS [--markers FILE]
    """


def _make(kind: str, extra=None):
    def cmd(input_path: Path, **kw) -> None:
        src_kw = {}
        if extra:
            src_kw = {k: kw.pop(k) for k in list(kw) if k in extra}
        if "trust_pickles" in src_kw:  # flag absent: OCB_TRUST_PICKLES decides
            src_kw["trust_pickles"] = src_kw["trust_pickles"] or None
        _run(kind, input_path, src_kw, **kw)

    cmd.__doc__ = SOURCE_HELP[kind] + " See docs/generate-dataset.md for the layout."
    cmd = functools.wraps(cmd)(cmd)
    return cmd


generate_dataset.command("npz")(_common(_make("npz")))
generate_dataset.command("bedlam")(_common(_make("bedlam")))
generate_dataset.command("infinity")(_common(_make("infinity")))
generate_dataset.command("rich")(
    click.option("--gender", default=None, type=click.Choice(["neutral", "male", "female"]),
                 help="Gender for subjects missing from gender.json (default neutral).")(
    click.option("--trust-pickles", is_flag=True,
                 help="Also load body .pkl files that hold more than numpy arrays (they can run "
                      "code: only your own files). Default: OCB_TRUST_PICKLES, else refuse.")(
        _common(_make("rich", extra={"gender", "trust_pickles"}))
    ))
)  # fmt: skip


@generate_dataset.command("validate-markers")
@click.option("--smplx-dir", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--markers", type=click.Path(exists=True, path_type=Path), default=None,
              help="Marker file (.yaml or .csv); default: the shipped v1 file.")  # fmt: skip
@click.option("--gender", default="neutral", show_default=True)
@click.option("--tol", default=0.01, show_default=True, help="Symmetry tolerance, metres.")
def validate_markers_cmd(smplx_dir: Path, markers: Path | None, gender: str, tol: float) -> None:
    """Check a marker file against an SMPL-X model: index ranges and left/right symmetry.

    Exits with status 1 when a left/right pair is asymmetric by more than --tol.
    """
    from synthpose.generate.body_model import BodyModelError
    from synthpose.generate.pipeline import validate_markers
    from synthpose.markers import MarkerFileError

    try:
        ms, issues = validate_markers(markers, smplx_dir, gender, tol)
    except (MarkerFileError, BodyModelError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{ms.source}: {ms.num_keypoints} keypoints, indices in range")
    for issue in issues:
        click.echo(f"  ASYMMETRIC {issue}")
    if issues:
        raise SystemExit(1)
    click.echo("  all left/right pairs symmetric within tolerance")
