"""opencapbench: markerless motion-capture research toolkit.

Subpackages:
- :mod:`opencapbench.keypoints`  named keypoint sets (SynthPose-52, COCO-17, ...).
- :mod:`opencapbench.benchmark`  the OpenCapBench evaluation (2D → 3D → OpenSim IK → metrics).
- :mod:`opencapbench.pose`       MMPose-compatible top-down heatmap models in plain PyTorch.
- :mod:`opencapbench.inference`  person detection and video/image inference.
"""

__version__ = "0.1.0"
