"""Training-loop pieces: the autocast optimizer wrapper (registered in OPTIM_WRAPPERS)."""

from opencapbench.pose.engine.optim_wrapper import AutocastOptimWrapper, cpu_bf16_supported

__all__ = ["AutocastOptimWrapper", "cpu_bf16_supported"]
