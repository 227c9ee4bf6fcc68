"""Split a run over independent processes (``--shard I/N``, e.g. one SLURM array task each) and
merge their outputs.

Work items (benchmark trials, generate-dataset source files) are assigned to shards by a pure,
deterministic rule: items in the order of their keys, then greedy longest-first bin packing by
size. Every process computes the same assignment from the same files, whatever the machine.

The benchmark's shards write into one shared output folder. Every step is in its trial's
ledger (``OUT/status/``), so the tables of the whole run are rebuilt from all ledgers: the shard
that finishes last does it itself, and ``ocb merge OUT`` does it on demand without running a
step (the dependent job of a SLURM array, where shards may finish at the same instant).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opencapbench.errors import OCBError

if TYPE_CHECKING:
    import numpy as np

    from opencapbench.benchmark.config import BenchmarkConfig
    from opencapbench.io.opencap_layout import Subject, Trial

__all__ = [
    "Shard",
    "ShardError",
    "assign_shards",
    "finish_shard",
    "load_run_config",
    "merge_inputs",
    "select_shard",
    "shard_trials",
    "shard_units",
]

log = logging.getLogger(__name__)

#: where each benchmark shard records what it ran (under the run's output folder)
SHARD_RECORDS = Path("status") / "_shards"


class ShardError(OCBError):
    """A ``--shard`` value is malformed or out of range, or a run folder cannot be merged."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, as ``$SLURM_ARRAY_TASK_ID``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(
                f"shard {self.index}/{self.count}: need 0 <= I < N (I is 0-based, "
                f"as $SLURM_ARRAY_TASK_ID with --array=0-{max(self.count - 1, 0)})"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` → ``Shard(I, N)``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise ShardError(f"--shard must look like I/N (e.g. 0/4), not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class ShardParam(click.ParamType):
    """The click type of ``--shard I/N``."""

    name = "I/N"

    def convert(self, value, param, ctx) -> Shard:
        if isinstance(value, Shard):
            return value
        try:
            return Shard.parse(str(value))
        except ShardError as err:
            self.fail(str(err), param, ctx)


SHARD_HELP = (
    "Run only shard I of N (0-based; e.g. $SLURM_ARRAY_TASK_ID/N): a deterministic, balanced "
    "share of the work. See docs/cluster.md."
)


def assign_shards(keys: Sequence[Hashable], sizes: Sequence[float], count: int) -> np.ndarray:
    """Deterministic, balanced assignment of items to ``count`` shards.

    Items are taken largest first (ties in the order of their sorted ``keys``) and each goes
    to the shard with the least total size so far (ties: fewer items, then the lower index):
    greedy longest-processing-time bin packing, within 4/3 of the best possible makespan.
    Nothing depends on hashing or on the input order, so every machine gets the same answer.

    Args:
        keys: (n,) sortable, unique item keys, e.g. ``(subject, session, trial)`` tuples.
        sizes: (n,) non-negative item sizes (bytes, frames: any cost proxy).
        count: number of shards N >= 1.

    Returns:
        (n,) int array, the shard index in ``[0, count)`` of each item, in the input order.
    """
    import numpy as np  # here, not at the top: `ocb benchmark --help` stays light

    if count < 1:
        raise ShardError(f"the number of shards must be >= 1, got {count}")
    if len(keys) != len(sizes):
        raise ValueError(f"{len(keys)} keys but {len(sizes)} sizes")
    if len(set(keys)) != len(keys):
        raise ValueError("shard keys must be unique")
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    if np.any(~np.isfinite(sizes_arr)) or np.any(sizes_arr < 0):
        raise ValueError("shard sizes must be finite and non-negative")
    by_key = sorted(range(len(keys)), key=lambda i: keys[i])
    order = sorted(by_key, key=lambda i: -sizes_arr[i])  # stable: equal sizes keep key order
    load = np.zeros(count)
    items = np.zeros(count, dtype=np.int64)
    out = np.empty(len(keys), dtype=np.int64)
    for i in order:
        # lexsort's last key is the primary one: least load, then fewest items, then index
        target = int(np.lexsort((np.arange(count), items, load))[0])
        out[i] = target
        load[target] += sizes_arr[i]
        items[target] += 1
    return out


def select_shard(keys: Sequence[Hashable], sizes: Sequence[float], shard: Shard) -> list[int]:
    """Positions (in input order) of the items that belong to ``shard``."""
    return [i for i, s in enumerate(assign_shards(keys, sizes, shard.count)) if s == shard.index]


def path_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 if it does not exist)."""
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def shard_units(root: Path, units: Sequence[str], shard: Shard) -> list[str]:
    """The source files of ``shard`` (``ocb generate-dataset --shard I/N``), in input order.

    Args:
        root: the source's root folder (or single file); unit ``u`` is ``root / u``.
        units: unit ids, e.g. paths relative to ``root``.
        shard: this process's shard.
    """
    root = Path(root)
    sizes = [path_size(root if root.is_file() else root / u) for u in units]
    chosen = [units[i] for i in select_shard(list(units), sizes, shard)]
    log.info("shard %s: %d of %d source files", shard, len(chosen), len(units))
    return chosen


# ---------------------------------------------------------------------- the benchmark


def trial_input_bytes(trial: Trial, cfg: BenchmarkConfig) -> int:
    """A trial's size for sharding: its videos when it has any, else its keypoint store.

    Videos first: with ``--model`` the shards write the keypoint store while others are still
    computing their assignment, and a size must not change under them.
    """
    if trial.videos:
        return sum(path_size(Path(v)) for v in trial.videos.values())
    return path_size(cfg.keypoint_store / trial.subject / trial.session / trial.name)


def shard_trials(trials: Sequence[Trial], cfg: BenchmarkConfig, shard: Shard) -> list[Trial]:
    """The trials of ``shard``, in the input order."""
    keys = [(t.subject, t.session, t.name) for t in trials]
    sizes = [trial_input_bytes(t, cfg) for t in trials]
    chosen = [trials[i] for i in select_shard(keys, sizes, shard)]
    log.info("shard %s: %d of %d trials", shard, len(chosen), len(trials))
    return chosen


def _settled(cfg: BenchmarkConfig, trial: Trial, subject: Subject) -> bool:
    """True when a trial has its scores or a recorded failure (its own or its subject's)."""
    from opencapbench.benchmark.stages import open_ledger

    ledgers = (open_ledger(cfg, trial), open_ledger(cfg, subject))
    if ledgers[0].is_done("score"):
        return True
    return any(e.get("state") == "failed" for lg in ledgers for e in lg.data.values())


def _record_path(cfg: BenchmarkConfig, shard: Shard) -> Path:
    return cfg.out_dir / SHARD_RECORDS / f"{shard.index}-of-{shard.count}.json"


def summed_timings(cfg: BenchmarkConfig) -> dict[str, float]:
    """Per-stage seconds summed over every shard record of the run (a run without shards:
    the timings it wrote)."""
    total: dict[str, float] = {}
    unsharded = cfg.out_dir / "results" / "timings.json"
    if not (cfg.out_dir / SHARD_RECORDS).is_dir() and unsharded.is_file():
        try:
            return {k: float(v) for k, v in json.loads(unsharded.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return total
    for path in sorted((cfg.out_dir / SHARD_RECORDS).glob("*-of-*.json")):
        try:
            timings = json.loads(path.read_text(encoding="utf-8"))["timings"]
        except (OSError, ValueError, KeyError) as err:
            log.warning("%s: unreadable shard record (%s); its timings are left out", path, err)
            continue
        for stage, seconds in timings.items():
            total[stage] = total.get(stage, 0.0) + float(seconds)
    return total


def finish_shard(
    cfg: BenchmarkConfig,
    shard: Shard,
    trials: Sequence[Trial],
    all_trials: Sequence[Trial],
    timings: dict[str, float],
) -> dict[str, float] | None:
    """End of one shard's run: record it (its trials and timings) and say whether every trial
    of every shard is now settled (scored or failed), i.e. whether this shard should build the
    run's tables.

    Returns:
        The timings of the whole run (summed over the shard records) when it should, else None.
    """
    from opencapbench.io.atomic import atomic_write
    from opencapbench.io.opencap_layout import list_subjects

    record = {
        "shard": str(shard),
        "trials": [t.key for t in trials],
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_write(_record_path(cfg, shard)) as fh:
        json.dump(record, fh, indent=1)
    waiting = unsettled(cfg, all_trials, list_subjects(cfg.data_dir, cfg.subjects))
    if waiting:
        log.info(
            "shard %s done; %d trial(s) of other shards unfinished (%s%s): the last shard to "
            "finish builds the tables, or run `ocb merge %s`",
            shard, len(waiting), ", ".join(waiting[:3]), ", ..." if len(waiting) > 3 else "",
            cfg.out_dir,
        )  # fmt: skip
        return None
    log.info("shard %s: every trial of the run is settled; building the tables", shard)
    return summed_timings(cfg)


def unsettled(
    cfg: BenchmarkConfig, trials: Sequence[Trial], subjects: Sequence[Subject]
) -> list[str]:
    """Keys of the trials that have neither scores nor a recorded failure (still running)."""
    by_name = {s.name: s for s in subjects}
    return [t.key for t in trials if not _settled(cfg, t, by_name[t.subject])]


def load_run_config(out_dir: str | Path) -> BenchmarkConfig:
    """The settings of the ``ocb benchmark`` run in ``out_dir`` (``results/config.toml``,
    written by every run and shard), with ``out_dir`` as its output folder.

    Relative paths in the file (and in the ledgers) are relative to the directory the run was
    started from: run the merge from there too (a SLURM job does, by default).
    """
    from opencapbench.benchmark.config import BenchmarkConfig

    out_dir = Path(out_dir)
    config = out_dir / "results" / "config.toml"
    if not config.is_file():
        raise ShardError(
            f"{config} does not exist: {out_dir} is not the output folder of an `ocb benchmark` run"
        )
    return BenchmarkConfig.from_toml(config, out_dir=out_dir)


def merge_inputs(
    out_dir: str | Path,
) -> tuple[BenchmarkConfig, list[Trial], list[Subject], dict[str, float]]:
    """What rebuilding ``OUT/results`` from every ledger needs: the run's configuration
    (:func:`load_run_config`), its trials and subjects, and its timings (summed over shards)."""
    from opencapbench.io.opencap_layout import discover_trials, list_subjects

    cfg = load_run_config(out_dir)
    trials = discover_trials(cfg.data_dir, cfg.subjects, cfg.trials, cfg.keypoint_store)
    subjects = list_subjects(cfg.data_dir, cfg.subjects)
    waiting = unsettled(cfg, trials, subjects)
    if waiting:
        log.warning(
            "%d trial(s) have neither scores nor a recorded failure (a shard still running or "
            "killed?): %s; the tables leave them out",
            len(waiting), ", ".join(waiting),
        )  # fmt: skip
    return cfg, trials, subjects, summed_timings(cfg)
