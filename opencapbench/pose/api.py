"""High-level batched inference: ``PoseModel.from_config(config, checkpoint, device)``.

The model takes whole images and person boxes, crops every box to the model input (one
batch; on CUDA with ``grid_sample``, on CPU with ``cv2.warpAffine`` exactly as MMPose),
runs the network with the flip test, decodes on the device and returns keypoints in image
pixels.  Equivalent to MMPose's ``inference_topdown`` with the config's test settings.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.config import Config

from opencapbench.device import autocast
from opencapbench.keypoints import KeypointSet, get_keypoint_set, list_keypoint_sets
from opencapbench.pose.builder import build_pose_estimator, find_transform, load_config
from opencapbench.pose.checkpoint import keypoint_names_from_meta, load_mmpose_checkpoint
from opencapbench.pose.codecs import UDPHeatmap
from opencapbench.pose.errors import CheckpointMismatchError
from opencapbench.pose.models.flip import flip_heatmaps
from opencapbench.pose.models.fusion import fold_batchnorm
from opencapbench.pose.transforms.gpu_warp import warp_affine_batch
from opencapbench.pose.transforms.warp import (
    bbox_xyxy2cs,
    fix_aspect_ratio,
    get_udp_warp_matrix,
    get_warp_matrix,
)


def resolve_keypoints(
    num_keypoints: int, dataset_meta: Mapping | None, keypoint_set: str | None = None
) -> tuple[list[str], list[int], str | None]:
    """Keypoint names, flip indices and registry name for a K-keypoint model.

    The names come from the keypoint registry (``keypoint_set`` or the registered set whose
    names match the checkpoint's, else the only registered set with K keypoints); without a
    registry match, from the checkpoint's ``dataset_meta``.  The flip indices come from the
    checkpoint's ``dataset_meta`` when present (as MMPose uses them), else from the registry.

    Raises:
        CheckpointMismatchError: counts disagree or the keypoints cannot be named.
    """
    meta_names = keypoint_names_from_meta(dataset_meta)
    meta_flip = (
        list(dataset_meta["flip_indices"])
        if dataset_meta and "flip_indices" in dataset_meta
        else None
    )
    for what, seq in (
        ("dataset_meta keypoint names", meta_names),
        ("dataset_meta flip_indices", meta_flip),
    ):
        if seq is not None and len(seq) != num_keypoints:
            raise CheckpointMismatchError(
                f"model has {num_keypoints} keypoints but the {what} list {len(seq)}"
            )
    kps: KeypointSet | None = None
    if keypoint_set is not None:
        kps = get_keypoint_set(keypoint_set)
        if kps.num_keypoints != num_keypoints:
            raise CheckpointMismatchError(
                f"keypoint set {kps.name!r} has {kps.num_keypoints} keypoints but the model "
                f"outputs {num_keypoints}"
            )
    else:
        same_k = [get_keypoint_set(n) for n in list_keypoint_sets()]
        same_k = [s for s in same_k if s.num_keypoints == num_keypoints]
        if meta_names is not None:
            match = [s for s in same_k if set(s.names) == set(meta_names)]
            kps = match[0] if match else None
        elif len(same_k) == 1:
            kps = same_k[0]
    if kps is None and meta_names is None:
        raise CheckpointMismatchError(
            f"cannot name the model's {num_keypoints} keypoints: no dataset_meta in the "
            f"checkpoint and no unique registered keypoint set with {num_keypoints} keypoints "
            f"(registered: {list_keypoint_sets()})"
        )
    if kps is not None and meta_names is not None and list(kps.names) != meta_names:
        moved = [i for i, (a, b) in enumerate(zip(kps.names, meta_names, strict=True)) if a != b]
        warnings.warn(
            f"checkpoint dataset_meta names differ from keypoint set {kps.name!r} at indices "
            f"{moved}; using the registry's names (the published SynthPose metainfo is known "
            "to swap the lateral/medial wrist names)",
            stacklevel=3,
        )
    names = list(kps.names) if kps is not None else list(meta_names)
    flip = meta_flip if meta_flip is not None else list(kps.flip_indices)  # type: ignore[union-attr]
    if kps is not None and meta_flip is not None and meta_flip != list(kps.flip_indices):
        warnings.warn(
            f"checkpoint flip_indices differ from keypoint set {kps.name!r}; using the checkpoint's",
            stacklevel=3,
        )
    return names, flip, kps.name if kps is not None else None


def _as_boxes(b) -> np.ndarray:
    """(N, 4|5) float32 boxes; an empty input gives (0, 4)."""
    b = np.asarray(b, dtype=np.float32)
    if b.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    b = b.reshape(-1, b.shape[-1])
    if b.shape[1] not in (4, 5):
        raise ValueError(f"boxes must be (N, 4) or (N, 5) x1, y1, x2, y2[, score]; got {b.shape}")
    return b


class PoseModel:
    """A top-down heatmap pose model ready for batched inference.

    Attributes:
        estimator: the ``TopdownPoseEstimator`` (eval mode, on ``device``). With
            ``optimize=True`` (default) its BatchNorms are folded into the convolutions and it
            runs channels-last: same outputs to float rounding, ~1.2× faster on CPU; such an
            estimator is for inference only (its state_dict no longer has MMPose's names).
        keypoint_names: K names in output order.
        flip_indices: K left/right partner indices used by the flip test.
        keypoint_set: registry name of the keypoint set (None if only named by the checkpoint).
        input_size: model input (w, h) pixels.
        dataset_meta: the checkpoint's ``dataset_meta`` (or None).
    """

    def __init__(
        self,
        estimator,
        keypoint_names: Sequence[str],
        flip_indices: Sequence[int],
        keypoint_set: str | None = None,
        use_udp: bool = False,
        bbox_padding: float = 1.25,
        dataset_meta: Mapping | None = None,
        device: str | torch.device = "cpu",
        crop_backend: str = "auto",
        optimize: bool = True,
    ) -> None:
        if crop_backend not in ("auto", "cv2", "torch"):
            raise ValueError(f"crop_backend must be 'auto', 'cv2' or 'torch', got {crop_backend!r}")
        self.device = torch.device(device)
        #: 'cv2' (MMPose's exact crops, CPU) or 'torch' (grid_sample on the device);
        #: 'auto' picks 'torch' on CUDA and 'cv2' otherwise.
        self.crop_backend = crop_backend
        self.estimator = estimator.to(self.device).eval()
        if optimize:
            # exact up to float rounding; see opencapbench/pose/models/fusion.py
            fold_batchnorm(self.estimator)
            self.estimator.to(memory_format=torch.channels_last)
        self.optimized = optimize
        self.codec = estimator.head.decoder
        self.input_size: tuple[int, int] = tuple(self.codec.input_size)  # type: ignore[assignment]
        self.keypoint_names = list(keypoint_names)
        self.flip_indices = list(flip_indices)
        self.keypoint_set = keypoint_set
        self.use_udp = use_udp
        self.bbox_padding = bbox_padding
        self.dataset_meta = dict(dataset_meta) if dataset_meta else None
        test_cfg = estimator.test_cfg
        self.flip_test = bool(test_cfg.get("flip_test", False))
        self.shift_heatmap = bool(test_cfg.get("shift_heatmap", False))
        pre = estimator.data_preprocessor
        self._mean = (
            pre.mean.to(self.device).view(1, 3, 1, 1)
            if getattr(pre, "_enable_normalize", False)
            else None
        )
        self._std = pre.std.to(self.device).view(1, 3, 1, 1) if self._mean is not None else None
        self._bgr_to_rgb = bool(getattr(pre, "_channel_conversion", False))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike | Config | Mapping,
        checkpoint: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        keypoint_set: str | None = None,
        crop_backend: str = "auto",
        optimize: bool = True,
    ) -> PoseModel:
        """Build from an MMPose config and (optionally) load an MMPose checkpoint.

        Without a checkpoint the weights are MMPose's initialisation (for tests/training).

        Raises:
            CheckpointMismatchError: config, checkpoint and keypoint registry disagree.
            UnsafeCheckpointError: the checkpoint holds objects outside the safe allowlist.
            PoseConfigError: the config asks for an unsupported type.
        """
        cfg = load_config(config)
        estimator = build_pose_estimator(cfg)
        meta: dict = {}
        if checkpoint is not None:
            meta = load_mmpose_checkpoint(estimator, Path(checkpoint))
        else:
            estimator.init_weights()
        dataset_meta = meta.get("dataset_meta") or estimator.metainfo
        names, flip, set_name = resolve_keypoints(
            estimator.head.out_channels, dataset_meta, keypoint_set
        )
        estimator.dataset_meta = dict(dataset_meta) if dataset_meta else {"flip_indices": flip}
        estimator.dataset_meta.setdefault("flip_indices", flip)
        affine = find_transform(cfg, "TopdownAffine") or {}
        bbox_cs = find_transform(cfg, "GetBBoxCenterScale") or {}
        use_udp = bool(affine.get("use_udp", isinstance(estimator.head.decoder, UDPHeatmap)))
        return cls(
            estimator,
            names,
            flip,
            keypoint_set=set_name,
            use_udp=use_udp,
            bbox_padding=float(bbox_cs.get("padding", 1.25)),
            dataset_meta=dataset_meta,
            device=device,
            crop_backend=crop_backend,
            optimize=optimize,
        )

    # ---------------------------------------------------------------- geometry
    def box_geometry(self, bboxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) xyxy -> input centres (N, 2), aspect-fixed scales (N, 2), warp (N, 2, 3)."""
        w, h = self.input_size
        center, scale = bbox_xyxy2cs(np.asarray(bboxes, np.float32)[:, :4], self.bbox_padding)
        scale = fix_aspect_ratio(scale, w / h)
        mats = np.zeros((len(center), 2, 3), dtype=np.float64)
        for i in range(len(center)):
            if scale[i, 0] > 0 and scale[i, 1] > 0:
                fn = get_udp_warp_matrix if self.use_udp else get_warp_matrix
                mats[i] = fn(center[i], scale[i], 0.0, (w, h))
        return center, scale, mats

    def crop(
        self, images: Sequence[np.ndarray], bboxes: Sequence[np.ndarray]
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
        """Crop all boxes: returns crops (M, 3, h, w) float32 BGR 0..255 on the device,
        centres (M, 2), scales (M, 2) and the image index of each crop (M,)."""
        if len(images) != len(bboxes):
            raise ValueError(f"{len(images)} images but {len(bboxes)} box arrays")
        boxes = [_as_boxes(b) for b in bboxes]
        index = (
            np.concatenate([np.full(len(b), i) for i, b in enumerate(boxes)])
            if boxes
            else np.zeros(0, int)
        )
        all_boxes = (
            np.concatenate([b[:, :4] for b in boxes]) if boxes else np.zeros((0, 4), np.float32)
        )
        center, scale, mats = self.box_geometry(all_boxes)
        w, h = self.input_size
        backend = self.crop_backend
        if backend == "auto":
            backend = "torch" if self.device.type == "cuda" else "cv2"
        if backend == "torch":
            imgs = [
                torch.from_numpy(np.ascontiguousarray(im)).to(self.device, non_blocking=True)
                for im in images
            ]
            crops = warp_affine_batch(imgs, mats, index, (w, h))
        else:
            out = np.zeros((len(all_boxes), h, w, 3), dtype=np.uint8)
            for i, b in enumerate(index):
                out[i] = cv2.warpAffine(
                    images[b], mats[i].astype(np.float64), (w, h), flags=cv2.INTER_LINEAR
                )
            crops = torch.from_numpy(out).permute(0, 3, 1, 2).float()
        return crops, center, scale, index

    # ---------------------------------------------------------------- network
    def _normalise(self, crops: torch.Tensor) -> torch.Tensor:
        x = crops.to(self.device, dtype=torch.float32)
        if self._bgr_to_rgb:
            x = x[:, [2, 1, 0]]
        if self._mean is not None:
            x = (x - self._mean) / self._std
        return x

    @torch.inference_mode()
    def heatmaps(
        self,
        crops: torch.Tensor,
        flip_test: bool | None = None,
        precision: str | None = "none",
        batch_size: int = 64,
    ) -> torch.Tensor:
        """Heatmaps (B, K, H, W) float32 of BGR crops (B, 3, h, w) in 0..255 (uint8 or float).

        ``flip_test`` defaults to the config's ``test_cfg``; ``precision`` ("none", "bf16",
        "fp16") is the autocast of :func:`opencapbench.device.autocast`.
        """
        flip = self.flip_test if flip_test is None else flip_test
        outs = []
        for start in range(0, crops.shape[0], batch_size):
            x = self._normalise(crops[start : start + batch_size])
            if self.optimized:
                x = x.contiguous(memory_format=torch.channels_last)
            n = x.shape[0]
            if flip:
                x = torch.cat([x, x.flip(-1)])
            with autocast(self.device, precision):
                hm = self.estimator._forward(x).float()
            if flip:
                hm = (hm[:n] + flip_heatmaps(hm[n:], self.flip_indices, self.shift_heatmap)) * 0.5
            outs.append(hm)
        if not outs:
            k = self.num_keypoints
            hw = self.codec.heatmap_size
            return torch.zeros((0, k, hw[1], hw[0]), device=self.device)
        return torch.cat(outs)

    def predict_crops(
        self,
        crops: torch.Tensor,
        flip_test: bool | None = None,
        precision: str | None = "none",
        batch_size: int = 64,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) in model-input pixels and scores (B, K) for BGR crops (B, 3, h, w)."""
        hm = self.heatmaps(crops, flip_test=flip_test, precision=precision, batch_size=batch_size)
        return self.codec.decode_torch(hm)

    def predict_bboxes(
        self,
        images: Sequence[np.ndarray],
        bboxes: Sequence[np.ndarray],
        flip_test: bool | None = None,
        precision: str | None = "none",
        batch_size: int = 64,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Keypoints of every box of every image.

        Args:
            images: B images (H, W, 3) uint8 BGR.
            bboxes: B arrays (N_b, 4) (or (N_b, 5) with a score column) x1, y1, x2, y2 pixels.
            flip_test: override the config's flip test.
            precision: "none", "bf16" or "fp16" (:func:`opencapbench.device.autocast`).
            batch_size: crops per forward pass (the flip test doubles it).

        Returns:
            per image ``(keypoints (N_b, K, 2) float32 image px, scores (N_b, K) float32)``;
            boxes with zero width or height give NaN keypoints and zero scores.
        """
        crops, center, scale, index = self.crop(images, bboxes)
        kp, scores = self.predict_crops(
            crops, flip_test=flip_test, precision=precision, batch_size=batch_size
        )
        size = torch.tensor(self.input_size, dtype=torch.float32, device=kp.device)
        c = torch.as_tensor(center, device=kp.device)[:, None]
        s = torch.as_tensor(scale, device=kp.device)[:, None]
        kp = kp / size * s + c - 0.5 * s
        kp_np = kp.cpu().numpy().astype(np.float32)
        sc_np = scores.float().cpu().numpy().astype(np.float32)
        bad = ~((scale[:, 0] > 0) & (scale[:, 1] > 0))
        kp_np[bad] = np.nan
        sc_np[bad] = 0.0
        return [(kp_np[index == b], sc_np[index == b]) for b in range(len(images))]
