"""Glue between ``ocb finetune`` and mmengine's ``Runner``: config resolution, data paths,
pretrained downloads, safe checkpoint loading, AMP and launcher settings."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config, ConfigDict, DictAction

from opencapbench.device import check_precision, resolve_device
from opencapbench.errors import OCBError
from opencapbench.pose.checkpoint import load_checkpoint_file


class FinetuneConfigError(OCBError, ValueError):
    """The finetune config or the command-line overrides cannot be applied."""


# ------------------------------------------------------------------ checkpoints
def _load_local(filename: str, map_location: Any = None) -> dict:
    return load_checkpoint_file(filename, map_location=map_location or "cpu")


def install_safe_checkpoint_loader() -> None:
    """Route mmengine's checkpoint loading (``load_from``, ``resume``, ``Pretrained``) through
    the toolkit's allowlisted ``weights_only`` loader (:mod:`opencapbench.pose.checkpoint`)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=_load_local, force=True)


def install_atomic_local_writes() -> None:
    """Make mmengine's local file writes (checkpoints, ``last_checkpoint``) atomic: a run killed
    while saving leaves the previous checkpoint whole, never a truncated one."""
    from mmengine.fileio import LocalBackend, register_backend

    from opencapbench.io.atomic import atomic_path

    class AtomicLocalBackend(LocalBackend):
        def put(self, obj: bytes, filepath: str | os.PathLike) -> None:
            with atomic_path(filepath) as tmp:
                tmp.write_bytes(obj)

        def put_text(self, obj: str, filepath: str | os.PathLike, encoding: str = "utf-8") -> None:
            with atomic_path(filepath) as tmp:
                tmp.write_text(obj, encoding=encoding)

    register_backend("local", AtomicLocalBackend, force=True)


def _readable_checkpoint(path: Path) -> bool:
    try:
        load_checkpoint_file(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - any failure to load means "not usable to resume"
        return False
    return True


def resume_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint ``--resume`` continues from: the work dir's ``last_checkpoint`` when it
    loads, else the newest readable ``epoch_*``/``iter_*.pth`` (with a warning), else None."""
    import logging
    import re

    log = logging.getLogger(__name__)
    work = Path(work_dir)
    marker = work / "last_checkpoint"
    last = Path(marker.read_text().strip()) if marker.is_file() else None
    if last is not None and not last.is_absolute():
        last = work / last
    if last is not None and last.is_file() and _readable_checkpoint(last):
        return last

    def number(p: Path) -> int:
        m = re.search(r"(\d+)\.pth$", p.name)
        return int(m.group(1)) if m else -1

    candidates = sorted(
        (p for p in work.glob("*.pth") if re.match(r"(epoch|iter)_\d+\.pth$", p.name)),
        key=lambda p: (p.stat().st_mtime_ns, number(p)), reverse=True,
    )  # fmt: skip
    for path in candidates:
        if path != last and _readable_checkpoint(path):
            if last is not None:
                log.warning(
                    "the latest checkpoint %s cannot be read (truncated?); resuming from %s",
                    last, path,
                )  # fmt: skip
            return path
    return None


def checkpoint_cache_dir() -> Path:
    """Where downloaded checkpoints are kept (torch hub's ``checkpoints`` folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_checkpoint(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Download ``url`` once into the cache and return the local path.

    Raises:
        FinetuneConfigError: the download fails (e.g. offline), with the path to put it at.
    """
    cache = Path(cache_dir) if cache_dir else checkpoint_cache_dir()
    dest = cache / url.rsplit("/", 1)[-1].split("?")[0]
    if dest.is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(dest), progress=True)
    except Exception as err:
        raise FinetuneConfigError(
            f"cannot download {url} ({err}); download it yourself to {dest} "
            "or point the config at a local file"
        ) from err
    return dest


def resolve_remote_checkpoints(cfg: Config, cache_dir: str | os.PathLike | None = None) -> None:
    """Replace ``http(s)://`` checkpoints of ``Pretrained`` init_cfgs and ``load_from`` with
    local cached copies, so all loading goes through the safe local loader."""

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "Pretrained" and str(node.get("checkpoint", "")).startswith(
                ("http://", "https://")
            ):
                node["checkpoint"] = str(fetch_checkpoint(node["checkpoint"], cache_dir))
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    visit(cfg.get("model"))
    load_from = cfg.get("load_from")
    if isinstance(load_from, str) and load_from.startswith(("http://", "https://")):
        cfg.load_from = str(fetch_checkpoint(load_from, cache_dir))


# ------------------------------------------------------------------ config edits
def parse_cfg_options(options: Iterable[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` (mmengine's ``--cfg-options``)."""
    out: dict[str, Any] = {}
    for opt in options:
        if "=" not in opt:
            raise FinetuneConfigError(f"--cfg-options expects KEY=VALUE, got {opt!r}")
        key, value = opt.split("=", 1)
        out[key] = DictAction._parse_iterable(value)
    return out


def replace_prefix(node: Any, old: str, new: str) -> Any:
    """Return ``node`` with every string starting with ``old`` re-rooted at ``new``."""
    if isinstance(node, str):
        return new + node[len(old) :] if node.startswith(old) else node
    if isinstance(node, (dict, ConfigDict)):
        return type(node)({k: replace_prefix(v, old, new) for k, v in node.items()})
    if isinstance(node, (list, tuple)):
        return type(node)(replace_prefix(v, old, new) for v in node)
    return node


DATA_SECTIONS = (
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "val_evaluator",
    "test_evaluator",
)


def set_data_root(cfg: Config, data: str | os.PathLike) -> None:
    """Point every path under the config's ``data_root`` (datasets, metainfo, evaluator
    ``ann_file``) at ``data`` instead."""
    old = cfg.get("data_root")
    if not old:
        raise FinetuneConfigError(
            "--data needs a top-level `data_root` in the config to replace; "
            "use --cfg-options to set the dataset paths instead"
        )
    new = str(data)
    if old.endswith("/") and not new.endswith("/"):
        new += "/"
    for key in DATA_SECTIONS:
        if key in cfg and cfg[key] is not None:
            cfg[key] = replace_prefix(cfg[key], old, new)
    cfg.data_root = new


def set_amp(cfg: Config, device: str, precision: str) -> None:
    """Train under ``precision`` (:func:`opencapbench.device.autocast`'s policy): mmengine's
    ``AmpOptimWrapper`` on CUDA (dynamic loss scaling for fp16), the toolkit's
    ``AutocastOptimWrapper`` on CPU (bf16 only)."""
    precision = check_precision(device, precision)
    if precision == "none":
        return
    ow = cfg.optim_wrapper
    if device.startswith("cuda"):
        ow.type = "AmpOptimWrapper"
        ow.dtype = "float16" if precision == "fp16" else "bfloat16"
        if precision == "fp16":
            ow.setdefault("loss_scale", "dynamic")
    else:
        ow.type = "AutocastOptimWrapper"
        ow.precision = precision
        ow.device = "cpu"


def build_config(
    config: str | os.PathLike | Config,
    data: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    amp: str = "none",
    cfg_options: Mapping[str, Any] | Sequence[str] | None = None,
    launcher: str = "none",
    load_from: str | None = None,
    device: str = "auto",
) -> Config:
    """Resolve the finetune config as ``ocb finetune`` does.

    Args:
        config: mmengine config file (MMPose format) or a ``Config``.
        data: dataset root replacing the config's ``data_root`` everywhere.
        work_dir: output folder (default ``work_dirs/<config name>``).
        resume: True resumes from the work dir's last checkpoint, a path from that file.
        amp: precision, "none", "bf16" (CPU or CUDA) or "fp16" (CUDA).
        cfg_options: overrides, ``{"a.b": v}`` or ``["a.b=v", ...]``, applied last.
        launcher: ``none``, ``pytorch`` (torchrun) or ``slurm``.
        load_from: checkpoint whose weights initialise the model (no optimizer state).
        device: the device training runs on ("auto": CUDA when visible), for ``amp``.
    """
    if isinstance(config, Config):
        cfg = config
    else:
        path = Path(config)
        if not path.is_file():
            raise FinetuneConfigError(f"config file not found: {path}")
        cfg = Config.fromfile(str(path))
    if data is not None:
        data_path = Path(data)
        if not data_path.is_dir():
            raise FinetuneConfigError(f"--data {data_path} is not a folder")
        set_data_root(cfg, data_path.resolve())
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif cfg.get("work_dir") is None:
        name = Path(cfg.filename).stem if cfg.filename else "finetune"
        cfg.work_dir = str(Path("work_dirs") / name)
    if resume:
        cfg.resume = True
        if isinstance(resume, str):
            cfg.load_from = resume
        else:  # the last readable checkpoint of the work dir, not blindly the latest
            found = resume_checkpoint(cfg.work_dir)
            if found is not None:
                cfg.load_from = str(found)
    if load_from is not None:
        cfg.load_from = load_from
    set_amp(cfg, resolve_device(device), amp)
    cfg.launcher = launcher
    if not torch.cuda.is_available():
        env = cfg.setdefault("env_cfg", ConfigDict())
        env.setdefault("dist_cfg", ConfigDict())["backend"] = "gloo"
    if cfg_options:
        opts = (
            parse_cfg_options(cfg_options)
            if not isinstance(cfg_options, Mapping)
            else dict(cfg_options)
        )
        cfg.merge_from_dict(opts)
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """CPU-only multi-process training under torchrun (mmengine's ``pytorch`` launcher assumes
    CUDA): start a gloo process group here and wrap the model without device ids."""
    import torch.distributed as dist

    if cfg.get("launcher", "none") == "none" or torch.cuda.is_available():
        return
    if cfg.launcher != "pytorch":
        raise FinetuneConfigError(f"--launcher {cfg.launcher} needs CUDA; on CPU use torchrun")
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    cfg.model_wrapper_cfg = dict(
        type="MMDistributedDataParallel", device_ids=None, broadcast_buffers=False
    )


def build_runner(cfg: Config, cache_dir: str | os.PathLike | None = None):
    """``Runner.from_cfg`` with the toolkit's registries, safe loader and cached downloads."""
    from mmengine.runner import Runner

    from opencapbench.pose.registry import RUNNERS, quiet_scope_warnings, register_all_modules

    register_all_modules()
    install_safe_checkpoint_loader()
    install_atomic_local_writes()
    resolve_remote_checkpoints(cfg, cache_dir)
    init_cpu_distributed(cfg)
    quiet_scope_warnings()
    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    quiet_scope_warnings(runner.logger)
    return runner


def finetune(cfg: Config):
    """Build the runner and train; returns the runner (its ``work_dir`` holds the results)."""
    runner = build_runner(cfg)
    runner.train()
    return runner
