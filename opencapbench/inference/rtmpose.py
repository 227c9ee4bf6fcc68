"""RTMPose / RTMW models exported to ONNX (the files rtmlib and Pose2Sim run), on onnxruntime.

Pre- and post-processing follow MMPose's RTMPose test pipeline: the xyxy box is padded by
1.25 and widened to the model's aspect ratio (``bbox_xyxy2cs`` + ``fix_aspect_ratio``), the
crop is MMPose's non-UDP ``TopdownAffine`` warp (``cv2.warpAffine``, bilinear, black border),
pixels are RGB normalised with ImageNet mean/std in 0-255 units, and the two SimCC outputs
``simcc_x (N, K, W*s)``, ``simcc_y (N, K, H*s)`` are decoded by
:func:`opencapbench.pose.codecs.simcc.decode_simcc` and mapped back through the inverse crop.
The optional flip test averages the SimCC vectors of the crop and of its mirror (MMPose's
``RTMCCHead`` with ``flip_test=True``); rtmlib runs without one.

Registered names download the public ``onnx_sdk`` zips of the OpenMMLab server that rtmlib
uses; the ONNX file inside is cached under :func:`rtmpose_cache_dir`.
"""

from __future__ import annotations

import io
import logging
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.inference.catalog import RTMPOSE_MODELS, RTMPoseSpec
from opencapbench.inference.errors import InferenceError, ModelNotAvailableError, UnknownModelError
from opencapbench.io.atomic import atomic_path
from opencapbench.keypoints import (
    KeypointSet,
    get_keypoint_set,
    keypoint_set_from_names,
    list_keypoint_sets,
    register_keypoint_set,
)
from opencapbench.pose.transforms.warp import as_box_array

# cv2, torch (through opencapbench.pose) and onnxruntime are imported on use; the registered
# models are in the torch-free catalog

log = logging.getLogger(__name__)

#: MMPose's ``PoseDataPreprocessor`` for RTMPose: RGB, mean/std in 0-255 units
MMPOSE_MEAN = (123.675, 116.28, 103.53)
MMPOSE_STD = (58.395, 57.12, 57.375)
BBOX_PADDING = 1.25


class OnnxRuntimeMissingError(InferenceError, ImportError):
    """onnxruntime is not installed but an ONNX pose model was asked for."""


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise OnnxRuntimeMissingError(
            "RTMPose/RTMW ONNX models need onnxruntime: pip install 'opencapbench[onnx]' "
            "(on NVIDIA GPUs: pip install onnxruntime-gpu)"
        ) from None
    return onnxruntime


def rtmpose_cache_dir() -> Path:
    """Folder of the downloaded RTMPose ONNX files (``$OCB_MODEL_CACHE/rtmpose``, default
    ``~/.cache/opencapbench/rtmpose``)."""
    root = os.environ.get("OCB_MODEL_CACHE") or Path.home() / ".cache" / "opencapbench"
    return Path(root) / "rtmpose"


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("OCB_OFFLINE", "HF_HUB_OFFLINE")
    )


def fetch_rtmpose(spec: RTMPoseSpec, timeout_s: float = 60.0) -> Path:
    """Local path of ``spec``'s ONNX file: cached, else downloaded once from its zip.

    Raises:
        ModelNotAvailableError: not cached and cannot be downloaded; the message gives the
            URL and the path where the unzipped ``end2end.onnx`` must go.
    """
    target = rtmpose_cache_dir() / spec.name / "end2end.onnx"
    if target.is_file():
        return target

    def unavailable(why: str) -> ModelNotAvailableError:
        return ModelNotAvailableError(
            f"pose model {spec.name!r} is not cached at {target} and {why}.\n"
            f"  Fix: on a machine with internet download {spec.url}, unzip it and copy its "
            f"end2end.onnx to {target} (the cache folder is set by OCB_MODEL_CACHE); or pass "
            f"the .onnx file itself: -m path/to/end2end.onnx"
        )

    if _offline():
        raise unavailable("offline mode is on (OCB_OFFLINE / HF_HUB_OFFLINE)")
    log.info("downloading %s from %s", spec.name, spec.url)
    try:
        with urllib.request.urlopen(spec.url, timeout=timeout_s) as resp:  # noqa: S310 - https
            payload = resp.read()
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            members = [m for m in zf.namelist() if m.endswith(".onnx")]
            if not members:
                raise unavailable(f"the zip from {spec.url} holds no .onnx file")
            member = next((m for m in members if m.endswith("end2end.onnx")), members[0])
            data = zf.read(member)
    except (OSError, urllib.error.URLError, zipfile.BadZipFile) as exc:
        raise unavailable(f"the download failed ({type(exc).__name__}: {exc})") from exc
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def _resolve_keypoint_set(name: str | None, k: int) -> tuple[KeypointSet, bool]:
    """The keypoint set of a K-keypoint model and whether its flip pairs are complete."""
    known = set(list_keypoint_sets())
    if name is None:
        name = {17: "coco17", 26: "halpe26", 133: "coco_wholebody"}.get(k)
    if name in known:
        kps = get_keypoint_set(name)
        if kps.num_keypoints != k:
            raise UnknownModelError(
                f"the ONNX model outputs {k} keypoints but keypoint set {name!r} has "
                f"{kps.num_keypoints}"
            )
        return kps, True
    generic = f"rtmpose{k}"
    if generic in known:
        return get_keypoint_set(generic), False
    names = tuple(f"kp{i}" for i in range(k))
    return register_keypoint_set(keypoint_set_from_names(generic, names)), False


def rtmpose_center_scale(
    boxes: np.ndarray, input_size: tuple[int, int], padding: float = BBOX_PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N, 2) px and crop sizes (N, 2) px (w, h) of xyxy ``boxes (N, >=4)``: padded,
    then widened to the aspect ratio of ``input_size (w, h)`` (MMPose's RTMPose pipeline)."""
    from opencapbench.pose.transforms.warp import bbox_xyxy2cs, fix_aspect_ratio

    center, scale = bbox_xyxy2cs(np.asarray(boxes, np.float32)[:, :4], padding)
    return center, fix_aspect_ratio(scale, input_size[0] / input_size[1])


def crop_to_image(
    keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Crop px ``(N, K, 2)`` → image px through the inverse of the non-UDP crop of each box
    (``center (N, 2)``, ``scale (N, 2)`` px)."""
    size = np.asarray(input_size, np.float32)
    return keypoints / size * scale[:, None] + center[:, None] - 0.5 * scale[:, None]


def _providers(ort: Any, device: str) -> list[str]:
    available = ort.get_available_providers()
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning(
            "device %s asked but onnxruntime has no CUDA execution provider (available: %s); "
            "running RTMPose on the CPU (pip install onnxruntime-gpu for CUDA)",
            device,
            ", ".join(available),
        )
    return ["CPUExecutionProvider"]


class RTMPoseEstimator:
    """An RTMPose/RTMW ONNX model with the toolkit's pose-model interface.

    Args:
        path: the ``.onnx`` file (input ``(N, 3, H, W)`` float32, outputs ``simcc_x``,
            ``simcc_y``).
        device: "cpu" or "cuda[:i]" (CUDA execution provider when onnxruntime has it).
        flip_test: average with the mirrored crop (only with complete left/right pairs).
        batch_size: crops per ``session.run`` (a model exported with a fixed batch runs at it).
        keypoint_set: registry name of the output order; None = by keypoint count (17 coco17,
            26 halpe26, 133 coco_wholebody, else a generic ``rtmpose{K}``).
        score: "min" (MMPose, rtmlib) or "mean" of the two SimCC maxima.

    Attributes:
        keypoint_set, keypoint_names, flip_indices, input_size (w, h), split_ratio.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        device: str | Any = "cpu",
        flip_test: bool = True,
        batch_size: int = 32,
        keypoint_set: str | None = None,
        score: str = "min",
    ) -> None:
        ort = _onnxruntime()
        self.path = Path(path)
        self.device = str(device)
        options = ort.SessionOptions()
        try:
            import torch

            options.intra_op_num_threads = torch.get_num_threads()
        except ImportError:  # pragma: no cover - torch is a core dependency
            pass
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=_providers(ort, self.device)
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise UnknownModelError(f"{self.path}: not a loadable ONNX model ({exc})") from exc
        inp = self.session.get_inputs()[0]
        if len(inp.shape) != 4 or not all(isinstance(d, int) for d in inp.shape[1:]):
            raise UnknownModelError(
                f"{self.path}: input {inp.name!r} has shape {inp.shape}; an RTMPose model "
                f"takes (N, 3, H, W) with fixed H, W"
            )
        self._input = inp.name
        self._fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.input_size = (int(inp.shape[3]), int(inp.shape[2]))
        outs = [o.name for o in self.session.get_outputs()]
        if len(outs) != 2:
            raise UnknownModelError(
                f"{self.path}: {len(outs)} outputs {outs}; an RTMPose model has two "
                f"(simcc_x, simcc_y)"
            )
        self._outputs = ["simcc_x", "simcc_y"] if set(outs) == {"simcc_x", "simcc_y"} else outs
        w, h = self.input_size
        probe_x, probe_y = self._run(np.zeros((self._fixed_batch or 1, 3, h, w), np.float32))
        k = probe_x.shape[1]
        self.split_ratio = probe_x.shape[2] / w
        if probe_y.shape[1] != k or not np.isclose(probe_y.shape[2] / h, self.split_ratio):
            raise UnknownModelError(
                f"{self.path}: outputs {probe_x.shape} and {probe_y.shape} are not SimCC "
                f"vectors of one split ratio for a {w}x{h} input"
            )
        kps, pairs_complete = _resolve_keypoint_set(keypoint_set, k)
        self.keypoint_set = kps
        self.keypoint_names = list(kps.names)
        self.flip_indices = list(kps.flip_indices)
        if flip_test and not pairs_complete:
            log.warning("%s: no left/right pairs for %s; flip test off", self.path, kps.name)
        self.flip_test = bool(flip_test and pairs_complete)
        self.batch_size = self._fixed_batch or max(1, int(batch_size))
        self.score = score
        self._mean = np.asarray(MMPOSE_MEAN, np.float32)
        self._std = np.asarray(MMPOSE_STD, np.float32)
        log.info(
            "%s: %dx%d input, %d keypoints (%s), split ratio %g, %s",
            self.path.name,
            w,
            h,
            k,
            kps.name,
            self.split_ratio,
            self.session.get_providers()[0],
        )

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = self.session.run(self._outputs, {self._input: x})
        return np.asarray(sx, np.float32), np.asarray(sy, np.float32)

    def _crops(self, images: list[np.ndarray], bboxes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """BGR uint8 crops (N, h, w, 3), centres (N, 2) and crop sizes (N, 2) px of all boxes."""
        import cv2

        from opencapbench.pose.transforms.warp import get_warp_matrix

        w, h = self.input_size
        crops, centers, scales = [], [], []
        for image, boxes in zip(images, bboxes, strict=True):
            boxes = as_box_array(boxes, np.float32)
            if len(boxes) == 0:
                continue
            center, scale = rtmpose_center_scale(boxes, self.input_size)
            for c, s in zip(center, scale, strict=True):
                mat = get_warp_matrix(c, s, 0.0, (w, h))
                crops.append(cv2.warpAffine(image, mat, (w, h), flags=cv2.INTER_LINEAR))
            centers.append(center)
            scales.append(scale)
        if not crops:
            return np.zeros((0, h, w, 3), np.uint8), np.zeros((0, 2)), np.zeros((0, 2))
        return np.stack(crops), np.concatenate(centers), np.concatenate(scales)

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SimCC vectors ``simcc_x (N, K, W*s)``, ``simcc_y (N, K, H*s)`` of BGR uint8 crops
        ``(N, h, w, 3)`` (flip-averaged with ``flip_test``)."""
        from opencapbench.pose.codecs.simcc import flip_simcc

        x = (crops[..., ::-1].astype(np.float32) - self._mean) / self._std
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        if self.flip_test:
            x = np.concatenate([x, x[..., ::-1]])
        n, step = len(crops), self.batch_size
        outs_x, outs_y = [], []
        for start in range(0, len(x), step):
            chunk = x[start : start + step]
            pad = step - len(chunk) if self._fixed_batch else 0
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
            sx, sy = self._run(np.ascontiguousarray(chunk))
            outs_x.append(sx[: len(sx) - pad])
            outs_y.append(sy[: len(sy) - pad])
        sx, sy = np.concatenate(outs_x), np.concatenate(outs_y)
        if self.flip_test:
            fx, fy = flip_simcc(sx[n:], sy[n:], self.flip_indices)
            sx, sy = 0.5 * (sx[:n] + fx), 0.5 * (sy[:n] + fy)
        return sx, sy

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Keypoints per image: ``(N_i, K, 2)`` image px and scores ``(N_i, K)``.

        Args:
            images: BGR uint8 images ``(H, W, 3)``.
            bboxes: per image ``(N_i, 4)`` (or ``(N_i, 5)`` with score) xyxy boxes in px.
        """
        from opencapbench.pose.codecs.simcc import decode_simcc

        k = len(self.keypoint_names)
        counts = [len(as_box_array(b, np.float32)) for b in bboxes]
        crops, centers, scales = self._crops(images, bboxes)
        if len(crops) == 0:
            return [(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)) for _ in images]
        kp, sc = decode_simcc(*self.predict_crops(crops), self.split_ratio, self.score)
        kp = crop_to_image(kp, centers, scales, self.input_size).astype(np.float32)
        out, start = [], 0
        for n in counts:
            out.append((kp[start : start + n], sc[start : start + n]))
            start += n
        return out


def load_rtmpose(
    model: str | os.PathLike,
    device: str | Any = "cpu",
    flip_test: bool = True,
    batch_size: int | None = None,
    amp: str | None = None,
) -> RTMPoseEstimator | None:
    """An :class:`RTMPoseEstimator` for a registered RTMPose name or an ``.onnx`` file;
    None when ``model`` is neither (the caller tries its other back-ends).

    Raises:
        ModelNotAvailableError: a registered model is not cached and cannot be downloaded.
        OnnxRuntimeMissingError: onnxruntime is not installed.
    """
    spec = RTMPOSE_MODELS.get(str(model).lower())
    path = Path(model).expanduser()
    if spec is None and not (path.suffix.lower() == ".onnx" and path.is_file()):
        return None
    if amp not in (None, "none", "fp32"):
        log.info("--amp %s does not apply to ONNX models; RTMPose runs in float32", amp)
    opts = {"device": device, "flip_test": flip_test, "batch_size": batch_size or 32}
    if spec is not None:
        _onnxruntime()  # a clear error before any download
        return RTMPoseEstimator(fetch_rtmpose(spec), keypoint_set=spec.keypoint_set, **opts)
    return RTMPoseEstimator(path, **opts)
