"""Everything a finished benchmark run leaves in ``results/``: tables, figures and ``report.html``.

:func:`write_results` is called once at the end of a run; :func:`~opencapbench.report.figures.plot_trial`
may already have drawn the per-trial curves in worker processes (missing or stale ones are drawn
here).  ``docs/results.md`` describes every file.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opencapbench.benchmark.metrics import OCB_DOFS, aggregate, aligned_pairs
from opencapbench.geometry.filtering import NOISE_BAND
from opencapbench.io.atomic import atomic_write
from opencapbench.parallel import run_now
from opencapbench.report.diagnostics import cameras_used, diagnostics_tables, read_status
from opencapbench.report.figures import (
    SUMMARY_FORMATS,
    plot_bland_altman,
    plot_dof_errors,
    plot_keypoint_noise,
    plot_trial,
    trial_figure_paths,
)
from opencapbench.report.html import HtmlPage, anchor_id
from opencapbench.report.published import opencapbench_table_markdown, published_rmse
from opencapbench.report.tables import (
    best_mask,
    format_table,
    jsonable,
    write_shifts_json,
    write_table_csv,
)

log = logging.getLogger(__name__)

__all__ = ["RunInfo", "config_toml", "write_results", "curve_stem", "RUN_FILE"]

#: the run's identity, read back by ``ocb compare``
RUN_FILE = "run.json"

CSV_TABLES = {
    "overall": "overall.csv",
    "opencapbench": "opencapbench.csv",
    "per_activity_rmse": "per_activity_rmse.csv",
    "per_activity_mae": "per_activity_mae.csv",
    "per_subject_rmse": "per_subject_rmse.csv",
    "per_subject_mae": "per_subject_mae.csv",
    "per_trial_rmse": "per_trial_rmse.csv",
    "per_trial_mae": "per_trial_mae.csv",
}

_HEADINGS = {
    "overall": "Overall error per DOF (degrees; mean and sample SD over trials)",
    "opencapbench": "OpenCapBench table (mean over all trials, degrees)",
    "per_activity_rmse": "RMSE per activity",
    "per_activity_mae": "MAE per activity",
    "per_subject_rmse": "RMSE per subject",
    "per_subject_mae": "MAE per subject",
    "per_trial_rmse": "RMSE per trial",
    "per_trial_mae": "MAE per trial",
}


def _plain(value: Any) -> Any:
    """A value TOML can hold: paths → str, tuples → lists, dataclasses → tables, None dropped."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value if v is not None]
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_toml(config: Any) -> str:
    """The resolved configuration as TOML text (a dataclass, a mapping, or TOML text as is).

    ``None`` values are left out (TOML has no null): a missing key means "the default".
    """
    import tomli_w

    if config is None:
        return ""
    if isinstance(config, str):
        return config
    plain = _plain(config)
    scalars = {k: v for k, v in plain.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in plain.items() if isinstance(v, dict)}
    return tomli_w.dumps({**scalars, **tables})


@dataclass
class RunInfo:
    """Who the results belong to; named in every figure title and in ``run.json``.

    Attributes:
        name: the run's name (e.g. the model's).
        cameras: the camera set-up as asked (``all``, ``2-cameras``, ``Cam1,Cam3``).
        n_trials: trials in the run (scored or not).
        config: the resolved configuration: TOML text, a mapping or a dataclass.
        out_dir: the run's output root; its ``status/`` files feed the diagnostics.
        warnings: optional table of warnings (e.g. ``subject, trial, stage, message``).
    """

    name: str
    cameras: str = "all"
    n_trials: int = 0
    config: Any = None
    out_dir: Path | None = None
    warnings: pd.DataFrame | None = None

    def setup(self, used: list[str] | None = None) -> str:
        """The camera set-up in words, with the cameras used when the set-up was ``all``."""
        if self.cameras == "all" and used:
            return f"all cameras ({', '.join(used)})"
        return f"cameras {self.cameras}"

    def label(self, used: list[str] | None = None) -> str:
        return f"{self.name} · {self.setup(used)} · {self.n_trials} trial(s)"

    def title(self, what: str, used: list[str] | None = None) -> str:
        """A figure title: what it shows, then run, camera set-up and number of trials."""
        return f"{what} — {self.label(used)}"

    @classmethod
    def from_benchmark_config(cls, cfg: Any, n_trials: int, name: str | None = None) -> RunInfo:
        """RunInfo of a ``BenchmarkConfig``-like object (``out_dir``, ``cameras`` attributes)."""
        out_dir = Path(cfg.out_dir) if getattr(cfg, "out_dir", None) else None
        return cls(
            name=name or (out_dir.name if out_dir else "run"),
            cameras=str(getattr(cfg, "cameras", "all")),
            n_trials=n_trials,
            config=cfg,
            out_dir=out_dir,
        )


def curve_stem(results_dir: str | os.PathLike, subject: str, trial: str) -> Path:
    """Where :func:`plot_trial` writes a trial's curves (without suffix)."""
    safe = anchor_id(subject, trial).replace("-", "_")
    return Path(results_dir) / "plots" / "curves" / safe


def _n_scored(per_trial: pd.DataFrame) -> int:
    if per_trial.empty:
        return 0
    return int(per_trial[["subject", "trial"]].drop_duplicates().shape[0])


def _fresh(image: Path, *inputs: Path) -> bool:
    if not image.is_file():
        return False
    t = image.stat().st_mtime_ns
    return all(p.is_file() and p.stat().st_mtime_ns <= t for p in inputs)


def _curves(
    results_dir: Path, shifts: Mapping[str, Mapping[str, Any]], run: RunInfo, used: list[str]
) -> tuple[dict[tuple[str, str], list[Path]], list[str], pd.DataFrame]:
    """Curve PNGs of every scored trial (drawn when missing or older than its MOT files),
    failures to draw, and the pooled (reference, predicted) pairs for the Bland-Altman plot."""
    from opencapbench.io.mot import read_mot

    curves: dict[tuple[str, str], list[Path]] = {}
    problems: list[str] = []
    pairs = []
    for key, info in sorted(shifts.items()):
        if not (isinstance(info, Mapping) and info.get("pred_mot") and info.get("gt_mot")):
            continue
        subject, _, trial = key.partition("/")
        pred_mot, gt_mot = Path(info["pred_mot"]), Path(info["gt_mot"])
        shift_s = float(info.get("shift_s", 0.0))
        stem = curve_stem(results_dir, subject, trial)
        try:
            pred, gt = read_mot(pred_mot), read_mot(gt_mot)
            pairs.append(aligned_pairs(pred, gt, shift_s).assign(subject=subject, trial=trial))
            expected = trial_figure_paths(pred_mot, stem)
            if all(_fresh(p, pred_mot, gt_mot) for p in expected):
                curves[(subject, trial)] = expected
            else:
                title = run.title(f"{subject}/{trial}", used)
                curves[(subject, trial)] = plot_trial(pred_mot, gt_mot, shift_s, stem, title)
        except Exception as err:  # noqa: BLE001 - one bad trial must not sink the report
            log.warning("no curve plot for %s: %s: %s", key, type(err).__name__, err)
            problems.append(f"{key}: {type(err).__name__}: {err}")
    pooled = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame()
    return curves, problems, pooled


def write_results(
    results_dir: str | os.PathLike,
    per_trial: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None,
    shifts: Mapping[str, Mapping[str, Any]] | None,
    failures: pd.DataFrame | None,
    run: RunInfo,
    plots: bool = True,
    formats: Sequence[str] = SUMMARY_FORMATS,
    executor: cf.Executor | None = None,
) -> dict[str, Path]:
    """Write the tables, figures, ``opencapbench_table.md``, ``report.md`` and ``report.html``.

    Args:
        results_dir: the run's ``results/`` folder (created).
        per_trial: long per-trial table (concatenated ``dof_errors`` with ``subject``,
            ``trial``, ``activity`` and optionally ``coverage``); may be empty.
        tables: ``aggregate(per_trial)``; computed when None or empty.
        shifts: ``{"subject/trial": details}`` of ``best_time_shift``; entries with
            ``pred_mot`` and ``gt_mot`` paths get curves and feed the Bland-Altman plot.
        failures: trials that could not be scored (``subject, trial, stage, error, message``).
        run: the run's identity, configuration and output root (for ``status/`` diagnostics).
        plots: False skips every figure.
        formats: file formats of the summary figures (the PNG is always written: the report
            embeds it).
        executor: draws the summary figures, one file each, while this process writes the
            tables (the benchmark passes its worker pool); None draws them here.

    Returns:
        name → path of every file written (figures as ``"<name>.<format>"``).
    """
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    shifts = dict(shifts or {})
    failures = (
        failures
        if failures is not None
        else pd.DataFrame(columns=["subject", "trial", "stage", "error", "message"])
    )
    if not tables and not per_trial.empty:
        tables = aggregate(per_trial)
    tables = dict(tables or {})
    status = read_status(run.out_dir) if run.out_dir is not None else {}
    used = cameras_used(status)
    diag = diagnostics_tables(status, per_trial)
    written: dict[str, Path] = {}
    formats = ["png", *[f for f in formats if f != "png"]]

    # ---- summary figures: handed out first, collected after the tables are written
    jobs: dict[str, list[cf.Future]] = {}
    curves: dict[tuple[str, str], list[Path]] = {}
    curve_problems: list[str] = []
    if plots:
        curves, curve_problems, pairs = _curves(out, shifts, run, used)
        submit = executor.submit if executor is not None else run_now
        # in an executor each format is its own job; here one drawing serves every format
        groups = [[f] for f in formats] if executor is not None else [formats]

        def draw(name: str, plot: Any, *data: Any, what: str) -> None:
            title = run.title(what, used)
            # reversed: the PDF, slowest, first
            jobs[name] = [
                submit(plot, *data, out / "plots" / name, title, formats=g)
                for g in reversed(groups)
            ]

        if not pairs.empty:
            draw("bland_altman", plot_bland_altman, pairs,
                 what="Bland–Altman, video − mocap, every frame")  # fmt: skip
        if "per_trial_rmse" in tables:
            per_trial_tables = {m: tables[f"per_trial_{m}"] for m in ("rmse", "mae")}
            draw("dof_errors", plot_dof_errors, per_trial_tables, what="Joint-angle error per DOF")
        if "filter_per_keypoint" in diag and "noise_per_keypoint" in diag:
            draw("keypoint_noise", plot_keypoint_noise, diag["filter_per_keypoint"],
                 diag["noise_per_keypoint"],
                 what="2D keypoint noise and cut-off (--filter-hz auto)")  # fmt: skip

    # ---- tables
    if not per_trial.empty:
        written["per_trial"] = write_table_csv(per_trial, out / "per_trial.csv", index=False)
    for name, filename in CSV_TABLES.items():
        if name in tables:
            written[name] = write_table_csv(tables[name], out / filename)
    written["failures"] = write_table_csv(failures, out / "failures.csv", index=False)
    if run.warnings is not None:
        written["warnings"] = write_table_csv(run.warnings, out / "warnings.csv", index=False)
    written["shifts"] = write_shifts_json(shifts, out / "shifts.json")
    for name, table in diag.items():
        flat = name in ("most_excluded_keypoints", "scale")
        written[f"diagnostics:{name}"] = write_table_csv(
            table, out / "diagnostics" / f"{name}.csv", index=not flat
        )
    n_scored = _n_scored(per_trial)
    with atomic_write(out / RUN_FILE) as fh:
        json.dump(jsonable({"name": run.name, "cameras": run.cameras, "cameras_used": used,
                            "n_trials": run.n_trials, "n_scored": n_scored}), fh, indent=2)  # fmt: skip
        fh.write("\n")
    written["run"] = out / RUN_FILE
    if "overall" in tables:
        md = opencapbench_table_markdown(tables["overall"]["rmse"], run.name, n_scored)
        with atomic_write(out / "opencapbench_table.md") as fh:
            fh.write(md)
        written["opencapbench_table"] = out / "opencapbench_table.md"

    # ---- figures
    figures: dict[str, list[Path]] = {}
    ba_stats = None
    for name in ("dof_errors", "bland_altman", "keypoint_noise"):
        if name not in jobs:
            continue
        results = [job.result() for job in jobs[name]]
        if name == "bland_altman":
            ba_stats = results[0][1]
            results = [paths for paths, _ in results]
            written["bland_altman_stats"] = write_table_csv(ba_stats, out / "bland_altman.csv")
        # in the order of ``formats``, as one serial job writes them (jobs ran in reverse)
        figures[name] = sorted((p for paths in results for p in paths),
                               key=lambda p: formats.index(p.suffix.lstrip(".")))  # fmt: skip
        written.update({f"{name}{p.suffix}": p for p in figures[name]})
    for (subject, trial), paths in curves.items():
        written.update({f"curves:{subject}/{trial}:{p.name}": p for p in paths})

    # ---- report.md (plain text companion of report.html)
    md = [f"# OpenCapBench joint-angle errors — {run.label(used)}", ""]
    md += [
        f"{n_scored} trial(s) scored. Errors are in degrees, after the time shift that minimises "
        "the knee-angle error; bilateral DOFs average right and left. "
        "`report.html` holds the same tables with every figure and the diagnostics.",
        "",
    ]
    for name, heading in _HEADINGS.items():
        if name in tables:
            md += [f"## {heading}", "", format_table(tables[name]), ""]
    if failures is not None and not failures.empty:
        md += ["## Trials not scored", "", format_table(failures, index=False), ""]
    if curve_problems:
        md += ["Curve plots that could not be drawn:", "", *[f"- {p}" for p in curve_problems], ""]
    for name in figures:
        md += [f"![{name}](plots/{name}.png)", ""]
    with atomic_write(out / "report.md") as fh:
        fh.write("\n".join(md))
    written["report_md"] = out / "report.md"

    # ---- report.html
    page = _html(run, used, tables, shifts, failures, diag, figures, curves, curve_problems,
                 ba_stats, n_scored, out)  # fmt: skip
    with atomic_write(out / "report.html") as fh:
        fh.write(page)
    written["report_html"] = out / "report.html"
    return written


def _html(
    run: RunInfo,
    used: list[str],
    tables: Mapping[str, pd.DataFrame],
    shifts: Mapping[str, Mapping[str, Any]],
    failures: pd.DataFrame,
    diag: Mapping[str, pd.DataFrame],
    figures: Mapping[str, list[Path]],
    curves: Mapping[tuple[str, str], list[Path]],
    curve_problems: list[str],
    ba_stats: pd.DataFrame | None,
    n_scored: int,
    out: Path,
) -> str:
    page = HtmlPage(f"OpenCapBench report: {run.name}", run.label(used))
    dofs = [*OCB_DOFS, "mean"]

    page.section("summary", "Summary")
    if "overall" in tables:
        overall = tables["overall"]
        page.text(
            f"{n_scored} of {run.n_trials} trial(s) scored; mean over the 12 DOFs: "
            f"RMSE {overall.loc['mean', 'rmse']:.2f}°, MAE {overall.loc['mean', 'mae']:.2f}°. "
            "Errors are in degrees after the time shift that minimises the knee-angle error; "
            "bilateral DOFs average right and left.",
            css="lead",
        )
    else:
        page.missing(f"No trial could be scored ({run.n_trials} trial(s) in the run).")

    page.section("settings", "Settings")
    text = config_toml(run.config)
    if text:
        page.text("The resolved configuration of the run (TOML).")
        page.preformatted(text, element_id="config-toml")
    else:
        page.missing("Configuration not recorded.")

    page.section("tables", "Tables")
    curve_links = {key: f"#{anchor_id('curves', *key)}" for key in curves}
    for name, heading in _HEADINGS.items():
        if name not in tables:
            continue
        table = tables[name]
        page.section(f"section-{name}", heading, level=3)
        links = None
        if name.startswith("per_trial") and curve_links:
            # the table's index may hold the session between subject and trial
            links = {
                label: curve_links[(label[0], label[-1])]
                for label in table.index
                if isinstance(label, tuple) and (label[0], label[-1]) in curve_links
            }
            page.text("Each trial links to its curves.")
        page.table(f"table-{name}", table, digits=2, row_links=links)
    if "overall" in tables:
        page.section("section-published", "Beside the published OpenCapBench rows (RMSE)", 3)
        published = published_rmse()[dofs]
        ours = tables["overall"]["rmse"].reindex(dofs).to_frame().T
        ours.index = [f"{run.name} (this run)"]
        both = pd.concat([ours, published])
        both.index.name = "method"
        page.text(
            "Published rows: OpenCapBench (Gozlan et al., WACV 2025), measured on the real "
            "OpenCap videos; they compare with this run only when it ran on that dataset. "
            "Highlighted: the lowest value per column."
        )
        page.table("table-published", both, digits=1, bold=best_mask(both, dofs))

    page.section("figures", "Figures")
    captions = {
        "dof_errors": "Joint-angle error per DOF. Bars: mean over trials; whiskers: ±1 sample "
        "SD over trials (clipped at 0); dots: individual trials.",
        "bland_altman": "Bland–Altman per DOF: video − mocap against their mean, every frame of "
        "every trial after the time shift; solid line: bias, dashed lines: 95 % limits of "
        "agreement (bias ± 1.96 SD of the frame differences).",
        "keypoint_noise": "2D noise of each keypoint (standard deviation of the white jitter, "
        f"measured above {NOISE_BAND:g} × Nyquist, cameras pooled) and the low-pass cut-off "
        "--filter-hz auto chose for it: median over trials (dot) and range (bar). Tables "
        "under Diagnostics.",
    }
    for name, paths in figures.items():
        png = next(p for p in paths if p.suffix == ".png")
        files = [(p.suffix.lstrip(".").upper(), p.relative_to(out).as_posix()) for p in paths]
        page.figure(f"figure-{name}", png, captions.get(name, name), files=files)
        if name == "bland_altman" and ba_stats is not None:
            page.table("table-bland-altman", ba_stats, digits=2,
                       caption="Bias, SD and limits of agreement per DOF (degrees; n frames)")  # fmt: skip
    if not figures:
        page.missing("No figure (nothing scored, or plots were switched off).")

    page.section("diagnostics", "Diagnostics")
    page.text("From the per-trial status files (status/<subject>/<trial>.json).")
    _diagnostics(page, diag, shifts)

    page.section("failures", "Failures")
    if failures is not None and not failures.empty:
        page.table("table-failures", failures.reset_index(drop=True), index=False)
    else:
        page.text("Every trial of the run was scored.")
    if curve_problems:
        page.text("Curve plots that could not be drawn: " + "; ".join(curve_problems))

    page.section("warnings", "Warnings")
    if run.warnings is not None and not run.warnings.empty:
        page.table("table-warnings", run.warnings.reset_index(drop=True), index=False)
    else:
        page.missing("No warning recorded.")

    page.section("curves", "Per-trial curves")
    if curves:
        page.text(
            "Mocap (solid) and video (dashed, shifted in time); right side blue, left side "
            "vermillion, single DOFs black. Walking trials also over 0–100 % of the trial."
        )
    else:
        page.missing("No curve plot.")
    for key, paths in sorted(curves.items()):
        for k, path in enumerate(paths):
            fid = anchor_id("curves", *key) if k == 0 else anchor_id("curves", *key, path.stem)
            what = "time-normalised" if path.stem.endswith("_normalised") else "against time"
            page.figure(fid, path, f"{key[0]}/{key[1]}: joint angles {what}",
                        files=[("PNG", path.relative_to(out).as_posix())])  # fmt: skip
    return page.render()


def _diagnostics(
    page: HtmlPage, diag: Mapping[str, pd.DataFrame], shifts: Mapping[str, Mapping[str, Any]]
) -> None:
    page.section("diag-reprojection", "Triangulation and reprojection error", level=3)
    if "markers" in diag:
        page.table("table-diag-markers", diag["markers"], digits=2,
                   caption="Per trial: 2D low-pass cut-off (Hz; with --filter-hz auto the median "
                   "over keypoints), % of points (frames × keypoints) triangulated and "
                   "gap-filled, median reprojection error (px), camera-point exclusions")  # fmt: skip
    else:
        page.missing("Triangulation diagnostics not recorded.")
    for name, caption in (
        ("reprojection_per_camera", "Median reprojection error per camera (px)"),
        ("reprojection_per_keypoint", "Median reprojection error per keypoint (px)"),
    ):
        if name in diag:
            page.table(f"table-diag-{name}", diag[name], digits=2, caption=caption)
        else:
            page.missing(f"{caption}: not recorded by this run.")

    if "filter_per_keypoint" in diag:
        page.section("diag-filter", "2D low-pass cut-off and keypoint noise", level=3)
        page.table("table-diag-filter", diag["filter_per_keypoint"], digits=1,
                   caption="Cut-off chosen for each keypoint by --filter-hz auto (Hz): the one of "
                   "least estimated error, cameras pooled")  # fmt: skip
    if "noise_per_keypoint" in diag:
        page.table("table-diag-noise", diag["noise_per_keypoint"], digits=2,
                   caption="Estimated 2D noise of each keypoint (px): the standard deviation of "
                   f"white jitter, measured above {NOISE_BAND:g} × Nyquist")  # fmt: skip

    page.section("diag-exclusions", "Camera exclusions", level=3)
    if "exclusions_per_camera" in diag:
        page.table("table-diag-exclusions", diag["exclusions_per_camera"], digits=0,
                   caption="Points where a camera was left out of triangulation for its "
                   "reprojection error")  # fmt: skip
    else:
        page.missing("Camera exclusions not recorded.")
    if "most_excluded_keypoints" in diag:
        page.table("table-diag-excluded-keypoints", diag["most_excluded_keypoints"], digits=0,
                   index=False, caption="Most often excluded keypoints per trial")  # fmt: skip

    page.section("diag-ik", "Inverse kinematics marker error", level=3)
    if "ik_per_marker" in diag:
        page.table("table-diag-ik-per-marker", diag["ik_per_marker"], digits=1,
                   caption="Marker RMS per marker (mm)")  # fmt: skip
    else:
        page.missing("Marker RMS per marker: not recorded by this run; per trial below.")
    if "ik" in diag:
        page.table("table-diag-ik", diag["ik"], digits=1,
                   caption="Marker RMS over all markers and frames (mm), IK wall time (s)")  # fmt: skip
    else:
        page.missing("IK marker error not recorded.")

    if "sync" in diag:
        page.section("diag-sync", "Synchronisation offsets", level=3)
        page.table("table-diag-sync", diag["sync"], digits=0,
                   caption="Offset of each camera (frames)")  # fmt: skip
    if "scale" in diag:
        page.section("diag-scale", "Scale factors", level=3)
        page.table("table-diag-scale", diag["scale"], digits=3, index=False,
                   caption="Scale factors per body (x, y, z)")  # fmt: skip

    page.section("diag-coverage", "Coverage of the ground truth", level=3)
    if "coverage" in diag:
        page.table("table-diag-coverage", diag["coverage"], digits=3,
                   caption="Fraction of ground-truth frames with a prediction")  # fmt: skip
    else:
        page.missing("Coverage per trial not recorded; time-shift overlap below.")
    rows = [
        {"trial": key, "shift_ms": 1000.0 * float(v.get("shift_s", np.nan)),
         "n_overlap": v.get("n_overlap"), "n_overlap_no_shift": v.get("n_overlap_no_shift"),
         "method": v.get("method")}
        for key, v in sorted(shifts.items())
        if isinstance(v, Mapping)
    ]  # fmt: skip
    if rows:
        page.table("table-diag-shifts", pd.DataFrame(rows), digits=0, index=False,
                   caption="Time shift of the prediction and the samples it overlaps the "
                   "ground truth with")  # fmt: skip
