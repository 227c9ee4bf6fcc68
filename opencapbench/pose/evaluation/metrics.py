"""Validation metrics: PCK (bbox-normalised) and COCO OKS AP/AR with the metainfo's sigmas.

Both are mmengine ``BaseMetric`` s registered under MMPose's names (``PCKAccuracy``,
``CocoMetric``).  They read the data samples the model returns in ``predict`` mode, as dicts:
``pred_instances.keypoints`` (N,K,2) image px, ``pred_instances.keypoint_scores`` (N,K),
``gt_instances.keypoints`` (N,K,2), ``gt_instances.keypoints_visible`` (N,K),
``gt_instances.bboxes`` (N,4) xyxy, and the metainfo ``img_id`` / ``id``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from opencapbench.errors import OCBError
from opencapbench.pose.registry import METRICS


def _np(x: Any) -> np.ndarray:
    """numpy view of an array-like or torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


# ------------------------------------------------------------------------ pure numerics
def pck_per_keypoint(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray, thr: float
) -> np.ndarray:
    """Per-keypoint PCK.

    Args:
        pred, gt: (N,K,2) keypoints in the same unit.
        mask: (N,K) bool, keypoints to count (visible ground truth).
        norm: (N,) normalisation length per instance (e.g. ``max(bbox w, h)``), > 0.
        thr: threshold on ``distance / norm``.

    Returns:
        (K,) fraction of counted instances within ``thr``; NaN for keypoints never counted.
    """
    dist = np.linalg.norm(pred - gt, axis=-1) / norm[:, None]
    hit = (dist < thr) & mask
    counted = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, hit.sum(axis=0) / counted, np.nan)


def oks(
    ref: np.ndarray, others: np.ndarray, area: float, sigmas: np.ndarray, ref_visible: np.ndarray
) -> np.ndarray:
    """Object keypoint similarity of ``others`` (M,K,2) to ``ref`` (K,2) of scale ``area`` px².

    Keypoints with ``ref_visible`` False are ignored; returns (M,) in [0, 1].
    """
    var = (2 * np.asarray(sigmas, float)) ** 2
    d2 = ((others - ref[None]) ** 2).sum(-1)
    e = d2 / var[None] / (2 * (area + np.spacing(1)))
    vis = np.asarray(ref_visible, bool)
    if not vis.any():
        return np.zeros(len(others))
    return np.exp(-e[:, vis]).mean(axis=1)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    thr: float,
    visible: np.ndarray | None = None,
) -> list[int]:
    """Greedy NMS on OKS: keep the best-scored instance, drop those with OKS > ``thr`` to it.

    keypoints (N,K,2), scores (N,), areas (N,), sigmas (K,); returns kept indices, best first.
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    vis = np.ones(keypoints.shape[:2], bool) if visible is None else visible
    keep = []
    while order:
        i, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(i))
        if rest.size == 0:
            break
        sim = oks(keypoints[i], keypoints[rest], float(areas[i]), sigmas, vis[i])
        order = list(rest[sim <= thr])
    return keep


# ------------------------------------------------------------------------ PCK
@METRICS.register_module()
class PCKAccuracy(BaseMetric):
    """PCK at one or more thresholds, normalised by ``max(bbox width, height)``.

    Args:
        thr: threshold or thresholds (fractions of the box size).
        norm_item: only ``"bbox"``.

    Metrics: ``PCK@{thr}`` per threshold (``PCK`` too when a single threshold is given),
    each the mean over keypoints of the per-keypoint hit rate of visible ground truth
    (as MMPose), and ``EPE``, the mean end-point error in pixels of visible keypoints.
    """

    default_prefix: str | None = "pck"

    def __init__(
        self,
        thr: float | Sequence[float] = 0.05,
        norm_item: str = "bbox",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if norm_item != "bbox":
            raise ValueError(f"PCKAccuracy supports norm_item='bbox' only, not {norm_item!r}")
        self.thrs = [float(thr)] if np.isscalar(thr) else [float(t) for t in thr]
        self.single = np.isscalar(thr)
        self.norm_item = norm_item

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            gt, pred = ds["gt_instances"], ds["pred_instances"]
            boxes = _np(gt["bboxes"]).reshape(-1, 4)
            size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            self.results.append(
                dict(
                    pred=_np(pred["keypoints"]).astype(np.float64),
                    gt=_np(gt["keypoints"]).astype(np.float64),
                    mask=_np(gt["keypoints_visible"]).reshape(len(boxes), -1) > 0,
                    norm=size.astype(np.float64),
                )
            )

    def compute_metrics(self, results: list) -> dict[str, float]:
        pred = np.concatenate([r["pred"] for r in results])
        gt = np.concatenate([r["gt"] for r in results])
        mask = np.concatenate([r["mask"] for r in results])
        norm = np.maximum(np.concatenate([r["norm"] for r in results]), 1e-6)
        out: dict[str, float] = {}
        for t in self.thrs:
            per_kp = pck_per_keypoint(pred, gt, mask, norm, t)
            out[f"PCK@{t:g}"] = float(np.nanmean(per_kp)) if np.isfinite(per_kp).any() else 0.0
        if self.single:
            out["PCK"] = out[f"PCK@{self.thrs[0]:g}"]
        err = np.linalg.norm(pred - gt, axis=-1)[mask]
        out["EPE"] = float(err.mean()) if err.size else float("nan")
        return out


# ------------------------------------------------------------------------ COCO OKS
COCO_STAT_NAMES = (
    "AP",
    "AP .5",
    "AP .75",
    "AP (M)",
    "AP (L)",
    "AR",
    "AR .5",
    "AR .75",
    "AR (M)",
    "AR (L)",
)


class MetricError(OCBError, ValueError):
    """The metric's inputs disagree (e.g. keypoint count of file vs metainfo)."""


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO keypoint AP/AR (pycocotools) with the OKS sigmas of the dataset metainfo.

    Args:
        ann_file: ground-truth COCO JSON; if None, the ground truth is rebuilt from the data
            samples (``gt_instances`` keypoints, visibility and ``areas`` or box area).
        use_area: use the annotation ``area`` as OKS scale (pycocotools always does; kept for
            config compatibility).
        score_mode: ``"bbox_keypoint"`` (box score × mean keypoint score above
            ``keypoint_score_thr``), ``"bbox"`` or ``"keypoint"``.
        keypoint_score_thr: keypoints scoring at most this do not count toward the score.
        nms_mode: ``"oks_nms"`` or ``"none"``.
        nms_thr: OKS threshold of the NMS.
        outfile_prefix: if given, the detections are also written to ``{prefix}.keypoints.json``.
        sigmas: override the metainfo's per-keypoint sigmas (K,).
    """

    default_prefix: str | None = "coco"

    def __init__(
        self,
        ann_file: str | None = None,
        use_area: bool = True,
        iou_type: str = "keypoints",
        score_mode: str = "bbox_keypoint",
        keypoint_score_thr: float = 0.2,
        nms_mode: str = "oks_nms",
        nms_thr: float = 0.9,
        format_only: bool = False,
        outfile_prefix: str | None = None,
        sigmas: Sequence[float] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if iou_type != "keypoints":
            raise ValueError("CocoMetric supports iou_type='keypoints' only")
        if score_mode not in ("bbox_keypoint", "bbox", "keypoint"):
            raise ValueError(f"unknown score_mode {score_mode!r}")
        if nms_mode not in ("oks_nms", "none"):
            raise ValueError(f"unknown nms_mode {nms_mode!r} (oks_nms or none)")
        self.ann_file = ann_file
        self.use_area = use_area
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_mode = nms_mode
        self.nms_thr = nms_thr
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.sigmas = None if sigmas is None else np.asarray(sigmas, float)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            pred, gt = ds["pred_instances"], ds.get("gt_instances", {})
            kps = _np(pred["keypoints"]).astype(np.float64)
            n = len(kps)
            scores = _np(pred.get("keypoint_scores", np.ones(kps.shape[:2]))).reshape(n, -1)
            bbox_scores = _np(pred.get("bbox_scores", gt.get("bbox_scores", np.ones(n))))
            boxes = _np(gt.get("bboxes", pred.get("bboxes", np.zeros((n, 4))))).reshape(-1, 4)
            box_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            areas = _np(gt["areas"]) if "areas" in gt else box_area
            entry = dict(
                img_id=ds.get("img_id"),
                id=ds.get("id"),
                category_id=int(ds.get("category_id", 1)),
                keypoints=kps,
                keypoint_scores=scores.astype(np.float64),
                bbox_scores=bbox_scores.reshape(-1).astype(np.float64)[:n],
                areas=np.broadcast_to(np.asarray(areas, np.float64).reshape(-1), (n,)).copy(),
            )
            if self.ann_file is None:
                entry["gt_keypoints"] = _np(gt["keypoints"]).astype(np.float64)
                entry["gt_visible"] = _np(gt["keypoints_visible"]).reshape(n, -1)
                entry["gt_areas"] = entry["areas"]
                entry["gt_boxes"] = boxes.astype(np.float64)
            self.results.append(entry)

    # -------------------------------------------------------------- helpers
    def _sigmas(self, num_k: int) -> np.ndarray:
        sig = self.sigmas
        if sig is None and self.dataset_meta is not None:
            sig = self.dataset_meta.get("sigmas")
        if sig is None:
            raise MetricError("CocoMetric needs per-keypoint sigmas (dataset metainfo `sigmas`)")
        sig = np.asarray(sig, float)
        if sig.shape != (num_k,):
            raise MetricError(f"CocoMetric: {sig.size} sigmas for {num_k} predicted keypoints")
        return sig

    def _instance_scores(self, r: dict) -> np.ndarray:
        ks = r["keypoint_scores"]
        good = ks > self.keypoint_score_thr
        with np.errstate(invalid="ignore"):
            kp_score = np.where(good.any(1), (ks * good).sum(1) / np.maximum(good.sum(1), 1), 0.0)
        if self.score_mode == "bbox":
            return r["bbox_scores"]
        if self.score_mode == "keypoint":
            return kp_score
        return r["bbox_scores"] * kp_score

    def _gt_from_results(self, results: list, num_k: int) -> dict:
        images, anns = {}, []
        for r in results:
            images[r["img_id"]] = dict(id=r["img_id"])
            for j in range(len(r["gt_keypoints"])):
                vis = r["gt_visible"][j] > 0
                kp = np.concatenate([r["gt_keypoints"][j], 2.0 * vis[:, None]], axis=1)
                x1, y1, x2, y2 = r["gt_boxes"][j]
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=r["img_id"],
                        category_id=r["category_id"],
                        keypoints=kp.reshape(-1).tolist(),
                        num_keypoints=int(vis.sum()),
                        area=float(r["gt_areas"][j]),
                        bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                        iscrowd=0,
                    )
                )
        cats = [dict(id=c, name="person") for c in sorted({a["category_id"] for a in anns} or {1})]
        return dict(images=list(images.values()), annotations=anns, categories=cats)

    def compute_metrics(self, results: list) -> dict[str, float]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        num_k = results[0]["keypoints"].shape[1]
        sigmas = self._sigmas(num_k)
        by_image: dict[Any, list[dict]] = defaultdict(list)
        for r in results:
            scores = self._instance_scores(r)
            for j in range(len(r["keypoints"])):
                by_image[r["img_id"]].append(
                    dict(
                        kp=r["keypoints"][j],
                        ks=r["keypoint_scores"][j],
                        score=float(scores[j]),
                        area=float(r["areas"][j]),
                        cat=r["category_id"],
                    )
                )
        dets = []
        for img_id, insts in by_image.items():
            if self.nms_mode == "oks_nms" and len(insts) > 1:
                kps = np.stack([d["kp"] for d in insts])
                keep = oks_nms(
                    kps,
                    np.array([d["score"] for d in insts]),
                    np.array([d["area"] for d in insts]),
                    sigmas,
                    self.nms_thr,
                )
                insts = [insts[i] for i in keep]
            for d in insts:
                kp = np.concatenate([d["kp"], d["ks"][:, None]], axis=1)
                dets.append(
                    dict(
                        image_id=img_id,
                        category_id=d["cat"],
                        keypoints=kp.reshape(-1).tolist(),
                        score=d["score"],
                    )
                )
        if self.outfile_prefix:
            out = Path(f"{self.outfile_prefix}.keypoints.json")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(dets))
        if self.format_only:
            return {}

        with contextlib.redirect_stdout(io.StringIO()):
            if self.ann_file is not None:
                coco_gt = COCO(str(self.ann_file))
            else:
                coco_gt = COCO()
                coco_gt.dataset = self._gt_from_results(results, num_k)
                coco_gt.createIndex()
        gt_k = next((len(a["keypoints"]) // 3 for a in coco_gt.dataset["annotations"]), num_k)
        if gt_k != num_k:
            raise MetricError(
                f"CocoMetric: ground truth {self.ann_file} has {gt_k} keypoints, predictions {num_k}"
            )
        if not dets:
            return {name: 0.0 for name in COCO_STAT_NAMES}
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            coco_dt = coco_gt.loadRes(dets)
            ev = COCOeval(coco_gt, coco_dt, "keypoints")
            ev.params.kpt_oks_sigmas = sigmas
            ev.params.imgIds = sorted(by_image)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        print_log("\n" + buf.getvalue(), logger="current", level=logging.INFO)
        return {name: float(v) for name, v in zip(COCO_STAT_NAMES, ev.stats, strict=True)}
