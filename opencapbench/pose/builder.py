"""Build a pose model from an unmodified MMPose config (file, ``Config`` or dict)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmengine.config import Config

from opencapbench.pose.errors import PoseConfigError
from opencapbench.pose.registry import MODELS, build_module, register_all_modules


def load_config(config: str | os.PathLike | Config | Mapping) -> Config:
    """``Config.fromfile`` for paths, wrap dicts; a missing file is a clear error."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return Config(dict(config))
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"pose config not found: {path}")
    try:
        return Config.fromfile(str(path))
    except Exception as err:
        raise PoseConfigError(f"{path}: cannot parse the config: {err}") from err


def build_pose_estimator(config: str | os.PathLike | Config | Mapping):
    """Build ``cfg.model`` (a ``TopdownPoseEstimator``) through the pose ``MODELS`` registry.

    Raises:
        PoseConfigError: no ``model`` section, or a type the toolkit does not implement.
    """
    register_all_modules()
    cfg = load_config(config)
    model_cfg = cfg.get("model")
    if model_cfg is None:
        raise PoseConfigError("the config has no 'model' section")
    return build_module(MODELS, _to_dict(model_cfg), "model")


def _to_dict(value: Any) -> Any:
    """ConfigDict/lists -> plain dicts/lists (so ``**kwargs`` get ordinary containers)."""
    if isinstance(value, Mapping):
        return {k: _to_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_dict(v) for v in value)
    return value


def find_transform(cfg: Config, type_name: str) -> dict | None:
    """The first ``type_name`` transform of the test/val pipeline (or ``val_pipeline``)."""
    pipelines = []
    for key in ("test_dataloader", "val_dataloader"):
        loader = cfg.get(key)
        if isinstance(loader, Mapping):
            dataset = loader.get("dataset") or {}
            pipelines.append(dataset.get("pipeline") or [])
    for key in ("test_pipeline", "val_pipeline"):
        pipelines.append(cfg.get(key) or [])
    for pipeline in pipelines:
        for t in pipeline:
            if isinstance(t, Mapping) and t.get("type") == type_name:
                return dict(t)
    return None
