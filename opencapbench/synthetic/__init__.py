"""The built-in synthetic OpenCap-layout dataset with known joint angles.

:mod:`~opencapbench.synthetic.motions` (joint-angle time series), :mod:`~.rig` (virtual
iPhones) and :mod:`~.writer` (the dataset on disk); :func:`generate_synthetic_dataset` is the
entry point.
"""

from opencapbench.synthetic.writer import SyntheticDataset, generate_synthetic_dataset

__all__ = ["SyntheticDataset", "generate_synthetic_dataset"]
