"""Safe loading and MMPose-layout saving of pose checkpoints.

MMPose checkpoints are ``torch.save`` pickles of ``{"meta": {..., "dataset_meta": {...}},
"state_dict": OrderedDict}`` (training checkpoints add ``message_hub``, ``optimizer``,
``param_schedulers``).  ``dataset_meta`` holds numpy arrays (``sigmas``, colours) and
training checkpoints hold mmengine ``HistoryBuffer`` objects, so plain
``torch.load(weights_only=True)`` refuses them.  :func:`load_checkpoint_file` loads with
``weights_only=True`` and an allowlist of exactly those types; anything else is refused with
:class:`UnsafeCheckpointError` (never a fallback to ``weights_only=False``).
"""

from __future__ import annotations

import builtins
import os
import pickle
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from opencapbench.io.atomic import atomic_path
from opencapbench.keypoints import KeypointSet
from opencapbench.pose.errors import CheckpointMismatchError, UnsafeCheckpointError


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to HistoryBuffer's statistics methods (pickled by name)."""
    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in {"min", "max", "current", "mean"}:
        return builtins.getattr(obj, name)
    raise pickle.UnpicklingError(f"refusing getattr({obj!r}, {name!r}) while loading a checkpoint")


def safe_globals() -> list:
    """The allowlist: numpy arrays/scalars/dtypes and mmengine's HistoryBuffer/ConfigDict."""
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer

    reconstruct = (
        np._core.multiarray._reconstruct
        if hasattr(np, "_core")
        else np.core.multiarray._reconstruct
    )
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    allowed: list = [
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        (reconstruct, "numpy._core.multiarray._reconstruct"),
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        (np.ndarray, "numpy.ndarray"),
        (np.dtype, "numpy.dtype"),
        (HistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer"),
        (ConfigDict, "mmengine.config.config.ConfigDict"),
        (_history_buffer_getattr, "builtins.getattr"),
    ]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        for name in dir(dtypes):
            cls = getattr(dtypes, name)
            if isinstance(cls, type) and issubclass(cls, np.dtype):
                allowed.append((cls, f"numpy.dtypes.{name}"))
    return allowed


def _disallowed_globals(path: Path) -> str:
    """Comma-separated globals of the pickle at ``path`` that are not allowlisted."""
    allowed = {name for _, name in safe_globals()}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - only used to word the error message
        return ""
    return ", ".join(g for g in found if g not in allowed and g != "__builtin__.getattr")


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True`` and the :func:`safe_globals` allowlist.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the pickle references a global outside the allowlist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(safe_globals()):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path}: refused to load: it references {_disallowed_globals(path) or 'objects'} "
            "outside the safe allowlist (tensors, numpy arrays/scalars/dtypes, mmengine "
            "HistoryBuffer/ConfigDict); unpickling those could execute arbitrary code. If you "
            "trust the file, extract its state_dict yourself with torch.load(..., "
            "weights_only=False) and re-save it with "
            "opencapbench.pose.checkpoint.save_mmpose_checkpoint."
        ) from err
    if not isinstance(ckpt, Mapping):
        raise CheckpointMismatchError(
            f"{path}: expected a dict checkpoint, got {type(ckpt).__name__}"
        )
    return dict(ckpt)


def _modern_key(key: str) -> str:
    """Strip DataParallel's ``module.``; MMPose 0.x ``keypoint_head.`` -> ``head.``."""
    if key.startswith("module."):
        key = key[len("module.") :]
    if key.startswith("keypoint_head."):
        key = "head." + key[len("keypoint_head.") :]
    return key


def split_checkpoint(ckpt: Mapping) -> tuple[OrderedDict, dict]:
    """(state_dict, meta) of a loaded checkpoint (tensors only, keys as MMPose 1.x names them)."""
    if "state_dict" in ckpt:
        sd = ckpt["state_dict"]
    elif "model" in ckpt and isinstance(ckpt["model"], Mapping):
        sd = ckpt["model"]
    else:
        sd = ckpt
    sd = OrderedDict((_modern_key(k), v) for k, v in sd.items() if isinstance(v, torch.Tensor))
    meta = dict(ckpt.get("meta") or {}) if isinstance(ckpt.get("meta"), Mapping) else {}
    return sd, meta


def checkpoint_num_keypoints(state_dict: Mapping[str, torch.Tensor]) -> int | None:
    """K from ``head.final_layer.weight`` (out channels), or None if absent."""
    w = state_dict.get("head.final_layer.weight")
    return int(w.shape[0]) if w is not None else None


def keypoint_names_from_meta(dataset_meta: Mapping | None) -> list[str] | None:
    """Keypoint names in index order from an MMPose ``dataset_meta`` (``keypoint_id2name``)."""
    if not dataset_meta:
        return None
    id2name = dataset_meta.get("keypoint_id2name")
    if id2name:
        return [id2name[i] for i in sorted(id2name)]
    info = dataset_meta.get("keypoint_info")
    if info:
        return [v["name"] for _, v in sorted(info.items())]
    return None


def load_pretrained(
    module: nn.Module, path: str | os.PathLike, prefix: str | None = None, strict: bool = False
) -> tuple[list[str], list[str]]:
    """Load (part of) a checkpoint into ``module``, e.g. ``prefix='backbone'`` for a backbone.

    Returns the missing and unexpected keys (``strict=False``) as lists.
    """
    sd, _ = split_checkpoint(load_checkpoint_file(path))
    if prefix:
        p = prefix.rstrip(".") + "."
        sd = OrderedDict((k[len(p) :], v) for k, v in sd.items() if k.startswith(p))
        if not sd:
            raise CheckpointMismatchError(f"{path}: no parameters with prefix {p!r}")
    result = module.load_state_dict(sd, strict=strict)
    return list(result.missing_keys), list(result.unexpected_keys)


def check_num_keypoints(sources: Mapping[str, int | None], where: str) -> int:
    """All non-None keypoint counts must agree; returns it or raises CheckpointMismatchError."""
    known = {k: v for k, v in sources.items() if v is not None}
    if len(set(known.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in known.items())
        raise CheckpointMismatchError(f"{where}: keypoint counts disagree ({detail})")
    if not known:
        raise CheckpointMismatchError(f"{where}: cannot determine the number of keypoints")
    return next(iter(known.values()))


def load_mmpose_checkpoint(model: nn.Module, path: str | os.PathLike, strict: bool = True) -> dict:
    """Load an MMPose checkpoint into ``model`` (parameter names as MMPose writes them).

    Checks the keypoint count of the checkpoint head against the model head and against the
    checkpoint's ``dataset_meta``.  Returns the checkpoint's ``meta`` dict.

    Raises:
        CheckpointMismatchError: keypoint counts disagree or keys/shapes do not match.
    """
    sd, meta = split_checkpoint(load_checkpoint_file(path))
    model_k = getattr(getattr(model, "head", None), "out_channels", None)
    names = keypoint_names_from_meta(meta.get("dataset_meta"))
    check_num_keypoints(
        {
            "config head out_channels": model_k,
            "checkpoint head.final_layer": checkpoint_num_keypoints(sd),
            "checkpoint dataset_meta": len(names) if names else None,
        },
        str(path),
    )
    try:
        result = model.load_state_dict(sd, strict=strict)
    except RuntimeError as err:
        raise CheckpointMismatchError(f"{path}: state_dict does not fit the model: {err}") from err
    if not strict and (result.missing_keys or result.unexpected_keys):
        meta["_missing_keys"] = list(result.missing_keys)
        meta["_unexpected_keys"] = list(result.unexpected_keys)
    return meta


def dataset_meta_from_keypoint_set(kps: KeypointSet) -> dict:
    """An MMPose-style ``dataset_meta`` (as ``parse_pose_metainfo`` builds it) for a keypoint set."""
    k = kps.num_keypoints
    upper = [i for i in range(k) if kps.upper_body[i]]
    return {
        "dataset_name": kps.name,
        "num_keypoints": k,
        "keypoint_id2name": dict(enumerate(kps.names)),
        "keypoint_name2id": {n: i for i, n in enumerate(kps.names)},
        "upper_body_ids": upper,
        "lower_body_ids": [i for i in range(k) if i not in upper],
        "flip_indices": list(kps.flip_indices),
        "flip_pairs": [list(p) for p in kps.flip_pairs],
        "keypoint_colors": np.full((k, 3), 255, dtype=np.uint8),
        "num_skeleton_links": len(kps.skeleton),
        "skeleton_links": [list(s) for s in kps.skeleton],
        "skeleton_link_colors": np.full((len(kps.skeleton), 3), 255, dtype=np.uint8),
        "dataset_keypoint_weights": np.asarray(kps.joint_weights, dtype=np.float32),
        "sigmas": np.asarray(kps.sigmas, dtype=np.float32),
    }


def save_mmpose_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    dataset_meta: Mapping | None = None,
    extra_meta: Mapping | None = None,
) -> Path:
    """Write ``{"meta": {...}, "state_dict": ...}`` as MMPose/mmengine expect (atomically).

    ``dataset_meta`` defaults to ``model.dataset_meta`` when the model has one.
    """
    import mmengine

    if dataset_meta is None:
        dataset_meta = getattr(model, "dataset_meta", None)
    meta: dict[str, Any] = {
        "mmengine_version": mmengine.__version__,
        "time": time.strftime("%Y%m%d_%H%M%S", time.gmtime()),
        "saved_by": "opencapbench",
    }
    if dataset_meta is not None:
        meta["dataset_meta"] = dict(dataset_meta)
    meta.update(extra_meta or {})
    sd = OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"meta": meta, "state_dict": sd}, tmp)
    return path
