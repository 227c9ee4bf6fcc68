"""`ocb infer` (not yet delivered: the pose model and ocb infer)."""

from __future__ import annotations

import click


@click.command("infer", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def infer() -> None:
    """NOT YET AVAILABLE: delivered by the issue "the pose model and ocb infer".

    This command exits with status 2 until then.
    """
    raise click.UsageError("`ocb infer` is not implemented yet (the pose model and ocb infer).")
