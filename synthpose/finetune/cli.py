"""`ocb finetune` (not yet delivered: ocb finetune)."""

from __future__ import annotations

import click


@click.command(
    "finetune", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
def finetune() -> None:
    """NOT YET AVAILABLE: delivered by the issue "ocb finetune".

    This command exits with status 2 until then.
    """
    raise click.UsageError("`ocb finetune` is not implemented yet (ocb finetune).")
