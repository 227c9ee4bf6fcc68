"""Training accuracy on heatmaps (MMPose's ``pose_pck_accuracy``), numpy."""

from __future__ import annotations

import numpy as np

from opencapbench.pose.codecs.refinement import get_heatmap_maximum


def keypoint_pck_accuracy(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, thr: float, norm_factor: np.ndarray
) -> tuple[np.ndarray, float, int]:
    """PCK of keypoints (N, K, 2) with mask (N, K) and normaliser (N, 2).

    Returns per-keypoint accuracy (K,) (-1 where no valid sample), the mean over keypoints
    with a valid accuracy, and the number of such keypoints.
    """
    n, k = pred.shape[:2]
    norm = norm_factor.astype(np.float64).copy()
    valid = mask.astype(bool).copy()
    valid[(norm == 0).any(axis=1)] = False
    norm[norm <= 0] = 1e6
    dist = np.full((n, k), -1.0)
    d = np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)
    dist[valid] = d[valid]
    acc = np.full(k, -1.0)
    for j in range(k):
        ok = dist[:, j] != -1
        if ok.any():
            acc[j] = float((dist[ok, j] < thr).mean())
    good = acc[acc >= 0]
    return acc, float(good.mean()) if good.size else 0.0, int(good.size)


def pose_pck_accuracy(
    output: np.ndarray, target: np.ndarray, mask: np.ndarray, thr: float = 0.05
) -> tuple[np.ndarray, float, int]:
    """PCK between heatmap argmaxes of output and target (B, K, H, W), mask (B, K).

    Distances are normalised by (H, W) applied to (x, y), i.e. x by the heatmap height, as
    MMPose does; the training ``acc_pose`` therefore matches MMPose's logs.
    """
    b, k, h, w = output.shape
    if k == 0:
        return np.zeros(0), 0.0, 0
    norm = np.tile(np.array([[h, w]], dtype=np.float64), (b, 1))
    pred, _ = get_heatmap_maximum(output)
    gt, _ = get_heatmap_maximum(target)
    return keypoint_pck_accuracy(pred, gt, mask, thr, norm)
