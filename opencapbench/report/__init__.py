"""Results of benchmark runs: tables, paper figures, ``report.html`` and ``ocb compare``.

The runner calls :func:`plot_trial` per trial (worker processes) and :func:`write_results` once
at the end; ``ocb compare`` (:mod:`opencapbench.report.cli`) puts runs side by side.
"""

from opencapbench.report.figures import plot_trial
from opencapbench.report.results import RunInfo, write_results

__all__ = ["RunInfo", "plot_trial", "write_results"]
