"""opencapbench: markerless motion-capture research toolkit.

The public API of the benchmark, importable without loading the numerics up front::

    from opencapbench import BenchmarkConfig, run_benchmark

    cfg = BenchmarkConfig(data_dir="LabValidation", out_dir="outputs/mine", cameras="2-cameras")
    outcome = run_benchmark(cfg)
    outcome.tables["overall"]          # RMSE / MAE per DOF, degrees

Subpackages:
- :mod:`opencapbench.benchmark`  OpenCapBench: stages 2D → 3D → OpenSim IK → joint-angle errors.
- :mod:`opencapbench.pose`       MMPose-compatible models, codecs, transforms, datasets, metrics.
- :mod:`opencapbench.inference`  person detection, video/image inference, the model catalog.
- :mod:`opencapbench.io`         file formats and the OpenCap dataset layout.
- :mod:`opencapbench.geometry`   pure numerics: projection, triangulation, filtering, frames.
- :mod:`opencapbench.osim`       everything that calls OpenSim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["BenchmarkConfig", "BenchmarkOutcome", "MarkerSettings", "PoseSettings", "run_benchmark"]

if TYPE_CHECKING:  # pragma: no cover
    from opencapbench.benchmark.config import BenchmarkConfig, MarkerSettings, PoseSettings
    from opencapbench.benchmark.runner import BenchmarkOutcome, run_benchmark

_LAZY = {
    "BenchmarkConfig": "opencapbench.benchmark.config",
    "MarkerSettings": "opencapbench.benchmark.config",
    "PoseSettings": "opencapbench.benchmark.config",
    "BenchmarkOutcome": "opencapbench.benchmark.runner",
    "run_benchmark": "opencapbench.benchmark.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'opencapbench' has no attribute {name!r}")
