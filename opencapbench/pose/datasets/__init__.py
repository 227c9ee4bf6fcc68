"""Top-down keypoint datasets, their metainfo and the multi-source sampler (registered in
DATASETS / DATA_SAMPLERS under MMPose's names)."""

from opencapbench.pose.datasets.coco import (
    AnnotationError,
    CocoStyleDataset,
    CombinedDataset,
    SynthPoseDataset,
)
from opencapbench.pose.datasets.metainfo import MetainfoError, parse_metainfo, resolve_metainfo
from opencapbench.pose.datasets.samplers import MultiSourceSampler

__all__ = [
    "AnnotationError",
    "CocoStyleDataset",
    "CombinedDataset",
    "MetainfoError",
    "MultiSourceSampler",
    "SynthPoseDataset",
    "parse_metainfo",
    "resolve_metainfo",
]
