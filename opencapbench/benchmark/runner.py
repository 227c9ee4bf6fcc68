"""The benchmark run: the stages of :func:`~opencapbench.benchmark.stages.default_stages` over
every subject and trial, resumable, one failure never stopping the rest.

Scheduling: subject-scope stages run first, subject by subject. Then each trial walks the
trial stages in order, longest trials first; a ``parallel`` stage (IK, plots) is handed to the
worker pool and the next trial starts at once, so the pool solves IK while this process
triangulates. When a worker finishes, the trial continues with its next stage; at the end the
pool draws the summary figures while this process writes the tables. Every step's
outcome is in the trial's ledger the moment it ends (written by the process that ran it), so an
interrupted run (Ctrl-C, a killed process) keeps every finished step, and a re-run does only
what is missing or whose inputs or settings changed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.benchmark.families import check_run
from opencapbench.benchmark.stages import (
    Stage,
    default_stages,
    execute,
    item_key,
    open_ledger,
    stage_fingerprint,
)
from opencapbench.console import progress_bar
from opencapbench.io.opencap_layout import (
    Subject,
    Trial,
    discover_trials,
    list_subjects,
    natural_key,
)
from opencapbench.ledger import Ledger

if TYPE_CHECKING:
    from opencapbench.benchmark.shard import Shard

__all__ = ["BenchmarkConfig", "BenchmarkOutcome", "run_benchmark"]

log = logging.getLogger(__name__)

FAILURE_COLUMNS = ["subject", "session", "trial", "stage", "error", "message"]


@dataclass
class BenchmarkOutcome:
    """What a run produced: per-trial errors, aggregated tables, and per-trial failures."""

    per_trial: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    failures: pd.DataFrame
    warnings: pd.DataFrame
    results_dir: Path
    #: stage → (items run in this run, items reused from an earlier run)
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: False for a shard that was not the last: the tables cover its own trials only and
    #: nothing was written to ``results/``
    whole_run: bool = True


class _Scheduler:
    """Walks every item through the stages; see the module docstring."""

    def __init__(self, stages: Sequence[Stage], cfg: BenchmarkConfig, pool) -> None:
        self.cfg = cfg
        self.pool = pool
        # parallel steps wait here until a worker is free: work handed to the executor cannot
        # be cancelled on Ctrl-C, so it only ever holds as many steps as there are workers
        self.ready: deque[tuple] = deque()
        self.subject_stages = [s for s in stages if s.scope == "subject"]
        self.trial_stages = [s for s in stages if s.scope == "trial"]
        if stages[: len(self.subject_stages)] != self.subject_stages:
            raise ValueError("subject-scope stages must come before the trial stages")
        self.fingerprints: dict[tuple[str, str], str] = {}  # (item key, stage) → fingerprint
        #: pool future → (trial, stage index, subject, submit time)
        self.pending: dict[cf.Future, tuple[Trial, int, Subject, float]] = {}
        self.seconds: dict[str, float] = {s.name: 0.0 for s in stages}
        #: stage → [items run in this run, items whose finished step was reused]
        self.counts: dict[str, list[int]] = {s.name: [0, 0] for s in stages}
        self.bar: Callable[[], None] = lambda: None

    # ------------------------------------------------------------ artifacts and fingerprints

    def _producer(self, stage_list: Sequence[Stage], before: int, key: str) -> Stage | None:
        for stage in reversed(stage_list[:before]):
            if key in stage.produces:
                return stage
        return None

    def _inputs(
        self, item: Subject | Trial, ledger: Ledger, index: int, subject: Subject | None
    ) -> tuple[dict[str, Path], dict[str, str]] | None:
        """Consumed artifacts and their producers' fingerprints; None if one is not ready."""
        stages = self.subject_stages if isinstance(item, Subject) else self.trial_stages
        stage = stages[index]
        inputs: dict[str, Path] = {}
        upstream: dict[str, str] = {}
        for key in stage.consumes:
            producer = self._producer(stages, index, key)
            owner, owner_ledger = item, ledger
            if producer is None and isinstance(item, Trial):
                producer = self._producer(self.subject_stages, len(self.subject_stages), key)
                owner, owner_ledger = subject, open_ledger(self.cfg, subject)
            if producer is None:
                continue  # provided outside the run (e.g. a keypoint store filled beforehand)
            fp = self.fingerprints.get((item_key(owner), producer.name))
            if fp is None or not owner_ledger.is_done(producer.name, fp):
                return None
            inputs[key] = owner_ledger.outputs(producer.name)[key]
            upstream[key] = fp
        return inputs, upstream

    # ------------------------------------------------------------ running

    def run_subject(self, subject: Subject) -> None:
        ledger = open_ledger(self.cfg, subject)
        for i, stage in enumerate(self.subject_stages):
            ready = self._inputs(subject, ledger, i, None)
            if ready is None:
                return
            inputs, upstream = ready
            fp = stage_fingerprint(stage, subject, self.cfg, upstream)
            self.fingerprints[(subject.name, stage.name)] = fp
            if ledger.is_done(stage.name, fp) and not self.cfg.force:
                self.counts[stage.name][1] += 1
            else:
                self.counts[stage.name][0] += 1
                start = time.perf_counter()
                later = tuple(s.name for s in self.subject_stages[i + 1 :])
                execute(stage, subject, inputs, self.cfg, fp, later)
                self.seconds[stage.name] += time.perf_counter() - start
                ledger = open_ledger(self.cfg, subject)

    def advance(self, trial: Trial, subject: Subject, start: int) -> None:
        """Run the trial's stages from ``start`` until one goes to the pool or all are done."""
        for i in range(start, len(self.trial_stages)):
            stage = self.trial_stages[i]
            ledger = open_ledger(self.cfg, trial)
            ready = self._inputs(trial, ledger, i, subject)
            if ready is None:
                break  # an upstream stage failed (recorded in its ledger)
            inputs, upstream = ready
            fp = stage_fingerprint(stage, trial, self.cfg, upstream)
            self.fingerprints[(trial.key, stage.name)] = fp
            if ledger.is_done(stage.name, fp) and not self.cfg.force:
                self.counts[stage.name][1] += 1
                continue
            self.counts[stage.name][0] += 1
            later = tuple(s.name for s in self.trial_stages[i + 1 :])
            if stage.parallel and self.pool is not None:
                self.ready.append((trial, i, subject, inputs, fp, later))
                self._fill()
                return
            t0 = time.perf_counter()
            ok = execute(stage, trial, inputs, self.cfg, fp, later)
            self.seconds[stage.name] += time.perf_counter() - t0
            if not ok:
                break
        self.bar()

    def _fill(self) -> None:
        while self.ready and len(self.pending) < self.cfg.workers:
            trial, i, subject, inputs, fp, later = self.ready.popleft()
            stage = self.trial_stages[i]
            fut = self.pool.submit(execute, stage, trial, inputs, self.cfg, fp, later)
            self.pending[fut] = (trial, i, subject, time.perf_counter())

    def collect(self, block: bool) -> None:
        """Continue the trials whose pool step has finished (all of them when ``block``)."""
        while self.pending:
            done, _ = cf.wait(
                list(self.pending), timeout=None if block else 0,
                return_when=cf.FIRST_COMPLETED,
            )  # fmt: skip
            if not done:
                return
            for fut in done:
                trial, i, subject, t0 = self.pending.pop(fut)
                self._fill()
                self.seconds[self.trial_stages[i].name] += time.perf_counter() - t0
                try:
                    fut.result()
                except Exception as err:  # noqa: BLE001 - the worker itself died
                    later = tuple(s.name for s in self.trial_stages[i + 1 :])
                    open_ledger(self.cfg, trial).mark_failed(
                        self.trial_stages[i].name, f"worker process died: {err}",
                        self.fingerprints.get((trial.key, self.trial_stages[i].name)), (), later,
                    )  # fmt: skip
                    self.bar()
                    continue
                self.advance(trial, subject, i + 1)


def check_cameras(cfg: BenchmarkConfig, trials: Sequence[Trial]) -> None:
    """Refuse, before any work, camera names that no session of the run has."""
    from opencapbench.benchmark.config import ConfigError, resolve_cameras
    from opencapbench.io.opencap_layout import session_cameras

    if cfg.cameras == "all":
        return
    found = sorted({c for t in trials for c in session_cameras(t.session_dir)}, key=natural_key)
    unknown = [c for c in resolve_cameras(cfg.cameras, found) if c not in found]
    if unknown:
        raise ConfigError(
            f"cameras {unknown} of --cameras {cfg.cameras!r} are in no session of "
            f"{cfg.data_dir}; cameras found: {found}"
        )


def _make_pool(workers: int):
    """The worker pool of a run as a context (None inside with one worker: everything runs in
    this process). Leaving it on Ctrl-C or an error cancels queued steps and stops the workers;
    the steps they were running are redone by the next run."""
    if workers <= 1:
        return contextlib.nullcontext()
    from opencapbench.parallel import WorkerPool

    return WorkerPool(workers)


def _trial_size(trial: Trial, cfg: BenchmarkConfig) -> int:
    """Bytes of the trial's keypoints or videos: a cheap proxy of its IK time."""
    store = cfg.keypoint_store / trial.subject / trial.session / trial.name
    files = list(store.glob("*.npz")) or list(trial.videos.values())
    return sum(f.stat().st_size for f in files if f.is_file())


def run_benchmark(
    cfg: BenchmarkConfig, stages: Sequence[Stage] | None = None, shard: Shard | None = None
) -> BenchmarkOutcome:
    """Run every stage over every trial and write the results; see the module docstring.

    Args:
        cfg: the run's configuration.
        stages: the stage list (default :func:`default_stages`).
        shard: run only this shard's trials (``--shard I/N``, see
            :mod:`opencapbench.benchmark.shard`); the tables are built once every shard is done.

    Returns:
        The per-trial errors, aggregated tables, failures and recorded warnings.
    """
    from opencapbench.io.atomic import remove_stale_temp_files

    stages = list(stages) if stages is not None else default_stages(cfg)
    trials = discover_trials(cfg.data_dir, cfg.subjects, cfg.trials, cfg.keypoint_store)
    subjects = {s.name: s for s in list_subjects(cfg.data_dir, cfg.subjects)}
    check_cameras(cfg, trials)
    check_run(cfg, subjects.values())  # the keypoint set has a recipe whose markers fit
    # --shard I/N: this process takes its share of the trials (benchmark/shard.py)
    all_trials = trials
    if shard is not None:
        from opencapbench.benchmark.shard import shard_trials

        trials = shard_trials(all_trials, cfg, shard)
        subjects = {k: s for k, s in subjects.items() if any(t.subject == k for t in trials)}
    else:  # a shard leaves them: the temporary files may be another shard's, being written
        for folder in ("trc", "ik", "scores", "status", "models", "results"):
            remove_stale_temp_files(cfg.out_dir / folder)
    _write_config(cfg)

    start = time.perf_counter()
    bar = progress_bar(len(trials), desc="trials", unit="trial")
    with _make_pool(cfg.workers) as pool:
        try:
            scheduler = _Scheduler(stages, cfg, pool)
            scheduler.bar = bar.update
            for subject in subjects.values():
                scheduler.run_subject(subject)
            for trial in sorted(trials, key=lambda t: -_trial_size(t, cfg)):
                scheduler.advance(trial, subjects[trial.subject], 0)
                scheduler.collect(block=False)
            scheduler.collect(block=True)
        finally:
            bar.close()
        timings = {**scheduler.seconds, "total": time.perf_counter() - start}
        write = True
        if shard is not None:  # the run's tables are built by the shard that settles the last
            from opencapbench.benchmark.shard import finish_shard

            run_timings = finish_shard(cfg, shard, trials, all_trials, timings)
            write = run_timings is not None
            if write:
                trials, timings = all_trials, run_timings
                subjects = {s.name: s for s in list_subjects(cfg.data_dir, cfg.subjects)}
        # the pool, idle now, draws the summary figures while this process writes the tables
        outcome = _results(cfg, trials, list(subjects.values()), timings, write, pool)
    outcome.steps = {name: (ran, reused) for name, (ran, reused) in scheduler.counts.items()}
    outcome.whole_run = write
    return outcome


def _write_config(cfg: BenchmarkConfig) -> None:
    from opencapbench.io.atomic import atomic_write

    with atomic_write(cfg.out_dir / "results" / "config.toml") as fh:
        fh.write(cfg.to_toml())


def _results(
    cfg: BenchmarkConfig,
    trials: list[Trial],
    subjects: list[Subject],
    timings: dict[str, float],
    write: bool = True,
    executor: cf.Executor | None = None,
) -> BenchmarkOutcome:
    """Tables, failures, warnings and the report, from the ledgers and score files (the report
    and tables are written to ``results/`` unless ``write`` is False)."""
    import json

    from opencapbench.benchmark import metrics
    from opencapbench.io.atomic import atomic_write
    from opencapbench.report import RunInfo, write_results
    from opencapbench.report.tables import write_table_csv

    by_subject = {s.name: open_ledger(cfg, s) for s in subjects}
    rows, shifts, failures, warnings = [], {}, [], []

    def record(trial: Trial, ledger: Ledger) -> None:
        for stage, entry in ledger.data.items():
            base = {"subject": trial.subject, "session": trial.session, "trial": trial.name}
            if entry.get("state") == "failed":
                err = entry["error"]
                failures.append({**base, "stage": stage, "error": err["type"],
                                 "message": err["message"]})  # fmt: skip
            for message in entry.get("warnings", []):
                warnings.append({**base, "stage": stage, "message": message})

    for trial in trials:
        ledger = open_ledger(cfg, trial)
        record(trial, ledger)
        if not ledger.is_done("score") and not any(
            e.get("state") == "failed" for e in ledger.data.values()
        ):
            # a failed subject stage (e.g. no model) stops its trials: name it for each trial
            subject_failed = Ledger(ledger.path, ledger.item)
            subject_failed.data = {
                k: {**v, "warnings": []} for k, v in by_subject[trial.subject].data.items()
                if v.get("state") == "failed"
            }  # fmt: skip
            record(trial, subject_failed)
        if ledger.is_done("score"):
            rows.append(pd.read_csv(ledger.outputs("score")["scores"]))
            shifts[trial.key] = ledger.entry("score")["info"]
    per_trial = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    failures_df = pd.DataFrame(failures, columns=FAILURE_COLUMNS)
    warnings_df = pd.DataFrame(
        warnings, columns=["subject", "session", "trial", "stage", "message"]
    )
    tables = metrics.aggregate(per_trial) if not per_trial.empty else {}
    results_dir = cfg.out_dir / "results"
    if not write:
        return BenchmarkOutcome(per_trial, tables, failures_df, warnings_df, results_dir)
    run = RunInfo(
        cfg.run_name, cameras=cfg.cameras, n_trials=len(trials), config=cfg.to_toml(),
        out_dir=cfg.out_dir, warnings=warnings_df,
    )  # fmt: skip
    start = time.perf_counter()
    write_results(
        results_dir, per_trial, tables, shifts, failures_df, run, plots=cfg.plots, executor=executor
    )
    write_table_csv(warnings_df, results_dir / "warnings.csv", index=False)
    # "total" ends with the last trial; "report" is the tables, summary figures and report.html
    timings = {**timings, "report": time.perf_counter() - start}
    with atomic_write(results_dir / "timings.json") as fh:
        json.dump({k: round(v, 3) for k, v in timings.items()}, fh, indent=2)
    return BenchmarkOutcome(per_trial, tables, failures_df, warnings_df, results_dir)
