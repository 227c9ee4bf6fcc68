"""Validation metrics: PCK at several thresholds and COCO OKS AP with the metainfo's sigmas."""

from __future__ import annotations

import numpy as np
import pytest

import opencapbench.pose.registry_all  # noqa: F401  (registers)
from opencapbench.pose.evaluation.metrics import (
    CocoMetric,
    MetricError,
    PCKAccuracy,
    oks_nms,
    pck_per_keypoint,
)
from opencapbench.pose.registry import METRICS


def _sample(gt, pred, box=(0, 0, 100, 50), img_id=1, ann_id=1, visible=None, scores=None):
    gt = np.asarray(gt, float)[None]
    pred = np.asarray(pred, float)[None]
    k = gt.shape[1]
    return dict(
        img_id=img_id,
        id=ann_id,
        gt_instances=dict(
            keypoints=gt,
            keypoints_visible=np.ones((1, k)) if visible is None else np.asarray(visible)[None],
            bboxes=np.asarray(box, float)[None],
            bbox_scores=np.ones(1),
        ),
        pred_instances=dict(
            keypoints=pred,
            keypoint_scores=np.ones((1, k)) if scores is None else np.asarray(scores)[None],
        ),
    )


def test_pck_per_keypoint_known_answer():
    gt = np.zeros((2, 3, 2))
    pred = np.zeros((2, 3, 2))
    pred[0, :, 0] = [1.0, 6.0, 30.0]  # norm 50 -> 0.02, 0.12, 0.6
    pred[1, :, 1] = [4.0, 4.0, 4.0]  # norm 100 -> 0.04 each
    mask = np.array([[True, True, True], [True, True, False]])
    pck = pck_per_keypoint(pred, gt, mask, np.array([50.0, 100.0]), 0.1)
    np.testing.assert_allclose(pck, [1.0, 0.5, 0.0])


def test_pck_metric_thresholds_and_bbox_normalisation():
    metric = METRICS.build(dict(type="PCKAccuracy", thr=[0.05, 0.1, 0.2]))
    assert isinstance(metric, PCKAccuracy)
    gt = [[10, 10], [20, 20], [30, 30], [40, 40]]
    # box 100 x 50 -> normalised by 100; errors 3, 7, 15, 30 px
    pred = [[13, 10], [20, 27], [45, 30], [40, 70]]
    metric.process({}, [_sample(gt, pred, visible=[1, 1, 1, 1])])
    res = metric.compute_metrics(metric.results)
    assert res["PCK@0.05"] == pytest.approx(0.25)
    assert res["PCK@0.1"] == pytest.approx(0.5)
    assert res["PCK@0.2"] == pytest.approx(0.75)
    assert res["EPE"] == pytest.approx((3 + 7 + 15 + 30) / 4)
    # invisible keypoints do not count
    metric = PCKAccuracy(thr=0.1)
    metric.process({}, [_sample(gt, pred, visible=[1, 1, 0, 0])])
    res = metric.compute_metrics(metric.results)
    assert res["PCK"] == pytest.approx(1.0)


def _coco_eval(sigmas, offset, area_box=(0, 0, 100, 100), k=4):
    gt = np.array([[20.0, 20.0], [60.0, 20.0], [20.0, 80.0], [60.0, 80.0]])[:k]
    metric = CocoMetric(ann_file=None, nms_mode="none", score_mode="bbox")
    metric.dataset_meta = dict(sigmas=np.asarray(sigmas, np.float32))
    metric.process({}, [_sample(gt, gt + [offset, 0.0], box=area_box)])
    return metric.compute_metrics(metric.results)


def test_coco_ap_uses_metainfo_sigmas():
    area = 100.0 * 100.0
    # OKS = exp(-d^2 / (2 * area * (2 sigma)^2)); choose d so that OKS = 0.72 with sigma 0.05
    sigma = 0.05
    d = np.sqrt(-np.log(0.72) * 2 * area * (2 * sigma) ** 2)
    res = _coco_eval([sigma] * 4, d)
    # one detection for one person: AP = fraction of the 10 OKS thresholds 0.50..0.95 below 0.72
    assert res["AP"] == pytest.approx(0.5, abs=1e-6)
    assert res["AR"] == pytest.approx(0.5, abs=1e-6)
    # with twice the sigma the same error gives OKS = 0.72 ** 0.25 = 0.921 -> 9 of 10 thresholds
    res = _coco_eval([2 * sigma] * 4, d)
    assert res["AP"] == pytest.approx(0.9, abs=1e-6)
    assert _coco_eval([sigma] * 4, 0.0)["AP"] == pytest.approx(1.0)


def test_coco_metric_rejects_sigma_count_mismatch():
    with pytest.raises(MetricError, match="3 sigmas for 4"):
        _coco_eval([0.05] * 3, 0.0)


def test_oks_nms_removes_duplicates_only():
    kps = np.array(
        [[[10.0, 10.0], [20.0, 20.0]], [[10.5, 10.0], [20.0, 20.5]], [[80.0, 80.0], [90.0, 90.0]]]
    )
    keep = oks_nms(kps, np.array([0.9, 0.8, 0.7]), np.full(3, 400.0), np.array([0.05, 0.05]), 0.9)
    assert keep == [0, 2]
