"""Pose model layers (registered in MODELS under MMPose's names)."""

from opencapbench.pose.models.estimator import TopdownPoseEstimator
from opencapbench.pose.models.flip import flip_heatmaps
from opencapbench.pose.models.heatmap_head import HeatmapHead
from opencapbench.pose.models.hrnet import HRNet
from opencapbench.pose.models.losses import KeypointMSELoss
from opencapbench.pose.models.preprocessor import PoseDataPreprocessor

__all__ = [
    "HRNet",
    "HeatmapHead",
    "KeypointMSELoss",
    "PoseDataPreprocessor",
    "TopdownPoseEstimator",
    "flip_heatmaps",
]
