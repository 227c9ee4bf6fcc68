"""Named errors of the benchmark pipeline.

Each one says which subject/trial/file is at fault, so a researcher can fix the input; the
runner records it for that trial and carries on with the others.
"""

from __future__ import annotations

from opencapbench.errors import OCBError


class BenchmarkInputError(OCBError):
    """Base class: the input of one trial is unusable."""


class MissingCameraError(BenchmarkInputError):
    """A camera folder, its calibration or its keypoints are missing for a trial."""


class MissingKeypointsError(BenchmarkInputError):
    """No 2D keypoints were found in the keypoint store for a trial/camera."""


class InconsistentKeypointsError(BenchmarkInputError):
    """Cameras of one trial disagree (keypoint set, frame rate) or hold no usable frames."""


class MissingGroundTruthError(BenchmarkInputError):
    """A trial has no motion-capture ground-truth .mot file, so it cannot be scored."""


class TriangulationFailedError(BenchmarkInputError):
    """Too few frames could be triangulated to produce markers for IK."""


class MissingModelError(BenchmarkInputError):
    """A subject has no model to run IK on (no mocap-scaled ``.osim``)."""


class MissingVideoError(BenchmarkInputError):
    """The pose stage found no video for a trial."""


class PoseStageError(BenchmarkInputError):
    """Detection + pose failed on some video of a trial; the message names each video."""


class GroundTruthError(BenchmarkInputError):
    """A ground-truth (or predicted) motion lacks coordinates that the 12 DOFs need."""
