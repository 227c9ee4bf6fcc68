"""The built wheel, installed non-editable in a fresh virtual environment: ``ocb --help`` runs
and a registered model loads from the hub cache through the config bundled in the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opencapbench.inference.catalog import MODELS
from opencapbench.inference.hub import sha256_of
from opencapbench.inference.testing import write_hub_cache

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "pose" / "tiny_hrnet_test.py"

# Run by the venv's python from outside the repository: the registered HRNet's entry, with the
# tiny architecture and its weights' digest, loaded offline from the cache the test wrote.
_LOAD = """
import dataclasses, json, sys
import numpy as np
import opencapbench
from opencapbench.inference.catalog import MODELS
from opencapbench.inference.models import keypoint_set_name, load_pose_model
from opencapbench.pose.builder import load_config

published = MODELS["synthpose-hrnet48"]
entry = dataclasses.replace(published, config=sys.argv[1], sha256=sys.argv[2])
model = load_pose_model(entry, flip_test=False, batch_size=2)
((kp, sc),) = model.predict_bboxes([np.zeros((96, 64, 3), np.uint8)], [np.array([[0, 0, 64, 96]])])
bundled = load_config(published.config_path)
print(json.dumps({
    "package": opencapbench.__file__,
    "bundled": str(published.config_path),
    "bundled_channels": list(bundled.model.backbone.extra.stage4.num_channels),
    "bundled_keypoints": bundled.model.head.out_channels,
    "keypoint_set": keypoint_set_name(model),
    "shape": list(kp.shape),
}))
"""


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_installs_and_loads_a_registered_model_offline(tmp_path: Path, tiny_weights) -> None:
    # build from a copy, so the build leaves nothing in the checkout
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("opencapbench", "synthpose"):
        shutil.copytree(REPO / part, src / part, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    dist = tmp_path / "dist"
    pip_quiet = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip_quiet, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], src)
    (wheel,) = dist.glob("opencapbench-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    python, ocb = venv / "bin" / "python", venv / "bin" / "ocb"
    _run([str(python), "-m", "pip", "-q", "install", "--no-deps", str(wheel)], tmp_path)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_HOME")}
    help_text = _run([str(ocb), "--help"], outside, env).stdout
    assert "benchmark" in help_text and "infer" in help_text and "finetune" in help_text

    entry = MODELS["synthpose-hrnet48"]
    cache = tmp_path / "hf" / "hub"
    write_hub_cache(cache, entry.repo_id, "f" * 40, {entry.weights: tiny_weights})
    env.update(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    out = _run([str(python), "-c", _LOAD, str(TINY), sha256_of(tiny_weights)], outside, env)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    site = str(venv / "lib")
    assert got["package"].startswith(site) and got["bundled"].startswith(site)
    assert got["bundled_channels"] == [48, 96, 192, 384] and got["bundled_keypoints"] == 52
    assert got["keypoint_set"] == "coco17" and got["shape"] == [1, 17, 2]


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    import torch

    from opencapbench.keypoints import get_keypoint_set
    from opencapbench.pose.builder import build_pose_estimator
    from opencapbench.pose.checkpoint import dataset_meta_from_keypoint_set, save_mmpose_checkpoint

    torch.manual_seed(0)
    model = build_pose_estimator(TINY)
    model.init_weights()
    meta = dataset_meta_from_keypoint_set(get_keypoint_set("coco17"))
    return save_mmpose_checkpoint(model, tmp_path / "tiny.pth", meta)
