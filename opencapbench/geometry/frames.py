"""Rotation from the checkerboard (calibration world) frame into OpenSim's Y-up frame.

OpenCap's extrinsics put the world origin on the checkerboard, with OpenCV's board axes:
x and y in the board plane, z = x × y pointing *into* the board (away from a camera that sees
its front).  OpenSim wants Y up.  Which rotation gets there depends on how the board was
mounted (``sessionMetadata.yaml`` → ``checkerBoard.placement``).

Each placement is a sequence of rotations applied to the **points**, one after the other
(space-fixed / extrinsic axes, scipy lowercase), except ``backWall_walking`` whose angles are
body-fixed (intrinsic, scipy uppercase ``"YZ"``), as in OpenCapBench.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "PLACEMENTS",
    "POSE2SIM_TO_OPENSIM",
    "change_world",
    "placement_rotation",
    "rotate_points",
]

#: placement → (scipy euler sequence, angles in degrees).  Lowercase = extrinsic, applied in
#: order (first angle first); uppercase = intrinsic.
PLACEMENTS: dict[str, tuple[str, tuple[float, ...]]] = {
    "backWall": ("yz", (90.0, 180.0)),
    "backWall_upsideDown": ("y", (-90.0,)),
    "backWall_largeCB": ("y", (-90.0,)),
    "backWall_walking": ("YZ", (-90.0, 180.0)),
    "ground": ("xy", (90.0, 90.0)),
    "ground_jumps": ("xy", (90.0, 180.0)),
    "ground_gaits": ("xy", (90.0, 90.0)),
}


def placement_rotation(placement: str, upside_down: bool = False) -> np.ndarray:
    """Rotation matrix ``R`` with ``p_opensim = R @ p_checkerboard_world``.

    Args:
        placement: ``checkerBoard.placement`` from the session metadata: ``backWall``,
            ``backWall_largeCB``, ``backWall_walking``, ``ground``, ``ground_jumps`` or
            ``ground_gaits``.
        upside_down: the back-wall board was mounted upside down (OpenCap detects this from a
            camera's ``R[1, 1] < 0``); only changes ``backWall`` (then y −90° alone).

    Returns:
        (3, 3) proper rotation matrix (orthonormal, det +1).

    Raises:
        ValueError: unknown placement; the message lists the valid ones.
    """
    key = placement
    if placement == "backWall" and upside_down:
        key = "backWall_upsideDown"
    if key not in PLACEMENTS:
        valid = sorted(k for k in PLACEMENTS if k != "backWall_upsideDown")
        raise ValueError(f"unknown checkerboard placement {placement!r}; valid placements: {valid}")
    seq, angles = PLACEMENTS[key]
    return Rotation.from_euler(seq, angles, degrees=True).as_matrix()


def rotate_points(points: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Rotate points by ``R`` (``p' = R @ p`` for every point), NaN-preserving.

    Args:
        points: (..., 3) coordinates (any unit; unchanged).
        R: (3, 3) rotation matrix.

    Returns:
        (..., 3) rotated coordinates.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"rotate_points expects points of shape (..., 3), got {p.shape}")
    return p @ np.asarray(R, dtype=np.float64).T


#: ``p_opensim = POSE2SIM_TO_OPENSIM @ p_pose2sim``: Pose2Sim's calibration world is Z up and it
#: writes TRC x = world y, TRC y = world z, TRC z = world x (a cyclic permutation, det +1).
POSE2SIM_TO_OPENSIM = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def change_world(R: np.ndarray, t: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extrinsics of a camera in a rotated world ``p_new = A @ p_old``.

    Args:
        R: (3, 3) world→camera rotation in the old world.
        t: (3,) world→camera translation (any unit; unchanged by a pure rotation).
        A: (3, 3) proper rotation from the old world to the new one.

    Returns:
        ``(R @ A.T, t)``: the same camera, so that ``R_new @ p_new + t = R @ p_old + t``.
    """
    return np.asarray(R, dtype=np.float64) @ np.asarray(A, dtype=np.float64).T, np.asarray(t)
