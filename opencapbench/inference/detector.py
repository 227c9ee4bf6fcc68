"""Person detectors: RT-DETR through ``transformers``, or boxes given in a file.

A detector maps a list of BGR uint8 images ``(H, W, 3)`` to one ``(N, 5)`` float32 array per
image: ``x1, y1, x2, y2, score`` in image pixels, persons only, sorted by score (descending).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from opencapbench.device import autocast, parse_precision
from opencapbench.inference.catalog import DEFAULT_DETECTOR
from opencapbench.inference.hub import hub_files, hub_snapshot, is_local

__all__ = ["PersonDetector", "RTDetrPersonDetector", "detector_folder"]
_DETECTOR_FILES = ("config.json", "preprocessor_config.json", "*.safetensors")


class PersonDetector(Protocol):
    """Anything with ``detect(images) -> list[(N, 5) boxes]``."""

    def detect(self, images: list[np.ndarray]) -> list[np.ndarray]: ...


def detector_folder(model: str | os.PathLike) -> Path:
    """Local folder of a detector: ``model`` itself when local; the default detector at its
    pinned revision; any other Hugging Face repository id from its latest revision."""
    if is_local(model):
        return Path(model).expanduser()
    if str(model) == DEFAULT_DETECTOR.repo_id:
        paths = hub_files(
            DEFAULT_DETECTOR.repo_id, DEFAULT_DETECTOR.files, DEFAULT_DETECTOR.revision
        )
        return paths[0].parent
    return hub_snapshot(str(model), _DETECTOR_FILES)


class RTDetrPersonDetector:
    """RT-DETR (``RTDetrForObjectDetection``) keeping the COCO ``person`` class.

    Args:
        model: Hugging Face repository id or a local folder saved with ``save_pretrained``
            (``config.json``, weights, ``preprocessor_config.json``).
        device: torch device.
        score_threshold: minimum detection score in [0, 1].
        amp: precision (:func:`opencapbench.device.autocast`): "none", "bf16", "fp16".
        batch_size: images per forward pass.
    """

    def __init__(
        self,
        model: str | os.PathLike = DEFAULT_DETECTOR.repo_id,
        device: str | torch.device = "cpu",
        score_threshold: float = 0.5,
        amp: str | None = None,
        batch_size: int = 8,
    ) -> None:
        folder = detector_folder(model)
        from transformers import RTDetrForObjectDetection, RTDetrImageProcessorPil

        # The Pil processor needs no torchvision; we only use its settings and post-processing.
        self.processor = RTDetrImageProcessorPil.from_pretrained(folder)
        self.device = torch.device(device)
        self.model = RTDetrForObjectDetection.from_pretrained(folder).eval().to(self.device)
        self.score_threshold = float(score_threshold)
        self.amp = parse_precision(amp)
        self.batch_size = max(1, int(batch_size))
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if "person" not in labels:
            raise ValueError(
                f"{model}: the detector has no 'person' class (labels: {sorted(labels)})"
            )
        self.person_label = labels["person"]
        size = self.processor.size
        self.input_hw = (int(size["height"]), int(size["width"]))

    def _pixel_values(self, images: list[np.ndarray]) -> torch.Tensor:
        h, w = self.input_hw
        batch = np.stack(
            [cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR)[..., ::-1] for im in images]
        )
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
        if self.processor.do_rescale:
            x = x * float(self.processor.rescale_factor)
        if self.processor.do_normalize:
            mean = torch.tensor(self.processor.image_mean, device=self.device).view(1, 3, 1, 1)
            std = torch.tensor(self.processor.image_std, device=self.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return x

    @torch.inference_mode()
    def detect(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Person boxes ``(N, 5)`` per image (``x1, y1, x2, y2, score``, pixels)."""
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            with autocast(self.device, self.amp):
                outputs = self.model(pixel_values=self._pixel_values(chunk))
            outputs.logits = outputs.logits.float()
            outputs.pred_boxes = outputs.pred_boxes.float()
            sizes = [(im.shape[0], im.shape[1]) for im in chunk]
            results = self.processor.post_process_object_detection(
                outputs, threshold=self.score_threshold, target_sizes=sizes
            )
            for res, (h, w) in zip(results, sizes, strict=True):
                keep = res["labels"] == self.person_label
                boxes = res["boxes"][keep].float().cpu().numpy()
                scores = res["scores"][keep].float().cpu().numpy()
                boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
                boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
                dets = np.concatenate([boxes, scores[:, None]], axis=1).astype(np.float32)
                out.append(dets[np.argsort(-dets[:, 4], kind="stable")].reshape(-1, 5))
        return out
