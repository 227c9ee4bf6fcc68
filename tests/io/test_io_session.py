"""OpenCap sessionMetadata.yaml: read the real default file, round trip, clear errors."""

from __future__ import annotations

import pytest
import yaml

from opencapbench.io.session import (
    SessionMetadata,
    SessionMetadataError,
    read_session_metadata,
    write_session_metadata,
)


@pytest.mark.shared
def test_reads_opencap_default_metadata(shared_dir, tmp_path) -> None:
    path = shared_dir / "reference" / "opensim" / "defaultSessionMetadata.yaml"
    meta = read_session_metadata(path)
    assert meta.placement == "ground" and meta.upside_down is False
    assert meta.square_side_length_mm == 60 and (meta.corners_width, meta.corners_height) == (11, 8)
    assert meta.height_m == 1.89 and meta.mass_kg == 83.2 and meta.gender_mf == "m"
    assert meta.iphone_models["Cam3"] == "iphone13,3" and len(meta.iphone_models) == 5
    assert meta.opensim_model == "LaiUhlrich2022" and meta.subject_id == "defaultSubject"
    assert meta.extra["markerAugmentationSettings"] == {"markerAugmenterModel": "LSTM"}
    # writing keeps every original key
    out = write_session_metadata(meta, tmp_path / "sessionMetadata.yaml")
    original = yaml.safe_load(path.read_text())
    written = yaml.safe_load(out.read_text())
    written["checkerBoard"].pop("upsideDown")
    assert written == original


def test_round_trip_with_upside_down(tmp_path) -> None:
    meta = SessionMetadata(
        placement="backWall",
        upside_down=True,
        height_m=1.7,
        mass_kg=65.0,
        gender_mf="f",
        iphone_models={"Cam0": "iphone12,1", "Cam1": "iphone12,1"},
        subject_id="subject3",
        extra={"checkerBoard": {"note": "x"}, "custom": [1, 2]},
    )
    path = write_session_metadata(meta, tmp_path / "s" / "sessionMetadata.yaml")
    doc = yaml.safe_load(path.read_text())
    assert doc["checkerBoard"]["upsideDown"] is True and doc["checkerBoard"]["note"] == "x"
    assert read_session_metadata(path) == meta


def test_missing_placement_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "sessionMetadata.yaml"
    path.write_text("checkerBoard:\n  squareSideLength_mm: 60\nheight_m: 1.8\n")
    with pytest.raises(
        SessionMetadataError, match=r"sessionMetadata\.yaml.*checkerBoard\.placement"
    ):
        read_session_metadata(path)
    path.write_text("height_m: 1.8\n")
    with pytest.raises(SessionMetadataError, match="checkerBoard"):
        read_session_metadata(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checkerBoard: {placement: ground}\nheight_m: -1\n", "height_m"),
        ("checkerBoard: {placement: ground, squareSideLength_mm: abc}\n", "squareSideLength"),
        ("checkerBoard: {placement: ground, upsideDown: maybe}\n", "upsideDown"),
        ("checkerBoard: [1\n", "invalid YAML"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_invalid_values(tmp_path, text, message) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(SessionMetadataError, match=message):
        read_session_metadata(path)
    with pytest.raises(SessionMetadataError, match="not found"):
        read_session_metadata(tmp_path / "absent.yaml")
