"""``TopdownPoseEstimator``: backbone + heatmap head as an mmengine ``BaseModel``."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from mmengine.model import BaseModel

from opencapbench.pose.errors import PoseConfigError
from opencapbench.pose.registry import MODELS, build_module


def _build(cfg: Any, what: str):
    return build_module(MODELS, cfg, what)


@MODELS.register_module()
class TopdownPoseEstimator(BaseModel):
    """Top-down heatmap pose estimator (MMPose's class of the same name).

    ``forward(inputs, data_samples, mode)`` with mode

    - ``'tensor'``: heatmaps (B, K, h, w);
    - ``'loss'``: ``{"loss_kpt", "acc_pose"}``;
    - ``'predict'``: the data samples with ``pred_instances.keypoints (1,K,2)`` in image
      pixels (``kp / input_size * input_scale + input_center - 0.5 * input_scale``) and
      ``keypoint_scores (1,K)``; flip test per ``test_cfg``.

    Args:
        backbone, head: configs (or modules) built from ``MODELS``.
        neck: not supported (must be None).
        test_cfg: ``flip_test``, ``flip_mode='heatmap'``, ``shift_heatmap``, ``output_heatmaps``.
        data_preprocessor: config of ``PoseDataPreprocessor``.
        metainfo: dataset meta (``flip_indices``, ...) set on every predicted data sample.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict | None = None,
        head: dict | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | list | None = None,
        metainfo: dict | None = None,
    ) -> None:
        super().__init__(
            data_preprocessor=_build(data_preprocessor, "data_preprocessor"), init_cfg=init_cfg
        )
        if neck is not None:
            raise PoseConfigError(f"TopdownPoseEstimator: necks are not supported (got {neck!r})")
        self.backbone = _build(backbone, "backbone")
        self.head = _build(head, "head")
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        known = {"flip_test", "flip_mode", "shift_heatmap", "output_heatmaps"}
        unknown = set(self.test_cfg) - known
        if unknown:
            warnings.warn(
                f"TopdownPoseEstimator ignores test_cfg keys {sorted(unknown)}", stacklevel=2
            )
        if metainfo is not None and "from_file" in metainfo:
            warnings.warn(
                "TopdownPoseEstimator ignores metainfo=dict(from_file=...); the dataset meta "
                "comes from the checkpoint or the keypoint registry",
                stacklevel=2,
            )
            metainfo = None
        self.metainfo = metainfo
        self.dataset_meta: dict | None = metainfo

    @property
    def with_head(self) -> bool:
        return self.head is not None

    def init_weights(self) -> None:
        """Initialise backbone and head (their own schemes; Pretrained via the safe loader)."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        for m in (self.backbone, self.head):
            if m is not None and hasattr(m, "init_weights"):
                m.init_weights()
        for cfg in cfgs:
            if cfg and cfg.get("type") == "Pretrained":
                from opencapbench.pose.checkpoint import load_pretrained

                load_pretrained(self, cfg["checkpoint"], prefix=cfg.get("prefix"))
        self._is_init = True

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.backbone(inputs)

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        return self.head.forward(self.extract_feat(inputs))

    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        if isinstance(inputs, list):
            inputs = torch.stack(inputs)
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            if self.metainfo is not None:
                for ds in data_samples:
                    ds.set_metainfo(self.metainfo)
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self._forward(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        return self.head.loss(self.extract_feat(inputs), data_samples, train_cfg=self.train_cfg)

    def _flip_indices(self, data_samples) -> list[int] | None:
        if data_samples and "flip_indices" in data_samples[0].metainfo:
            return data_samples[0].metainfo["flip_indices"]
        if self.dataset_meta and "flip_indices" in self.dataset_meta:
            return list(self.dataset_meta["flip_indices"])
        return None

    def predict(self, inputs: torch.Tensor, data_samples):
        if self.test_cfg.get("flip_test", False):
            feats = [self.extract_feat(inputs), self.extract_feat(inputs.flip(-1))]
            fi = self._flip_indices(data_samples)
            if fi is not None:
                for ds in data_samples:
                    if "flip_indices" not in ds.metainfo:
                        ds.set_metainfo({"flip_indices": fi})
        else:
            feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        fields = None
        if isinstance(preds, tuple):
            preds, fields = preds
        return self.add_pred_to_datasample(preds, fields, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances, batch_pred_fields, data_samples):
        """Map keypoints from model-input pixels to image pixels and attach predictions."""
        for i, (pred, ds) in enumerate(zip(batch_pred_instances, data_samples, strict=True)):
            meta = ds.metainfo
            size = torch.as_tensor(meta["input_size"], dtype=torch.float64).numpy()
            center = torch.as_tensor(meta["input_center"], dtype=torch.float64).numpy()
            scale = torch.as_tensor(meta["input_scale"], dtype=torch.float64).numpy()
            kp = pred.keypoints
            kp[..., :2] = kp[..., :2] / size * scale + center - 0.5 * scale
            pred.keypoints = kp
            if "keypoints_visible" not in pred:
                pred.keypoints_visible = pred.keypoint_scores
            if "gt_instances" in ds:
                gt = ds.gt_instances
                if "bboxes" in gt:
                    pred.bboxes = gt.bboxes
                if "bbox_scores" in gt:
                    pred.bbox_scores = gt.bbox_scores
            ds.pred_instances = pred
            if batch_pred_fields is not None:
                ds.pred_fields = batch_pred_fields[i]
        return data_samples
