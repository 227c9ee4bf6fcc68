"""`ocb benchmark`, `ocb make-synthetic`, `ocb demo` (being built in the foundation issue)."""

from __future__ import annotations

import click


def _not_yet(name: str) -> click.Command:
    @click.command(name)
    def cmd() -> None:
        """NOT YET AVAILABLE (foundation issue in progress)."""
        raise click.UsageError(f"`ocb {name}` is not implemented yet.")

    return cmd


benchmark = _not_yet("benchmark")
make_synthetic = _not_yet("make-synthetic")
demo = _not_yet("demo")
