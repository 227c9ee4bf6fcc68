"""``ocb fetch-models``: download the pose models and the person detector into the Hugging Face
cache once, for offline machines (then ``HF_HUB_OFFLINE=1`` works)."""

from __future__ import annotations

import sys

import click

from opencapbench.inference.catalog import DEFAULT_DETECTOR, DEFAULT_MODEL, MODELS


@click.command("fetch-models")
@click.argument("names", nargs=-1, type=click.Choice(sorted(MODELS)))
@click.option("--all", "all_models", is_flag=True, help="Every registered pose model.")
@click.option("--no-detector", is_flag=True, help=f"Skip the detector {DEFAULT_DETECTOR.repo_id}.")
@click.option("--pins", is_flag=True, help="Print the commit and SHA-256 of each model fetched.")
def fetch_models(names: tuple[str, ...], all_models: bool, no_detector: bool, pins: bool) -> None:
    """Download (or find cached) and check registered models: NAMES, default synthpose-hrnet48.

    Run it once on a machine with internet (or a cluster's login node) with the HF_HOME that
    the offline machines use; `ocb infer` and `ocb benchmark --model` then work offline.
    """
    from opencapbench.inference.detector import detector_folder
    from opencapbench.inference.errors import InferenceError
    from opencapbench.inference.hub import fetch_model, pins_file, sha256_of

    chosen = sorted(MODELS) if all_models else list(names or [DEFAULT_MODEL])
    failed = 0
    for name in chosen:
        try:
            paths = fetch_model(MODELS[name])
        except InferenceError as exc:
            failed += 1
            click.echo(f"{name}: {exc}", err=True)
            continue
        click.echo(f"{name}: {', '.join(str(p) for p in paths)}")
        if pins:
            commit = paths[-1].parent.name
            click.echo(f"  revision={commit!r} sha256={sha256_of(paths[-1])!r} ({pins_file()})")
    if not no_detector:
        try:
            click.echo(f"detector: {detector_folder(DEFAULT_DETECTOR.repo_id)}")
        except InferenceError as exc:
            failed += 1
            click.echo(f"detector: {exc}", err=True)
    sys.exit(1 if failed else 0)
