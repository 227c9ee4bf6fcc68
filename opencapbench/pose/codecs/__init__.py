"""Keypoint codecs (registered in ``KEYPOINT_CODECS`` under MMPose's names)."""

from opencapbench.pose.codecs.base import BaseKeypointCodec
from opencapbench.pose.codecs.msra import MSRAHeatmap
from opencapbench.pose.codecs.udp import UDPHeatmap

__all__ = ["BaseKeypointCodec", "MSRAHeatmap", "UDPHeatmap"]
