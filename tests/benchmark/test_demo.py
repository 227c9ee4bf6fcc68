"""`ocb demo`, the README's main job: runs end to end, prints the table, resumes."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from opencapbench.cli import main

pytestmark = pytest.mark.slow


def test_demo_prints_the_error_table_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert first.exit_code == 0, first.output
    mean_row = next(line for line in first.output.splitlines() if line.startswith("| mean"))
    mean_rmse = float(mean_row.split("|")[2])
    assert 0.0 < mean_rmse < 4.0
    assert (out / "benchmark/results/opencapbench.csv").is_file()
    html = (out / "benchmark/results/report.html").read_text()
    assert "data:image/png;base64," in html and "Joint-angle error per DOF" in html
    mot = out / "benchmark/ik/subject1/walking1.mot"
    stamp = mot.stat().st_mtime_ns
    second = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert second.exit_code == 0 and mean_row in second.output
    assert mot.stat().st_mtime_ns == stamp  # nothing redone
