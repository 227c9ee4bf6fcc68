#!/usr/bin/env python3
"""Download pose models and the person detector into the Hugging Face cache, for offline use.

Run it once on a machine with internet (or on a cluster's login node); later runs of
``ocb infer`` / ``ocb benchmark --model`` then work with ``HF_HUB_OFFLINE=1``.

    python scripts/fetch_models.py                       # synthpose-hrnet48 + RT-DETR
    python scripts/fetch_models.py synthpose-vitpose-base --no-detector
    HF_HOME=/shared/hf python scripts/fetch_models.py --all
"""

from __future__ import annotations

import argparse
import sys

from opencapbench.inference.catalog import DEFAULT_DETECTOR, MODELS
from opencapbench.inference.detector import detector_folder
from opencapbench.inference.errors import InferenceError
from opencapbench.inference.hub import fetch_model


def fetch(name: str) -> str:
    """Download (or find cached) and check the files of a registered model."""
    return ", ".join(str(p) for p in fetch_model(MODELS[name]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"model names ({', '.join(MODELS)})")
    parser.add_argument("--all", action="store_true", help="every registered pose model")
    parser.add_argument(
        "--no-detector", action="store_true", help=f"skip {DEFAULT_DETECTOR.repo_id}"
    )
    args = parser.parse_args(argv)
    names = sorted(MODELS) if args.all else (args.models or ["synthpose-hrnet48"])
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; registered: {sorted(MODELS)}")
    failed = 0
    for name in names:
        try:
            print(f"{name}: {fetch(name)}")
        except InferenceError as exc:
            failed += 1
            print(f"{name}: {exc}", file=sys.stderr)
    if not args.no_detector:
        try:
            print(f"detector: {detector_folder(DEFAULT_DETECTOR.repo_id)}")
        except InferenceError as exc:
            failed += 1
            print(f"detector: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
