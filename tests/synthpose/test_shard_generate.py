"""`ocb generate-dataset --shard I/N`: shards split the source files and, written to one output
folder, give the annotations of one unsharded run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from helpers_smplx import synthetic_smplx_dir

from synthpose.generate.cli import generate_dataset

K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
R_FRONT = np.diag([1.0, 1.0, -1.0]) @ np.diag([-1.0, -1.0, 1.0])


def _write_npz(path: Path, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    np.savez(
        path, global_orient=0.1 * rng.standard_normal((n, 3)),
        body_pose=0.2 * rng.standard_normal((n, 63)), betas=rng.standard_normal((n, 10)),
        transl=0.05 * rng.standard_normal((n, 3)), K=K, R=R_FRONT, t=np.array([0.0, 0.1, 3.2]),
        image_size=np.array([1280, 720]),
    )  # fmt: skip


def _run(src: Path, out: Path, *extra: str) -> str:
    args = ["npz", str(src), "--smplx-dir", str(synthetic_smplx_dir()), "--out", str(out),
            "--device", "cpu", "--quiet", "--no-occlusion", *extra]  # fmt: skip
    result = CliRunner().invoke(generate_dataset, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _coco(out: Path) -> dict:
    doc = json.loads((out / "annotations" / "train.json").read_text())
    return {"images": doc["images"], "annotations": doc["annotations"]}


def test_two_shards_give_the_annotations_of_one_run(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for seed, (name, frames) in enumerate([("a", 4), ("b", 2), ("c", 3)]):
        _write_npz(src / f"{name}.npz", seed, frames)
    _run(src, tmp_path / "single")
    sharded = tmp_path / "sharded"
    first = _run(src, sharded, "--shard", "0/2")
    after_first = {im["source"] for im in _coco(sharded)["images"]}
    second = _run(src, sharded, "--shard", "1/2")
    # longest first: a (4 frames, largest file) alone in shard 0; c then b in shard 1
    assert after_first == {"a.npz"}
    assert "1 source files done, 0 resumed" in first
    assert "2 source files done, 0 resumed" in second
    assert _coco(sharded) == _coco(tmp_path / "single")
