"""SynthPose marker definitions (keypoint name -> SMPL-X vertex / face point / joint)."""

from synthpose.markers.definitions import (
    DEFAULT_MARKER_FILE,
    SMPLX_JOINT_NAMES,
    MarkerDef,
    MarkerFileError,
    MarkerSet,
    load_marker_set,
    marker_set_from_defs,
)
from synthpose.markers.validate import SymmetryIssue, check_ranges, check_symmetry, template_points

__all__ = [
    "DEFAULT_MARKER_FILE",
    "SMPLX_JOINT_NAMES",
    "MarkerDef",
    "MarkerFileError",
    "MarkerSet",
    "SymmetryIssue",
    "check_ranges",
    "check_symmetry",
    "load_marker_set",
    "marker_set_from_defs",
    "template_points",
]
