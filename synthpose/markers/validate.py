"""Check a marker set against a body model: index ranges and left/right symmetry.

For every left/right pair the left point is compared with the right point mirrored across the
template mesh's sagittal plane (``x = x0``, with ``x0`` the mean vertex x; SMPL-X's template is
left/right symmetric with +x pointing to the subject's left).  A pair further apart than the
tolerance (1 cm by default) gets a :class:`SymmetryIssue` and a ``UserWarning``: on a real
SMPL-X model this flags the published ``l_mankle`` (8892) and ``l_calc`` (8846) indices.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from synthpose.markers.definitions import MarkerFileError, MarkerSet


@dataclass(frozen=True)
class SymmetryIssue:
    """A left/right pair whose mirrored template positions disagree.

    Attributes:
        left, right: keypoint names.
        distance_m: distance between the left point and the mirrored right point, metres.
    """

    left: str
    right: str
    distance_m: float

    def __str__(self) -> str:
        return (
            f"{self.left}/{self.right}: mirrored positions differ by "
            f"{100 * self.distance_m:.1f} cm on the template mesh"
        )


def check_ranges(ms: MarkerSet, num_vertices: int, num_faces: int, num_joints: int) -> None:
    """Raise :class:`MarkerFileError` if any index is out of the model's range."""
    limits = {"vertex": num_vertices, "face": num_faces, "joint": num_joints}
    where = ms.source or ms.name
    for m in ms.markers:
        if not 0 <= m.index < limits[m.kind]:
            raise MarkerFileError(
                f"{where}: {m.name!r} uses {m.kind} {m.index}, but the body model has "
                f"{limits[m.kind]} {m.kind}s (valid 0..{limits[m.kind] - 1})"
            )


def template_points(
    ms: MarkerSet, vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray
) -> np.ndarray:
    """Positions of every keypoint on an (unposed) mesh.

    Args:
        ms: marker set.
        vertices: (V, 3) mesh vertices, metres.
        faces: (F, 3) int triangle vertex indices.
        joints: (J, 3) joint positions, metres.

    Returns:
        (K, 3) float64 positions in keypoint order.
    """
    check_ranges(ms, len(vertices), len(faces), len(joints))
    out = np.empty((ms.num_keypoints, 3))
    for i, m in enumerate(ms.markers):
        if m.kind == "vertex":
            out[i] = vertices[m.index]
        elif m.kind == "joint":
            out[i] = joints[m.index]
        else:
            out[i] = np.asarray(m.bary) @ vertices[faces[m.index]]
    return out


def check_symmetry(
    ms: MarkerSet,
    vertices: np.ndarray,
    faces: np.ndarray,
    joints: np.ndarray,
    tol_m: float = 0.01,
    warn: bool = True,
) -> list[SymmetryIssue]:
    """Compare each left/right pair mirrored across the template's sagittal plane.

    Args:
        ms: marker set.
        vertices: (V, 3) template vertices, metres (+x = subject's left).
        faces: (F, 3) triangles.
        joints: (J, 3) template joints, metres.
        tol_m: allowed distance between left point and mirrored right point, metres.
        warn: also emit one ``UserWarning`` per issue.

    Returns:
        the pairs beyond tolerance, in keypoint order.
    """
    pts = template_points(ms, vertices, faces, joints)
    x0 = float(np.mean(vertices[:, 0]))
    mirrored = pts.copy()
    mirrored[:, 0] = 2 * x0 - mirrored[:, 0]
    issues = []
    for i, j in enumerate(ms.flip_indices):
        if i >= j:
            continue
        d = float(np.linalg.norm(pts[i] - mirrored[j]))
        if d > tol_m:
            a, b = ms.markers[i].name, ms.markers[j].name
            left, right = (a, b) if pts[i, 0] - x0 >= pts[j, 0] - x0 else (b, a)
            issues.append(SymmetryIssue(left, right, d))
    if warn:
        where = ms.source or ms.name
        for issue in issues:
            warnings.warn(f"{where}: {issue}", UserWarning, stacklevel=2)
    return issues
