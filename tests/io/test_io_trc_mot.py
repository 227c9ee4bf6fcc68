"""TRC and MOT files: round trips, OpenSim 4.6 compatibility, tolerant readers, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opencapbench.io.mot import MotFileError, read_mot, write_mot
from opencapbench.io.trc import TrcFileError, read_trc, write_trc

NAMES = ["r_ASIS", "l_ASIS", "C7", "r_knee"]


def _markers(t_count: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = np.arange(t_count) / 100.0
    pos = rng.normal(scale=0.5, size=(t_count, len(NAMES), 3))
    pos[3, 1] = np.nan
    pos[7, 2, 1] = np.nan  # a single missing coordinate stays NaN
    return times, pos


def test_trc_round_trip_and_header(tmp_path) -> None:
    times, pos = _markers()
    path = write_trc(tmp_path / "walking1.trc", times, NAMES, pos, 100.0)
    lines = path.read_text().splitlines()
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\twalking1.trc"
    assert lines[2].split("\t") == ["100.0", "100.0", "30", "4", "m", "100.0", "1", "30"]
    assert lines[3].split("\t")[:3] == ["Frame#", "Time", "r_ASIS"]
    assert lines[5].startswith("1\t0.00000000\t")
    data = read_trc(path)
    assert data.marker_names == NAMES and data.rate_hz == 100.0 and data.units == "m"
    np.testing.assert_allclose(data.times, times, atol=1e-9)
    np.testing.assert_allclose(data.positions, pos, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(data.frame_numbers, np.arange(1, 31))
    np.testing.assert_allclose(data.marker("C7"), pos[:, 2], atol=1e-6, equal_nan=True)


def test_opensim_reads_our_trc(tmp_path) -> None:
    opensim = pytest.importorskip("opensim")
    times, pos = _markers()
    path = write_trc(tmp_path / "m.trc", times, NAMES, pos, 100.0)
    table = opensim.TimeSeriesTableVec3(str(path))
    assert list(table.getColumnLabels()) == NAMES
    assert table.getNumRows() == len(times)
    assert table.getTableMetaDataAsString("Units") == "m"
    np.testing.assert_allclose(list(table.getIndependentColumn()), times, atol=1e-9)
    mat = table.getMatrix()
    for i, j in [(0, 0), (12, 3), (29, 2)]:
        v = mat.getElt(i, j)
        np.testing.assert_allclose([v.get(0), v.get(1), v.get(2)], pos[i, j], atol=1e-6)
    v = mat.getElt(3, 1)
    assert np.isnan(v.get(0))


def test_trc_reader_tolerates_mm_blank_line_and_empty_cells(tmp_path) -> None:
    path = tmp_path / "mm.trc"
    path.write_text(
        "PathFileType  4\t(X/Y/Z)\tmm.trc\n"
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame"
        "\tOrigNumFrames\n"
        "60.0\t60.0\t2\t2\tmm\t60.0\t1\t2\n"
        "Frame#\tTime\tA\t\t\tB\t\t\t\n"
        "\t\tX1\tY1\tZ1\tX2\tY2\tZ2\n"
        "\n"
        "1\t0.0\t1000\t2000\t3000\t\t\t\n"
        "2\t0.0166667\t1\t2\t3\tnan\t5\t6\n"
    )
    data = read_trc(path)
    assert data.units == "mm" and data.rate_hz == 60.0 and data.marker_names == ["A", "B"]
    np.testing.assert_allclose(data.positions[0, 0], [1.0, 2.0, 3.0])
    assert np.isnan(data.positions[0, 1]).all()
    np.testing.assert_allclose(data.positions[1, 1], [np.nan, 0.005, 0.006])


def test_trc_errors(tmp_path) -> None:
    path = tmp_path / "bad.trc"
    path.write_text("hello\n")
    with pytest.raises(TrcFileError, match="bad.trc"):
        read_trc(path)
    times, pos = _markers(10)
    write_trc(path, times, NAMES, pos, 100.0)
    path.write_text(path.read_text().replace("\tm\t", "\tinches\t"))
    with pytest.raises(TrcFileError, match="Units"):
        read_trc(path)
    with pytest.raises(ValueError, match="duplicate"):
        write_trc(path, times, ["a", "a", "b", "c"], pos, 100.0)
    with pytest.raises(ValueError, match="do not match"):
        write_trc(path, times, NAMES[:3], pos, 100.0)


COLS = ["pelvis_tilt", "pelvis_tx", "knee_angle_r"]


def _coords(t_count: int = 25) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(t_count) / 100.0
    vals = np.c_[np.sin(times) * 30, times * 0.5, np.cos(times) * 60]
    vals[4, 1] = np.nan
    return times, vals


def test_mot_header_is_opensim_ik_output(tmp_path) -> None:
    times, vals = _coords()
    path = write_mot(tmp_path / "ik.mot", times, COLS, vals)
    lines = path.read_text().splitlines()
    assert lines[:10] == [
        "Coordinates",
        "version=1",
        "nRows=25",
        "nColumns=4",
        "inDegrees=yes",
        "",
        "Units are S.I. units (second, meters, Newtons, ...)",
        "If the header above contains a line with 'inDegrees', this indicates whether "
        "rotational values are in degrees (yes) or radians (no).",
        "",
        "endheader",
    ]
    assert lines[10] == "time\tpelvis_tilt\tpelvis_tx\tknee_angle_r"
    assert lines[11].split("\t")[0] == "      0.00000000"
    # OpenCap's own tests read IK output with skiprows=10
    df = pd.read_csv(path, sep="\t", skiprows=10)
    assert list(df.columns) == ["time", *COLS] and len(df) == 25


def test_mot_round_trip(tmp_path) -> None:
    times, vals = _coords()
    path = write_mot(tmp_path / "ik.mot", times, COLS, vals, in_degrees=False)
    df = read_mot(path)
    assert df.index.name == "time" and list(df.columns) == COLS
    assert df.attrs["in_degrees"] is False and df.attrs["name"] == "Coordinates"
    np.testing.assert_allclose(df.index.to_numpy(), times, atol=1e-9)
    np.testing.assert_allclose(df.to_numpy(), vals, atol=1e-7, equal_nan=True)


def test_opensim_reads_our_mot(tmp_path) -> None:
    opensim = pytest.importorskip("opensim")
    times, vals = _coords()
    path = write_mot(tmp_path / "ik.mot", times, COLS, vals)
    table = opensim.TimeSeriesTable(str(path))
    assert list(table.getColumnLabels()) == COLS
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    np.testing.assert_allclose(list(table.getIndependentColumn()), times, atol=1e-9)
    mat = table.getMatrix()
    got = np.array([[mat.getElt(i, j) for j in range(3)] for i in range(len(times))])
    np.testing.assert_allclose(got, vals, atol=1e-7, equal_nan=True)


def test_mot_reader_variants(tmp_path) -> None:
    # Sports2D: nColumns without time, no Units lines, extra header lines, spaces
    path = tmp_path / "angles.mot"
    path.write_text(
        "Sports2D angles\nversion=1\nnRows=3\nnColumns=2\ninDegrees=yes\nDataRate=30\n"
        "endheader\n"
        "time right_knee left_knee\n0.0 1.0 2.0\n0.0333 3.0 4.0\n\n0.0667 5.0 6.0\n"
    )
    df = read_mot(path)
    assert list(df.columns) == ["right_knee", "left_knee"] and len(df) == 3
    assert df.attrs["in_degrees"] is True and df.attrs["header"]["DataRate"] == "30"
    np.testing.assert_allclose(df["left_knee"], [2, 4, 6])
    # no inDegrees line → degrees assumed; trailing tab tolerated
    path.write_text("name\nendheader\ntime\ta\n0.0\t1.0\t\n0.01\t2.0\n")
    df = read_mot(path)
    assert df.attrs["in_degrees"] is True and df["a"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just some text\n", "endheader"),
        ("endheader\nfoo\tbar\n1\t2\n", "'time'"),
        ("endheader\ntime\ta\n0\t1\t2\n", "line 3 has 3 values"),
        ("endheader\ntime\ta\n0\tabc\n", "line 3"),
        ("endheader\ntime\ta\ta\n0\t1\t2\n", "duplicate"),
        ("endheader\n\n", "column-label"),
    ],
)
def test_mot_garbage_raises(tmp_path, text, message) -> None:
    path = tmp_path / "bad.mot"
    path.write_text(text)
    with pytest.raises(MotFileError, match=message) as info:
        read_mot(path)
    assert "bad.mot" in str(info.value)


def test_mot_writer_validation(tmp_path) -> None:
    times, vals = _coords()
    with pytest.raises(ValueError, match="shape"):
        write_mot(tmp_path / "x.mot", times, COLS[:2], vals)
    with pytest.raises(ValueError, match="time"):
        write_mot(tmp_path / "x.mot", times, ["time", "a", "b"], vals)
