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

from opencapbench.inference.errors import ModelNotAvailableError
from opencapbench.inference.hub import hub_files, hub_snapshot
from opencapbench.inference.models import DEFAULT_DETECTOR, MODELS


def fetch(name: str) -> str:
    spec = MODELS[name]
    if spec.kind == "vitpose":
        return str(hub_snapshot(spec.repo_id, spec.files))
    return ", ".join(str(p) for p in hub_files(spec.repo_id, spec.files))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"model names ({', '.join(MODELS)})")
    parser.add_argument("--all", action="store_true", help="every registered pose model")
    parser.add_argument("--no-detector", action="store_true", help=f"skip {DEFAULT_DETECTOR}")
    args = parser.parse_args(argv)
    names = sorted(MODELS) if args.all else (args.models or ["synthpose-hrnet48"])
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; registered: {sorted(MODELS)}")
    failed = 0
    for name in names:
        try:
            print(f"{name}: {fetch(name)}")
        except ModelNotAvailableError as exc:
            failed += 1
            print(f"{name}: {exc}", file=sys.stderr)
    if not args.no_detector:
        try:
            print(f"detector: {hub_snapshot(DEFAULT_DETECTOR, ['*.json', '*.safetensors'])}")
        except ModelNotAvailableError as exc:
            failed += 1
            print(f"detector: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
