"""Marker definition files: the shipped v1 set, structural errors, symmetry validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers_smplx import synthetic_smplx_dir

from opencapbench.keypoints import SYNTHPOSE52
from synthpose.generate.body_model import BodyModelSpec, load_smplx
from synthpose.generate.cli import generate_dataset
from synthpose.generate.pipeline import validate_markers
from synthpose.markers import (
    MarkerFileError,
    check_ranges,
    check_symmetry,
    load_marker_set,
)


def test_shipped_set_matches_the_published_model_order() -> None:
    ms = load_marker_set()
    ks = ms.keypoint_set()
    assert ks.names == SYNTHPOSE52.names
    assert ks.flip_indices == SYNTHPOSE52.flip_indices
    assert ks.upper_body == SYNTHPOSE52.upper_body
    assert ks.sigmas == SYNTHPOSE52.sigmas
    idx = {m.name: m.index for m in ms.markers if m.kind == "vertex"}
    # the fixed left indices mirror the right ones by the pelvis/foot offset 2694
    for name in ("mankle", "calc", "ankle", "5meta", "toe", "big_toe", "ASIS", "PSIS"):
        assert idx[f"r_{name}"] - idx[f"l_{name}"] == 2694, name
    assert (idx["l_mankle"], idx["l_calc"]) == (5986, 5940)
    assert ms.markers[ms.index("left_knee")].kind == "joint"


def _write(tmp_path, body: str):
    p = tmp_path / "m.yaml"
    p.write_text("format_version: 1\nname: t\nkeypoints:\n" + body)
    return p


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {name: a, vertex: 1}\n  - {name: a, vertex: 2}\n", "duplicate"),
        ("  - {name: l_x, vertex: 1, swap: r_x}\n", "does not exist"),
        ("  - {name: a, vertex: 1, joint: pelvis}\n", "exactly one"),
        ("  - {name: a, face: 3, bary: [0.5, 0.6, 0.1]}\n", "bary"),
        ("  - {name: a, joint: left_tail}\n", "unknown SMPL-X joint"),
        ("  - {name: a, vertex: 1, swap: b}\n  - {name: b, vertex: 2, swap: c}\n"
         "  - {name: c, vertex: 3, swap: b}\n", "not mutual"),
    ],
)  # fmt: skip
def test_structural_errors_name_the_problem(tmp_path, body: str, message: str) -> None:
    with pytest.raises(MarkerFileError, match=message):
        load_marker_set(_write(tmp_path, body))


def test_index_out_of_range_is_an_error(tmp_path) -> None:
    ms = load_marker_set(_write(tmp_path, "  - {name: a, vertex: 10475}\n"))
    with pytest.raises(MarkerFileError, match="10475"):
        check_ranges(ms, 10475, 20908, 55)
    declared = tmp_path / "declared.yaml"
    declared.write_text(
        "format_version: 1\nname: t\nnum_vertices: 10475\nkeypoints:\n  - {name: a, vertex: 10475}\n"
    )
    with pytest.raises(MarkerFileError, match="'a' uses vertex 10475"):
        load_marker_set(declared)


@pytest.fixture(scope="module")
def template():
    model = load_smplx(synthetic_smplx_dir(), BodyModelSpec(), dtype=torch.float64)
    v = model.v_template.numpy()
    return v, model.faces.astype(np.int64), (model.J_regressor @ model.v_template).numpy()


def test_shipped_set_is_symmetric_on_the_template(template) -> None:
    assert check_symmetry(load_marker_set(), *template) == []


def test_validator_catches_a_deliberately_asymmetric_pair(tmp_path, template) -> None:
    text = load_marker_set().source.read_text()
    bad = tmp_path / "bad.yaml"
    # l_knee moved onto the medial knee vertex: 16 cm off the mirrored r_knee
    bad.write_text(text.replace("name: l_knee, vertex: 3640", "name: l_knee, vertex: 3646"))
    with pytest.warns(UserWarning, match="l_knee/r_knee"):
        issues = check_symmetry(load_marker_set(bad), *template)
    assert [(i.left, i.right) for i in issues] == [("l_knee", "r_knee")]
    v = template[0]
    expected = np.linalg.norm(v[3646] - v[6401] * np.array([-1, 1, 1]))
    assert issues[0].distance_m == pytest.approx(expected, abs=1e-3)


def test_reference_csv_left_indices_are_flagged(shared_dir) -> None:
    csv = shared_dir / "reference/synthpose/vertices_keypoints_corr.csv"
    ms, issues = validate_markers(csv, synthetic_smplx_dir())
    assert ms.num_keypoints == 51
    flagged = {i.left for i in issues}
    assert {"l_mankle", "l_calc"} <= flagged
    # the body markers it shares with the v1 file are symmetric
    assert not flagged & {"l_ankle", "l_knee", "l_ASIS", "l_PSIS", "l_toe", "lshoulder"}


def test_validate_markers_cli_exit_codes(shared_dir) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        generate_dataset, ["validate-markers", "--smplx-dir", str(synthetic_smplx_dir())]
    )
    assert ok.exit_code == 0, ok.output
    csv = shared_dir / "reference/synthpose/vertices_keypoints_corr.csv"
    bad = runner.invoke(
        generate_dataset,
        ["validate-markers", "--smplx-dir", str(synthetic_smplx_dir()), "--markers", str(csv)],
    )
    assert bad.exit_code == 1
    assert "ASYMMETRIC l_mankle/r_mankle" in bad.output
