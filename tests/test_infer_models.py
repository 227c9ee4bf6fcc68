"""Models by name: offline errors, local files, keypoint-set resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opencapbench.inference.errors import UnknownModelError
from opencapbench.inference.models import MODELS, keypoint_set_name, load_pose_model
from opencapbench.inference.testing import torch_threads
from opencapbench.keypoints import get_keypoint_set

REPO = Path(__file__).resolve().parents[1]

_OFFLINE_SCRIPT = """
import json
from opencapbench.inference.errors import ModelNotAvailableError
from opencapbench.inference.models import load_pose_model
from opencapbench.inference.detector import RTDetrPersonDetector
out = {}
for name, load in [
    ("synthpose-hrnet48", lambda: load_pose_model("synthpose-hrnet48")),
    ("synthpose-vitpose-base", lambda: load_pose_model("synthpose-vitpose-base")),
    ("detector", lambda: RTDetrPersonDetector()),
]:
    try:
        load()
        out[name] = "loaded"
    except ModelNotAvailableError as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


def test_offline_with_empty_cache_says_what_to_download(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    msgs = json.loads(proc.stdout.strip().splitlines()[-1])
    cache = str(tmp_path / "hf" / "hub")
    hrnet = msgs["synthpose-hrnet48"]
    assert "stanfordmimi/synthpose-hrnet-48-mmpose" in hrnet
    assert "td-hm_hrnet-w48_dark-8xb32-210e_synthpose_inference.py hrnet-w48_dark.pth" in hrnet
    assert "HF_HUB_OFFLINE=1" in hrnet and cache in hrnet and "hf download" in hrnet
    assert "stanfordmimi/synthpose-vitpose-base-hf" in msgs["synthpose-vitpose-base"]
    assert "PekingU/rtdetr_r50vd_coco_o365" in msgs["detector"] and cache in msgs["detector"]


def test_unknown_names_and_missing_checkpoints_are_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="synthpose-vitpose-huge"):
        load_pose_model("hrnet-of-my-dreams")
    with pytest.raises(UnknownModelError, match="missing.pth"):
        load_pose_model(
            REPO / "configs" / "pose" / "tiny_hrnet_test.py", checkpoint=tmp_path / "missing.pth"
        )
    assert set(MODELS) == {"synthpose-hrnet48", "synthpose-vitpose-base", "synthpose-vitpose-huge"}


def test_local_mmpose_config_loads_with_its_keypoint_set() -> None:
    model = load_pose_model(
        REPO / "configs" / "pose" / "tiny_hrnet_test.py", flip_test=False, batch_size=4
    )
    assert model.input_size == (64, 96)
    assert keypoint_set_name(model) == "coco17"
    assert model.flip_indices == list(get_keypoint_set("coco17").flip_indices)


class _Named:
    keypoint_names = ["head", "left_hand", "right_hand"]
    flip_indices = [0, 2, 1]
    input_size = (48, 64)


def test_unregistered_keypoint_names_get_a_stable_registered_set() -> None:
    name = keypoint_set_name(_Named())
    assert name == keypoint_set_name(_Named())
    kps = get_keypoint_set(name)
    assert kps.names == ("head", "left_hand", "right_hand") and kps.flip_indices == (0, 2, 1)


def test_vitpose_folder_with_unnamed_keypoints_registers_a_set(tmp_path: Path) -> None:
    import numpy as np

    from opencapbench.inference.testing import make_tiny_vitpose

    model = load_pose_model(make_tiny_vitpose(tmp_path / "vp5", num_keypoints=5))
    assert keypoint_set_name(model) == "vitpose5"
    assert get_keypoint_set("vitpose5").num_keypoints == 5
    ((kp, sc),) = model.predict_bboxes(
        [np.zeros((64, 64, 3), np.uint8)], [np.array([[8, 8, 40, 60]])]
    )
    assert kp.shape == (1, 5, 2) and sc.shape == (1, 5)
