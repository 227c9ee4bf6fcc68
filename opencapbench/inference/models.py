"""Pose models by name (:mod:`opencapbench.inference.catalog`), or from local files.

A registered name downloads the model's weights from its pinned Hugging Face revision (cached,
see :mod:`opencapbench.inference.hub`), checks their SHA-256 and builds the model from the
config bundled with the package; nothing downloaded is executed.
Local files: an MMPose-style config ``.py`` (+ a checkpoint ``.pth``), or a folder saved
with ``save_pretrained`` holding a ViTPose ``config.json``.

Every model returned has ``keypoint_names``, ``flip_indices``, ``input_size (w, h)`` and
``predict_bboxes(images, bboxes) -> [(keypoints (N_i, K, 2) px, scores (N_i, K))]``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from opencapbench.device import parse_precision
from opencapbench.inference.catalog import MODELS, ModelEntry, list_models
from opencapbench.inference.errors import UnknownModelError
from opencapbench.inference.hub import fetch_model
from opencapbench.keypoints import (
    get_keypoint_set,
    keypoint_set_from_names,
    list_keypoint_sets,
    register_keypoint_set,
)

log = logging.getLogger(__name__)

__all__ = [
    "MODELS",
    "LazyModels",
    "PoseEstimator",
    "keypoint_set_name",
    "list_models",
    "load_pose_model",
]


class PoseEstimator(Protocol):
    """The interface the inference pipeline needs from a top-down pose model."""

    keypoint_names: list[str]
    flip_indices: list[int]
    input_size: tuple[int, int]

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]: ...


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

    ``predict_bboxes(images, bboxes)`` calls the model with ``flip_test``, ``batch_size`` and
    ``precision`` (autocast, :func:`opencapbench.device.autocast`; heatmaps are decoded in
    float32 either way).
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
        self.amp = parse_precision(amp)
        self.batch_size = batch_size
        self.device = getattr(model, "device", None)

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.model.predict_bboxes(
            images,
            bboxes,
            flip_test=self.flip_test,
            batch_size=self.batch_size,
            precision=self.amp,
        )


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


def _load_vitpose(folder: Path, device: str, **opts: Any) -> PoseEstimator:
    from opencapbench.inference.vitpose import VitPoseEstimator

    return VitPoseEstimator(folder, device=device, **opts)


def _is_vitpose_folder(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "vitpose"
    except (OSError, json.JSONDecodeError):
        return False


def _checked_checkpoint(checkpoint: str | os.PathLike | None) -> Path | None:
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise UnknownModelError(f"checkpoint file {checkpoint} not found")
    return None if checkpoint is None else Path(checkpoint)


def _load_registered(
    entry: ModelEntry, checkpoint: Path | None, device: str, **opts: Any
) -> PoseEstimator:
    """``entry``'s weights (pinned, checked) in its bundled config; ``checkpoint`` replaces
    the published weights of an "mmpose" model (e.g. a finetuned copy of it)."""
    if entry.kind == "vitpose":
        if checkpoint is not None:
            raise UnknownModelError(
                f"--checkpoint {checkpoint} cannot be used with {entry.name!r} (a transformers "
                "ViTPose); pass the folder of your ViTPose (save_pretrained) as the model"
            )
        return _load_vitpose(fetch_model(entry)[-1].parent, device, **opts)
    if checkpoint is None:
        checkpoint = fetch_model(entry)[-1]
    else:
        log.info("%s: weights from %s instead of %s", entry.name, checkpoint, entry.repo_id)
    return _load_mmpose(entry.config_path, checkpoint, device, **opts)


def _all_model_names() -> list[str]:
    """The catalog's names and the RTMPose ONNX names (RTMPose hook)."""
    from opencapbench.inference.catalog import RTMPOSE_MODELS

    return list_models() + sorted(RTMPOSE_MODELS)


def load_pose_model(
    model: str | os.PathLike | ModelEntry,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    amp: str | None = None,
    flip_test: bool = True,
    batch_size: int | None = None,
) -> PoseEstimator:
    """Load a pose model by registered name or from local files.

    Args:
        model: a name from :data:`~opencapbench.inference.catalog.MODELS`, a
            :class:`~opencapbench.inference.catalog.ModelEntry` (a model outside the
            catalog, loaded the same way), an MMPose-style config ``.py``, or a ViTPose
            folder (``save_pretrained``).
        checkpoint: weights (``.pth``) for a local config, or replacing the published
            weights of a registered MMPose model; refused for ViTPose.
        device: torch device, e.g. "cpu", "cuda".
        amp: precision, one of :data:`opencapbench.device.PRECISIONS` (None = "none").
        flip_test: average with the mirrored crop.
        batch_size: crops per forward pass (None: :func:`default_batch_size` of ``device``).

    Raises:
        UnknownModelError: neither a registered name nor an existing local file/folder; a
            missing checkpoint file; a checkpoint given with a ViTPose model.
        ModelNotAvailableError: a registered model's files are not cached and cannot be
            downloaded (the message says what to download and where).
        ModelIntegrityError: the downloaded weights differ from the pinned SHA-256.
    """
    amp = parse_precision(amp)
    # --- RTMPose/RTMW ONNX back-end (opencapbench.inference.rtmpose): registered rtm* names
    # and local .onnx files; returns None for anything else ---
    from opencapbench.inference.rtmpose import load_rtmpose

    if not isinstance(model, ModelEntry):
        onnx_model = load_rtmpose(
            model, device=device, flip_test=flip_test, batch_size=batch_size, amp=amp
        )
        if onnx_model is not None:
            return onnx_model
    # --- end of the RTMPose hook ---
    if batch_size is None:
        batch_size = default_batch_size(device, amp)
    opts = {"amp": amp, "flip_test": flip_test, "batch_size": batch_size}
    ckpt = _checked_checkpoint(checkpoint)
    entry = model if isinstance(model, ModelEntry) else MODELS.get(str(model).lower())
    if entry is not None:
        return _load_registered(entry, ckpt, device, **opts)
    path = Path(model).expanduser()
    if path.is_dir() and _is_vitpose_folder(path):
        if ckpt is not None:
            raise UnknownModelError(
                f"--checkpoint {ckpt} cannot be used with ViTPose folder {path}"
            )
        return _load_vitpose(path, device, **opts)
    if path.is_file() and path.suffix == ".py":
        if ckpt is None:
            log.warning("%s: no checkpoint given, the pose model has random weights", path)
        return _load_mmpose(path, ckpt, device, **opts)
    raise UnknownModelError(
        f"unknown pose model {str(model)!r}: use one of {_all_model_names()}, an MMPose "
        f"config .py (with --checkpoint), a ViTPose folder with config.json, or an "
        f"RTMPose/RTMW .onnx file"
    )


class LazyModels:
    """The pose model and person detector of one run, each loaded once, on first use.

    Args:
        model: a loaded pose model, or anything :func:`load_pose_model` takes.
        detector: a loaded detector (``detect(images)``), an RT-DETR repository id or folder,
            or None for the default RT-DETR (:data:`~opencapbench.inference.catalog.DEFAULT_DETECTOR`).
        checkpoint, device, amp, flip_test, batch_size: for :func:`load_pose_model`.
        det_threshold: detector score threshold (detector given by name).
    """

    def __init__(
        self,
        model: PoseEstimator | str | os.PathLike | ModelEntry,
        detector: Any = None,
        checkpoint: str | os.PathLike | None = None,
        device: str = "cpu",
        amp: str | None = None,
        flip_test: bool = True,
        batch_size: int | None = None,
        det_threshold: float = 0.5,
    ) -> None:
        self.model_spec, self.detector_spec = model, detector
        self.checkpoint, self.device, self.amp = checkpoint, device, parse_precision(amp)
        self.flip_test, self.batch_size, self.det_threshold = flip_test, batch_size, det_threshold

    @functools.cached_property
    def pose(self) -> PoseEstimator:
        spec = self.model_spec
        if not isinstance(spec, str | os.PathLike | ModelEntry):
            return spec
        return load_pose_model(
            spec, self.checkpoint, self.device, self.amp, self.flip_test, self.batch_size
        )

    @functools.cached_property
    def detector(self) -> Any:
        spec = self.detector_spec
        if spec is not None and not isinstance(spec, str | os.PathLike):
            return spec
        from opencapbench.inference.catalog import DEFAULT_DETECTOR
        from opencapbench.inference.detector import RTDetrPersonDetector

        return RTDetrPersonDetector(
            spec or DEFAULT_DETECTOR.repo_id,
            device=self.device,
            score_threshold=self.det_threshold,
            amp=self.amp,
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
