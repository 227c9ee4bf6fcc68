"""``report.html``: one self-contained page with every table, every figure and the diagnostics.

Parsed with the standard library's ``html.parser``; a real benchmark run (synthetic data, one
walking trial) checks the page the runner writes.
"""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib

from opencapbench.benchmark.markers3d import MarkerSettings
from opencapbench.benchmark.metrics import OCB_DOFS, aggregate, dof_columns, dof_errors
from opencapbench.report import RunInfo, write_results

PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Ids, tables (cell text by table id), images, links and <pre> text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.pre: dict[str, str] = {}
        self.external: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._pre: str | None = None
        self._figure: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids[a["id"]] = tag
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)
        if tag == "figure":
            self._figure = a.get("id")
        if tag == "img":
            self.images.append({"figure": self._figure, **a})
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self.tables[self._table].append([])
        if tag in ("td", "th") and self._table:
            self._cell = []
        if tag == "pre":
            self._pre = a.get("id", "")
            self.pre[self._pre] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None
        if tag == "pre":
            self._pre = None
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self.pre[self._pre] += data

    def table(self, table_id: str) -> pd.DataFrame:
        rows = self.tables[table_id]
        return pd.DataFrame(rows[1:], columns=rows[0])


def _image_bytes(img: dict[str, str]) -> bytes:
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix), img["src"][:40]
    return base64.b64decode(img["src"][len(prefix) :])


def _coords(t: np.ndarray, offset: float = 0.0) -> pd.DataFrame:
    cols = [c for dof in OCB_DOFS for c in dof_columns(dof)]
    df = pd.DataFrame({c: 20 * np.sin(2 * np.pi * t + i) + offset for i, c in enumerate(cols)},
                      index=pd.Index(t, name="time"))  # fmt: skip
    df.attrs["in_degrees"] = True
    return df


def _write_status(out: Path, subject: str, trial: str, data: dict) -> None:
    path = out / "status" / subject / f"{trial}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_diagnostics_sections_show_what_the_status_files_recorded(tmp_path) -> None:
    out = tmp_path / "run"
    markers = {
        "state": "done", "cameras": ["Cam0", "Cam2"], "frames": 120, "filter_hz": 4.5,
        "filter_hz_per_keypoint": {"r_knee": 4.5, "r_toe": 9.0},
        "noise_px_per_keypoint": {"r_knee": 1.875, "r_toe": 2.25},
        "triangulated_fraction": 0.995, "filled_fraction": 0.005, "excluded_camera_points": 7,
        "excluded_per_camera": {"Cam0": 3, "Cam2": 4},
        "most_excluded_keypoints": {"r_knee": 5, "l_ankle": 2},
        "median_reprojection_px": 1.25,
        "median_reprojection_px_per_camera": {"Cam0": 1.5, "Cam2": 0.75},
        "median_reprojection_px_per_keypoint": {"r_knee": 2.5},
    }  # fmt: skip
    _write_status(out, "s1", "walking1", {
        "markers": markers,
        "ik": {"state": "done", "marker_rms_m": 0.0123, "seconds": 2.0,
               "marker_rms_per_marker_m": {"r_knee_study": 0.02, "L_knee_study": 0.004}},
        "sync": {"offsets_frames": {"Cam0": 0, "Cam2": -3}},
        "scale": {"scale_factors": {"femur_r": [1.01, 0.98, 1.0]}},
    })  # fmt: skip
    _write_status(out, "s1", "STS1", {"markers": {"state": "failed", "error": {}}})
    (out / "status" / "s1" / "broken.json").write_text("{not json")
    t = np.arange(0, 1, 0.01)
    per_trial = dof_errors(_coords(t, 1.0), _coords(t)).assign(
        subject="s1", trial="walking1", coverage=0.875
    )
    warnings = pd.DataFrame([{"subject": "s1", "trial": "walking1", "message": "Cam1 skipped"}])
    run = RunInfo("modelY", cameras="Cam0,Cam2", n_trials=2, config="[markers]\nfilter_hz = 12.0\n",
                  out_dir=out, warnings=warnings)  # fmt: skip
    failures = pd.DataFrame([{"subject": "s1", "trial": "STS1", "stage": "markers",
                              "error": "TriangulationFailedError", "message": "too few frames"}])  # fmt: skip
    write_results(out / "results", per_trial, None, {}, failures, run, plots=False)
    page = Page((out / "results" / "report.html").read_text())

    for section in ("summary", "settings", "tables", "figures", "diagnostics", "diag-reprojection",
                    "diag-filter", "diag-exclusions", "diag-ik", "diag-sync", "diag-scale", "diag-coverage",
                    "failures", "warnings", "curves"):  # fmt: skip
        assert page.ids.get(section) == "section", section
    assert tomllib.loads(page.pre["config-toml"]) == {"markers": {"filter_hz": 12.0}}

    m = page.table("table-diag-markers")
    assert m.iloc[0].tolist() == [
        "s1",
        "walking1",
        "Cam0, Cam2",
        "120",
        "4.50",
        "99.50",
        "0.50",
        "1.25",
        "7",
    ]
    assert len(m) == 1  # the failed trial has no triangulation numbers
    cam = page.table("table-diag-reprojection_per_camera")
    assert cam[["Cam0", "Cam2"]].iloc[0].tolist() == ["1.50", "0.75"]
    assert page.table("table-diag-reprojection_per_keypoint")["r_knee"].tolist() == ["2.50"]
    assert page.table("table-diag-filter")[["r_knee", "r_toe"]].iloc[0].tolist() == ["4.5", "9.0"]
    assert page.table("table-diag-noise")[["r_knee", "r_toe"]].iloc[0].tolist() == ["1.88", "2.25"]
    assert page.table("table-diag-exclusions")[["Cam0", "Cam2"]].iloc[0].tolist() == ["3", "4"]
    kp = page.table("table-diag-excluded-keypoints")
    assert kp[["keypoint", "exclusions"]].values.tolist() == [["r_knee", "5"], ["l_ankle", "2"]]
    per_marker = page.table("table-diag-ik-per-marker")
    assert per_marker[["r_knee_study", "L_knee_study"]].iloc[0].tolist() == ["20.0", "4.0"]
    assert page.table("table-diag-ik")["marker_rms_mm"].tolist() == ["12.3"]
    assert page.table("table-diag-sync")[["Cam0", "Cam2"]].iloc[0].tolist() == ["0", "-3"]
    assert page.table("table-diag-scale").iloc[0].tolist() == ["s1", "walking1", "femur_r",
                                                                "1.010", "0.980", "1.000"]  # fmt: skip
    assert page.table("table-diag-coverage")["coverage"].tolist() == ["0.875"]
    assert page.table("table-warnings")["message"].tolist() == ["Cam1 skipped"]
    assert page.table("table-failures").iloc[0].tolist() == [
        "s1", "STS1", "markers", "TriangulationFailedError", "too few frames"
    ]  # fmt: skip
    assert not page.images and not page.external


def test_no_sync_or_scale_section_without_those_stages(tmp_path) -> None:
    t = np.arange(0, 1, 0.01)
    per_trial = dof_errors(_coords(t, 1.0), _coords(t)).assign(subject="s1", trial="squats1")
    write_results(tmp_path, per_trial, None, {}, None, RunInfo("r", n_trials=1), plots=False)
    page = Page((tmp_path / "report.html").read_text())
    assert "diag-sync" not in page.ids and "diag-scale" not in page.ids
    assert "diag-filter" not in page.ids
    assert "diag-coverage" in page.ids and "table-diag-coverage" not in page.ids
    assert "Configuration not recorded." in (tmp_path / "report.html").read_text()


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory) -> Path:
    from opencapbench.benchmark.runner import BenchmarkConfig, run_benchmark
    from opencapbench.synthetic import generate_synthetic_dataset

    root = tmp_path_factory.mktemp("html")
    generate_synthetic_dataset(root / "data", n_cameras=2, duration_s=1.0, noise_px=1.0,
                               dropout=0.0, seed=5)  # fmt: skip
    cfg = BenchmarkConfig(data_dir=root / "data", out_dir=root / "out",
                          keypoint_store=root / "data" / "keypoints", trials=("walking1",),
                          workers=1)  # fmt: skip
    outcome = run_benchmark(cfg)
    assert outcome.failures.empty, outcome.failures.to_string()
    return root / "out"


@pytest.mark.slow
def test_report_html_of_a_benchmark_run_holds_every_table_and_figure(benchmark_run) -> None:
    results = benchmark_run / "results"
    text = (results / "report.html").read_text()
    page = Page(text)
    assert not page.external and "http://" not in text and "https://" not in text

    # every table of the run, with the run's own numbers
    per_trial = pd.read_csv(results / "per_trial.csv")
    tables = aggregate(per_trial)
    for name in tables:
        assert f"table-{name}" in page.tables, name
    overall = page.table("table-overall").set_index("dof")
    expected = tables["overall"]["rmse"].map(lambda v: f"{v:.2f}")
    assert overall["rmse"].tolist() == expected.tolist()
    assert "table-published" in page.tables and "table-bland-altman" in page.tables

    # every figure embedded as PNG, the summary figures also as SVG and PDF beside the page
    figures = {img["figure"]: _image_bytes(img) for img in page.images}
    assert set(figures) == {"figure-dof_errors", "figure-bland_altman", "figure-keypoint_noise",
                            "curves-subject1-walking1",
                            "curves-subject1-walking1-subject1_walking1_normalised"}  # fmt: skip
    assert all(data.startswith(PNG) for data in figures.values())
    for name in ("dof_errors", "bland_altman", "keypoint_noise"):
        for suffix in ("png", "svg", "pdf"):
            assert f"plots/{name}.{suffix}" in page.links
            assert (results / "plots" / f"{name}.{suffix}").stat().st_size > 0

    # the per-trial table links to the trial's curves
    internal = [h[1:] for h in page.links if h.startswith("#")]
    assert "curves-subject1-walking1" in internal
    assert all(target in page.ids for target in internal)

    # diagnostics of the real status file
    for section in ("diag-reprojection", "diag-exclusions", "diag-ik", "diag-coverage"):
        assert section in page.ids
    status = json.loads((benchmark_run / "status/subject1/walking1.json").read_text())
    markers = page.table("table-diag-markers")
    assert markers["median_reprojection_px"].tolist() == [
        f"{status['markers']['info']['median_reprojection_px']:.2f}"
    ]
    ik = page.table("table-diag-ik")
    assert ik["marker_rms_mm"].tolist() == [f"{1000 * status['ik']['info']['marker_rms_m']:.1f}"]
    # the default automatic cut-off: one per keypoint within 3-12 Hz, and the 2D noise it
    # measured, which on these keypoints (1 px Gaussian noise) must be about 1 px
    cutoffs = page.table("table-diag-filter").iloc[0, 2:].astype(float)
    assert cutoffs.between(3.0, 12.0).all() and len(cutoffs) == 52
    assert float(markers["filter_hz"].iloc[0]) == np.median(cutoffs)
    noise = page.table("table-diag-noise").iloc[0, 2:].astype(float)
    assert 0.85 < noise.median() < 1.1, noise.describe()

    # the settings are the resolved configuration as TOML
    config = tomllib.loads(page.pre["config-toml"])
    assert config["cameras"] == "all" and config["trials"] == ["walking1"]
    assert config["markers"]["filter_hz"] == MarkerSettings().filter_hz

    run = json.loads((results / "run.json").read_text())
    assert run["n_scored"] == 1 and run["cameras_used"] == sorted(
        status["markers"]["info"]["cameras"]
    )
    assert (results / "opencapbench_table.md").is_file()
