"""``ocb compare``: the paper's table of several benchmark runs (Markdown, CSV, LaTeX)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("compare")
@click.argument(
    "run_dirs", nargs=-1, required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)  # fmt: skip
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write comparison.md, comparison.tex (booktabs) and CSVs here (default: print only).",
)  # fmt: skip
@click.option(
    "--with-published", is_flag=True,
    help="Add the published OpenCapBench rows (RMSE, WACV 2025) as reference rows.",
)  # fmt: skip
@click.option("--digits", type=click.IntRange(0, 6), default=2, show_default=True,
              help="Decimals in the Markdown and LaTeX tables (CSVs keep full precision).")  # fmt: skip
def compare(run_dirs: tuple[Path, ...], out_dir: Path | None, with_published: bool, digits: int) -> None:  # fmt: skip
    """Compare benchmark runs: RUN_DIR is an `ocb benchmark` output folder (or its results/).

    Runs are rows; columns are OpenCapBench's 12 DOFs and their mean, RMSE and MAE in degrees,
    best value per column in bold; per activity and camera set-up when the runs have them.
    With two runs or more, every pair gets paired differences over the trials both scored
    (95 % CI, paired t-test and Wilcoxon signed-rank test per DOF).
    """
    import pandas as pd

    from opencapbench.report.compare import (
        comparison_markdown,
        comparison_tables,
        load_run,
        paired_differences,
        write_comparison,
    )

    runs = [load_run(p) for p in run_dirs]
    tables = comparison_tables(runs, with_published=with_published)
    # every pair of runs, RMSE then MAE (empty with one run)
    paired = pd.concat(
        [paired_differences(runs, "rmse"), paired_differences(runs, "mae")], ignore_index=True
    )
    click.echo(comparison_markdown(runs, tables, paired, digits))
    if out_dir is not None:
        written = write_comparison(out_dir, runs, tables, paired, digits)
        click.echo(f"\nComparison written to {out_dir} ({len(written)} files).")
