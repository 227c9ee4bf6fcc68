"""`ocb generate-dataset` (not yet delivered: ocb generate-dataset)."""

from __future__ import annotations

import click


@click.command(
    "generate-dataset", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def generate_dataset() -> None:
    """NOT YET AVAILABLE: delivered by the issue "ocb generate-dataset".

    This command exits with status 2 until then.
    """
    raise click.UsageError("`ocb generate-dataset` is not implemented yet (ocb generate-dataset).")
