"""Validation metrics (registered in METRICS under MMPose's names)."""

from opencapbench.pose.evaluation.metrics import CocoMetric, MetricError, PCKAccuracy

__all__ = ["CocoMetric", "MetricError", "PCKAccuracy"]
