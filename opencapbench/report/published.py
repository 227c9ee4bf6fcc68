"""The published rows of the OpenCapBench results table (package data) and ``opencapbench_table.md``.

The numbers are RMSE in degrees over the whole OpenCap cohort (Gozlan et al., WACV 2025);
``data/published_opencapbench.csv`` names the source.  The paper reports no MAE and no mean;
the mean here is the unweighted mean of the 12 DOFs.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.report.tables import format_table

__all__ = ["PUBLISHED_SOURCE", "published_rmse", "opencapbench_table_markdown"]

PUBLISHED_SOURCE = (
    "Gozlan et al., OpenCapBench, WACV 2025, pp. 4056-4065 (joint-angle RMSE in degrees over "
    "the OpenCap LabValidation cohort; README figure OpenCapBench_cr.svg)"
)


def published_rmse() -> pd.DataFrame:
    """The published RMSE rows: index ``method``, columns the 12 DOFs (OpenCapBench order),
    ``mean`` (unweighted over the DOFs) and ``family``."""
    with (
        resources.files("opencapbench.report")
        .joinpath("data/published_opencapbench.csv")
        .open() as fh
    ):
        table = pd.read_csv(fh, comment="#", index_col="method")
    out = table[list(OCB_DOFS)].astype(float)
    out["mean"] = out.mean(axis=1)
    out["family"] = table["family"]
    return out


def opencapbench_table_markdown(rmse: pd.Series, run_label: str, n_trials: int) -> str:
    """Markdown page: the run's 12 DOF RMSEs beside the published rows of the paper's table.

    Args:
        rmse: the run's RMSE per DOF in degrees (index DOF names; ``mean`` optional: it is
            recomputed over the DOFs so that it matches the published rows' definition).
        run_label: how the run is named in the table.
        n_trials: trials behind the run's numbers.
    """
    dofs = list(OCB_DOFS)
    published = published_rmse()
    ours = pd.DataFrame([rmse.reindex(dofs).astype(float)], index=[f"**{run_label}** (this run)"])
    ours["mean"] = ours[dofs].mean(axis=1)
    rows = pd.concat([ours, published[[*dofs, "mean"]]])
    rows.index.name = "method"
    return "\n".join(
        [
            "# Joint-angle RMSE beside the published OpenCapBench table",
            "",
            f"RMSE in degrees per DOF (right and left averaged), in OpenCapBench's column order. "
            f"This run: {n_trials} trial(s). Published rows: {PUBLISHED_SOURCE}; they were "
            "measured on the real OpenCap videos, so they compare with this run only when it ran "
            "on that dataset. The published figure orders the pelvis columns tilt, rotation, list. "
            "`mean` is the unweighted mean over the 12 DOFs (not given in the paper).",
            "",
            format_table(rows, digits=1),
            "",
        ]
    )
