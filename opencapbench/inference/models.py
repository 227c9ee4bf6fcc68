"""Pose models by name, or from local files.

Registered names (files come from the Hugging Face Hub and are cached, see
:mod:`opencapbench.inference.hub`):

* ``synthpose-hrnet48``: HRNet-W48 + DARK, 384×288, 52 keypoints, the MMPose release
  ``stanfordmimi/synthpose-hrnet-48-mmpose`` run by :mod:`opencapbench.pose` (no mmpose).
* ``synthpose-vitpose-base`` / ``synthpose-vitpose-huge``: ``transformers`` ViTPose
  (``stanfordmimi/synthpose-vitpose-{base,huge}-hf``).

Local files: an MMPose-style config ``.py`` (+ a checkpoint ``.pth``), or a folder saved
with ``save_pretrained`` holding a ViTPose ``config.json``.

Every model returned has ``keypoint_names``, ``flip_indices``, ``input_size (w, h)`` and
``predict_bboxes(images, bboxes) -> [(keypoints (N_i, K, 2) px, scores (N_i, K))]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from opencapbench.inference.errors import UnknownModelError
from opencapbench.inference.hub import hub_files, hub_snapshot
from opencapbench.keypoints import (
    get_keypoint_set,
    keypoint_set_from_names,
    list_keypoint_sets,
    register_keypoint_set,
)

log = logging.getLogger(__name__)


#: The repository's copies of MMPose configs written for :mod:`opencapbench.pose`, used when a
#: downloaded config cannot be read without MMPose (e.g. it inherits ``_base_`` files).
_BUNDLED_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pose"

#: Hugging Face repository of the default person detector (RT-DETR R50vd, COCO + Objects365).
DEFAULT_DETECTOR = "PekingU/rtdetr_r50vd_coco_o365"


class PoseEstimator(Protocol):
    """The interface the inference pipeline needs from a top-down pose model."""

    keypoint_names: list[str]
    flip_indices: list[int]
    input_size: tuple[int, int]

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]: ...


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: where its files live and which loader runs it."""

    name: str
    kind: str  # "mmpose" (opencapbench.pose) or "vitpose" (transformers)
    repo_id: str
    files: tuple[str, ...]
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "synthpose-hrnet48",
            "mmpose",
            "stanfordmimi/synthpose-hrnet-48-mmpose",
            ("td-hm_hrnet-w48_dark-8xb32-210e_synthpose_inference.py", "hrnet-w48_dark.pth"),
            "SynthPose HRNet-W48 + DARK, 384x288, COCO-17 + 35 anatomical markers",
        ),
        ModelSpec(
            "synthpose-vitpose-base",
            "vitpose",
            "stanfordmimi/synthpose-vitpose-base-hf",
            ("config.json", "preprocessor_config.json", "*.safetensors"),
            "SynthPose ViTPose-Base (transformers), 256x192, 52 keypoints",
        ),
        ModelSpec(
            "synthpose-vitpose-huge",
            "vitpose",
            "stanfordmimi/synthpose-vitpose-huge-hf",
            ("config.json", "preprocessor_config.json", "*.safetensors"),
            "SynthPose ViTPose-Huge (transformers), 256x192, 52 keypoints (2.5 GB)",
        ),
    )
}


def list_models() -> list[str]:
    from opencapbench.inference.rtmpose import RTMPOSE_MODELS  # RTMPose ONNX hook

    return sorted(MODELS) + sorted(RTMPOSE_MODELS)


def default_batch_size(device: str | Any, amp: str | None = None) -> int:
    """Crops per forward pass (the flip test doubles the images per pass).

    Measured on a 2-core AVX512-BF16 CPU with HRNet-W48 at 288x384
    (``benchmarks/pose_speed.py``): in float32 the time per image grows with the batch
    (1.0 s at 1 image, 1.2 s at 4-16), so 1 crop per pass; under bf16 autocast it shrinks
    (0.72 s at 1 image, 0.45 s at 16), so 8.  On accelerators 32.
    """
    if not str(getattr(device, "type", device)).startswith("cpu"):
        return 32
    return 8 if amp == "bf16" else 1


class BoundPoseModel:
    """An :mod:`opencapbench.pose` ``PoseModel`` with its inference options fixed.

    ``predict_bboxes(images, bboxes)`` calls the model with ``flip_test`` and ``batch_size``;
    ``amp`` runs it under autocast (bf16/fp16 on CUDA through the model's ``dtype``, bf16 on
    CPU around the call; heatmaps are decoded in float32 either way).
    """

    def __init__(
        self, model: Any, flip_test: bool = True, amp: str | None = None, batch_size: int = 32
    ) -> None:
        self.model = model
        self.keypoint_names = list(model.keypoint_names)
        self.flip_indices = list(model.flip_indices)
        self.input_size = tuple(model.input_size)
        self.keypoint_set = getattr(model, "keypoint_set", None)
        self.flip_test = flip_test
        self.amp = None if amp in (None, "none", "fp32") else amp
        self.batch_size = batch_size
        self.device = getattr(model, "device", None)

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        from opencapbench.inference.detector import autocast_context

        on_cuda = getattr(self.device, "type", "cpu") == "cuda"
        kwargs = {"flip_test": self.flip_test, "batch_size": self.batch_size}
        if on_cuda:
            return self.model.predict_bboxes(images, bboxes, dtype=self.amp, **kwargs)
        import torch

        with autocast_context(torch.device("cpu"), self.amp):
            return self.model.predict_bboxes(images, bboxes, **kwargs)


def _load_mmpose(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike | None,
    device: str,
    amp: str | None = None,
    flip_test: bool = True,
    batch_size: int | None = None,
) -> PoseEstimator:
    from opencapbench.pose.api import PoseModel

    model = PoseModel.from_config(
        str(config), checkpoint=None if checkpoint is None else str(checkpoint), device=device
    )
    return BoundPoseModel(model, flip_test=flip_test, amp=amp, batch_size=batch_size)


def _is_vitpose_folder(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "vitpose"
    except (OSError, json.JSONDecodeError):
        return False


def load_pose_model(
    model: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    amp: str | None = None,
    flip_test: bool = True,
    batch_size: int | None = None,
) -> PoseEstimator:
    """Load a pose model by registered name or from local files.

    Args:
        model: a name from :data:`MODELS`, an MMPose-style config ``.py``, or a ViTPose
            folder (``save_pretrained``).
        checkpoint: weights for a local config (``.pth``); ignored for names and folders.
        device: torch device, e.g. "cpu", "cuda".
        amp: "bf16" / "fp16" autocast on CUDA, "bf16" on CPU; None = fp32.
        flip_test: average with the mirrored crop.
        batch_size: crops per forward pass (None: :func:`default_batch_size` of ``device``).

    Raises:
        UnknownModelError: neither a registered name nor an existing local file/folder.
        ModelNotAvailableError: a registered model's files are not cached and cannot be
            downloaded (the message says what to download and where).
    """
    # --- RTMPose/RTMW ONNX back-end (opencapbench.inference.rtmpose): registered rtm* names
    # and local .onnx files; returns None for anything else ---
    from opencapbench.inference.rtmpose import load_rtmpose

    onnx_model = load_rtmpose(
        model, device=device, flip_test=flip_test, batch_size=batch_size, amp=amp
    )
    if onnx_model is not None:
        return onnx_model
    # --- end of the RTMPose hook ---
    if batch_size is None:
        batch_size = default_batch_size(device, amp)
    opts = {"amp": amp, "flip_test": flip_test, "batch_size": batch_size}
    name = str(model)
    spec = MODELS.get(name.lower())
    if spec is not None:
        if spec.kind == "vitpose":
            folder = hub_snapshot(spec.repo_id, spec.files)
            from opencapbench.inference.vitpose import VitPoseEstimator

            return VitPoseEstimator(folder, device=device, **opts)
        config, weights = hub_files(spec.repo_id, spec.files)
        bundled = _BUNDLED_CONFIGS / spec.files[0]
        try:
            return _load_mmpose(config, weights, device, **opts)
        except Exception as exc:  # noqa: BLE001 - retried with the bundled equivalent below
            if not bundled.is_file():
                raise
            log.warning("%s: %s; using the bundled equivalent %s", config, exc, bundled)
            return _load_mmpose(bundled, weights, device, **opts)
    path = Path(name).expanduser()
    if path.is_dir() and _is_vitpose_folder(path):
        from opencapbench.inference.vitpose import VitPoseEstimator

        return VitPoseEstimator(path, device=device, **opts)
    if path.is_file() and path.suffix == ".py":
        if checkpoint is None:
            log.warning("%s: no checkpoint given, the pose model has random weights", path)
        elif not Path(checkpoint).is_file():
            raise UnknownModelError(f"checkpoint file {checkpoint} not found")
        return _load_mmpose(path, checkpoint, device, **opts)
    raise UnknownModelError(
        f"unknown pose model {name!r}: use one of {list_models()}, an MMPose config .py "
        f"(with --checkpoint), a ViTPose folder with config.json, or an RTMPose/RTMW .onnx file"
    )


def keypoint_set_name(model: PoseEstimator) -> str:
    """Registry name of the keypoint set the model outputs (registered on the fly if new)."""
    kps = getattr(model, "keypoint_set", None)
    if isinstance(kps, str) and kps in list_keypoint_sets():
        return kps
    if kps is not None and hasattr(kps, "name"):
        return kps.name
    names = tuple(model.keypoint_names)
    for candidate in list_keypoint_sets():
        if get_keypoint_set(candidate).names == names:
            return candidate
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:8]
    new_name = f"model{len(names)}_{digest}"
    if new_name not in list_keypoint_sets():
        register_keypoint_set(keypoint_set_from_names(new_name, names))
    return new_name
