"""Sharding: the assignment of items to shards (a deterministic, balanced partition), and a
benchmark split over 3 shards into one output folder, whose tables equal one unsharded run's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from opencapbench.benchmark.shard import Shard, ShardError, assign_shards, select_shard

# ---------------------------------------------------------------------- the assignment


def test_longest_first_packing_known_answer() -> None:
    # LPT by hand: a5→0, b4→1, c3→1 (4 < 5), d3→0 (5 < 7), e2→1 (7 < 8), f1→0 (8 < 9)
    keys = list("abcdef")
    sizes = [5, 4, 3, 3, 2, 1]
    assert assign_shards(keys, sizes, 2).tolist() == [0, 1, 1, 0, 1, 0]


def test_equal_sizes_deal_round_robin_in_key_order() -> None:
    keys = [("s1", "Session0", f"t{i}") for i in range(7)]
    assert assign_shards(keys, [0] * 7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 13])
def test_assignment_is_a_balanced_partition_independent_of_input_order(count: int) -> None:
    rng = np.random.default_rng(count)
    keys = [(f"subject{s}", "Session0", f"trial{t}") for s in range(4) for t in range(6)]
    sizes = rng.integers(1, 1000, len(keys)).tolist()
    shards = [select_shard(keys, sizes, Shard(i, count)) for i in range(count)]
    flat = sorted(itertools.chain.from_iterable(shards))
    assert flat == list(range(len(keys)))  # every item in exactly one shard
    loads = [sum(sizes[i] for i in s) for s in shards]
    assert max(loads) - min(loads) <= max(sizes)  # greedy packing bound
    # a machine that lists the trials in another order assigns each trial the same shard
    perm = rng.permutation(len(keys))
    first = dict(zip(keys, assign_shards(keys, sizes, count).tolist(), strict=True))
    shuffled = assign_shards([keys[i] for i in perm], [sizes[i] for i in perm], count)
    assert {keys[i]: int(s) for i, s in zip(perm, shuffled, strict=True)} == first


@pytest.mark.parametrize(
    ("text", "expected"), [("0/3", Shard(0, 3)), (" 2 / 3 ", Shard(2, 3)), ("0/1", Shard(0, 1))]
)
def test_shard_parse(text: str, expected: Shard) -> None:
    assert Shard.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "match"), [("3/3", "0 <= I < N"), ("1/0", "0 <= I < N"), ("1-3", "I/N"),
                        ("a/b", "I/N")],
)  # fmt: skip
def test_bad_shards_are_refused(text: str, match: str) -> None:
    with pytest.raises(ShardError, match=match):
        Shard.parse(text)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        assign_shards(["a", "a"], [1, 1], 2)
    with pytest.raises(ValueError, match="non-negative"):
        assign_shards(["a", "b"], [1, -1], 2)


# ---------------------------------------------------------------------- a sharded benchmark


TRIALS = ("walking1", "squats1", "STS1")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from opencapbench.synthetic import generate_synthetic_dataset

    root = tmp_path_factory.mktemp("shard_data")
    generate_synthetic_dataset(
        root, subjects=2, trials=TRIALS, n_cameras=2, duration_s=0.5, noise_px=1.0, seed=4,
        progress=False,
    )  # fmt: skip
    return root


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return [str(root), "-o", str(out), "--keypoints", str(root / "keypoints"), "-j", "1",
            "--no-plots", *extra]  # fmt: skip


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {n: pd.read_csv(out / "results" / n) for n in ("overall.csv", "per_trial.csv")}


@pytest.fixture(scope="module")
def single(dataset: Path, tmp_path_factory) -> dict[str, pd.DataFrame]:
    from opencapbench.benchmark.cli import benchmark

    out = tmp_path_factory.mktemp("single")
    result = CliRunner().invoke(benchmark, _args(dataset, out), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tables = _tables(out)
    scored = tables["per_trial.csv"][["subject", "trial"]].drop_duplicates()
    assert len(scored) == 2 * len(TRIALS)
    return tables


@pytest.mark.slow
def test_three_shards_give_the_tables_of_one_run(dataset: Path, single, tmp_path: Path) -> None:
    from opencapbench.benchmark.cli import benchmark, merge

    runner = CliRunner()
    sharded = tmp_path / "sharded"
    assigned: list[str] = []
    for i in range(3):
        result = runner.invoke(benchmark, _args(dataset, sharded, "--shard", f"{i}/3"),
                               catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        record = json.loads((sharded / "status" / "_shards" / f"{i}-of-3.json").read_text())
        assigned += record["trials"]
        if i < 2:  # other shards' trials are missing: no tables yet
            assert not (sharded / "results" / "per_trial.csv").exists()
            assert "this shard's trials" in result.output
            assert f"ocb merge {sharded}" in result.output
        else:
            assert "all trials" in result.output
    assert sorted(assigned) == sorted(f"subject{s}/{t}" for s in (1, 2) for t in TRIALS)
    assert all(len(json.loads(p.read_text())["trials"]) == 2
               for p in (sharded / "status" / "_shards").glob("*.json"))  # fmt: skip
    for name, frame in _tables(sharded).items():  # built by the last shard, without a merge
        pd.testing.assert_frame_equal(frame, single[name], obj=name)

    # `ocb merge` rebuilds the same tables from the ledgers alone
    for name in ("overall.csv", "per_trial.csv"):
        (sharded / "results" / name).unlink()
    result = runner.invoke(merge, [str(sharded)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name, frame in _tables(sharded).items():
        pd.testing.assert_frame_equal(frame, single[name], obj=name)


@pytest.mark.slow
def test_concurrent_shards_in_one_folder_then_merge(dataset: Path, single, tmp_path: Path) -> None:
    """Two shards running at the same time, as array tasks do, then the merge job."""
    import subprocess
    import sys

    out = tmp_path / "concurrent"
    cmd = [sys.executable, "-m", "opencapbench.cli", "-q", "benchmark"]
    procs = [subprocess.Popen([*cmd, *_args(dataset, out, "--shard", f"{i}/2")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]  # fmt: skip
    for proc in procs:
        output = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, output
    from opencapbench.benchmark.cli import merge

    result = CliRunner().invoke(merge, [str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name, frame in _tables(out).items():
        pd.testing.assert_frame_equal(frame, single[name], obj=name)


def test_merge_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    from opencapbench.benchmark.shard import merge_inputs

    with pytest.raises(ShardError, match="config.toml does not exist"):
        merge_inputs(tmp_path)
