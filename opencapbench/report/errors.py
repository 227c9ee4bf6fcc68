"""Named errors of the results and comparison code."""

from __future__ import annotations

from opencapbench.errors import OCBError


class RunResultsError(OCBError):
    """A folder given as a run has no readable results (``results/per_trial.csv``)."""
