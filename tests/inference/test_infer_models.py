"""Models by name: offline errors, local files, keypoint-set resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opencapbench.inference.catalog import MODELS
from opencapbench.inference.errors import ModelIntegrityError, UnknownModelError
from opencapbench.inference.hub import sha256_of
from opencapbench.inference.models import keypoint_set_name, load_pose_model
from opencapbench.inference.testing import torch_threads, write_hub_cache
from opencapbench.keypoints import get_keypoint_set

REPO = Path(__file__).resolve().parents[2]

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
    assert "hrnet-w48_dark.pth" in hrnet and "ocb fetch-models synthpose-hrnet48" in hrnet
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


# ------------------------------------------------------------------ registered models: trust
TINY = REPO / "configs" / "pose" / "tiny_hrnet_test.py"
_EVIL_CONFIG = "import pathlib\npathlib.Path({marker!r}).write_text('pwned')\n"


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny HRNet checkpoints with different random weights."""
    import torch

    from opencapbench.pose.builder import build_pose_estimator
    from opencapbench.pose.checkpoint import dataset_meta_from_keypoint_set, save_mmpose_checkpoint

    folder = tmp_path_factory.mktemp("weights")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_pose_estimator(TINY)
        model.init_weights()
        meta = dataset_meta_from_keypoint_set(get_keypoint_set("coco17"))
        paths.append(save_mmpose_checkpoint(model, folder / f"tiny{seed}.pth", meta))
    return paths[0], paths[1]


#: the commit of the fake hub downloads of these tests
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("OCB_HOME", str(tmp_path / "ocb_home"))  # where first downloads are pinned
    return cache


def _hub_with_evil_config(cache: Path, weights: Path, marker: Path):
    """The registered HRNet's repository in the cache, its config replaced by a payload."""
    import dataclasses

    entry = MODELS["synthpose-hrnet48"]
    evil = cache.parent / "evil.py"
    evil.write_text(_EVIL_CONFIG.format(marker=str(marker)))
    hub_config = "td-hm_hrnet-w48_dark-8xb32-210e_synthpose_inference.py"
    write_hub_cache(cache, entry.repo_id, COMMIT, {hub_config: evil, entry.weights: weights})
    # the same repository, but the tiny architecture and its weights' digest
    return dataclasses.replace(entry, config=str(TINY), sha256=sha256_of(weights))


def test_registered_model_never_executes_the_downloaded_config(
    offline_cache, tiny_weights, tmp_path
) -> None:
    marker = tmp_path / "payload_ran"
    entry = _hub_with_evil_config(offline_cache, tiny_weights[0], marker)
    model = load_pose_model(entry, flip_test=False, batch_size=2)
    assert model.input_size == (64, 96) and keypoint_set_name(model) == "coco17"
    assert not marker.exists()
    assert not marker.exists()


def test_a_model_without_published_digest_is_pinned_at_its_first_download(
    offline_cache, tiny_weights, tmp_path, caplog
) -> None:
    import dataclasses

    from opencapbench.inference.hub import fetch_model, pins_file

    entry = dataclasses.replace(
        _hub_with_evil_config(offline_cache, tiny_weights[0], tmp_path / "m"), sha256=None
    )
    fetch_model(entry)  # first download: commit and digest recorded, with a warning
    pin = json.loads(pins_file().read_text())[entry.name]
    assert pin["sha256"] == sha256_of(tiny_weights[0]) and pin["revision"] == COMMIT
    assert "no published digest" in caplog.text
    fetch_model(entry)  # the same file again: accepted
    cached = offline_cache / "models--stanfordmimi--synthpose-hrnet-48-mmpose/snapshots" / COMMIT
    (cached / entry.weights).write_bytes(tiny_weights[1].read_bytes())  # replaced behind our back
    with pytest.raises(ModelIntegrityError, match="pinned at its first download"):
        fetch_model(entry)


def test_weights_whose_sha256_differs_are_refused(offline_cache, tiny_weights, tmp_path) -> None:
    import dataclasses

    entry = _hub_with_evil_config(offline_cache, tiny_weights[0], tmp_path / "m")
    wrong = dataclasses.replace(entry, sha256=sha256_of(tiny_weights[1]))
    with pytest.raises(ModelIntegrityError) as err:
        load_pose_model(wrong)
    assert sha256_of(tiny_weights[0]) in str(err.value) and wrong.sha256 in str(err.value)


def test_checkpoint_with_a_registered_name_replaces_its_weights(
    offline_cache, tiny_weights, tmp_path
) -> None:
    import torch

    entry = _hub_with_evil_config(offline_cache, tiny_weights[0], tmp_path / "m")
    published = load_pose_model(entry, flip_test=False)
    mine = load_pose_model(entry, checkpoint=tiny_weights[1], flip_test=False)
    from opencapbench.pose.api import PoseModel

    ref = PoseModel.from_config(TINY, checkpoint=tiny_weights[1], optimize=False)
    x = torch.full((1, 3, 96, 64), 128.0)
    out_mine = mine.model.heatmaps(x, flip_test=False)
    assert torch.allclose(out_mine, ref.heatmaps(x, flip_test=False), atol=1e-4)
    assert not torch.allclose(published.model.heatmaps(x, flip_test=False), out_mine, atol=1e-4)
    with pytest.raises(UnknownModelError, match="ViTPose"):
        load_pose_model("synthpose-vitpose-base", checkpoint=tiny_weights[1])
