"""A Pose2Sim calibration (Z up, Pose2Sim camera names) in a session gives the angles of
OpenCap's pickles; a TOML that does not state its world frame is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.benchmark.runner import run_benchmark
from opencapbench.cli import main
from opencapbench.geometry.frames import POSE2SIM_TO_OPENSIM, placement_rotation
from opencapbench.io.calibration import read_opencap_calibration, read_toml_calibration
from opencapbench.io.mot import read_mot
from opencapbench.io.opencap_layout import DatasetLayoutError, map_camera_names
from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow
SESSION = "subject1/VideoData/Session0"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("p2s")
    generate_synthetic_dataset(
        root, trials=("squats1",), n_cameras=3, duration_s=0.6, noise_px=1.0, progress=False
    )
    return root


def _run(root: Path, out: Path, **kw):
    return run_benchmark(
        BenchmarkConfig(root, out, keypoint_store=root / "keypoints", workers=1, plots=False, **kw)
    )


def test_pose2sim_toml_gives_the_angles_of_the_pickles(dataset, tmp_path) -> None:
    native = _run(dataset, tmp_path / "native")
    assert native.failures.empty
    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    session = root / SESSION
    toml = session / "calibration.toml"
    result = CliRunner().invoke(main, ["convert-calibration", str(session), str(toml)])
    assert result.exit_code == 0, result.output
    # Pose2Sim's conventions: cameras cam01..cam03 (counting from 1), world Z up
    text = toml.read_text()
    for i, cam in enumerate(("Cam1", "Cam2", "Cam3")):
        text = text.replace(f"[{cam}]", f"[cam0{i + 1}]").replace(f'"{cam}"', f'"cam0{i + 1}"')
    toml.write_text(text)
    cams = {c.name: c for c in read_toml_calibration(toml)}
    board = read_opencap_calibration(session / "Cam1/cameraIntrinsicsExtrinsics.pickle")
    centre_board = -board.R.T @ board.t
    centre_zup = -cams["cam01"].R.T @ cams["cam01"].t
    A = POSE2SIM_TO_OPENSIM.T @ placement_rotation("backWall")
    np.testing.assert_allclose(centre_zup, A @ centre_board, atol=1e-9)
    assert centre_zup[2] > 0.5  # the phones are above the floor: Z is up
    for cam in ("Cam1", "Cam2", "Cam3"):
        (session / cam / "cameraIntrinsicsExtrinsics.pickle").unlink()

    converted = _run(root, tmp_path / "converted")
    assert converted.failures.empty, converted.failures.to_string()
    a = read_mot(tmp_path / "native/ik/subject1/squats1.mot")
    b = read_mot(tmp_path / "converted/ik/subject1/squats1.mot")
    dofs = [c for c in a.columns if not c.endswith(("_tx", "_ty", "_tz"))]
    assert np.abs(a[dofs].to_numpy() - b[dofs].to_numpy()).max() < 0.01


def test_toml_of_unknown_frame_is_refused(dataset, tmp_path) -> None:
    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    session = root / SESSION
    toml = session / "calibration.toml"
    args = ["convert-calibration", "--world-frame", "checkerboard", str(session), str(toml)]
    assert CliRunner().invoke(main, args).exit_code == 0
    toml.write_text(toml.read_text().replace('world_frame = "checkerboard"\n', ""))
    for cam in ("Cam1", "Cam2", "Cam3"):
        (session / cam / "cameraIntrinsicsExtrinsics.pickle").unlink()
    refused = _run(root, tmp_path / "refused")
    assert list(refused.failures["error"]) == ["CalibrationError"]
    assert "world_frame" in refused.failures["message"].iloc[0]
    stated = _run(root, tmp_path / "stated", toml_frame="checkerboard")
    assert stated.failures.empty


def test_camera_names_map_by_name_or_number_and_a_mismatch_names_both_lists() -> None:
    folders = ["Cam0", "Cam1", "Cam2"]
    assert map_camera_names(["cam0", "CAM1"], folders) == {"cam0": "Cam0", "CAM1": "Cam1"}
    assert map_camera_names(["cam01", "cam03"], folders) == {"cam01": "Cam0", "cam03": "Cam2"}
    assert map_camera_names(["cam_00", "cam_02"], folders) == {"cam_00": "Cam0", "cam_02": "Cam2"}
    assert map_camera_names(["int_cam01_img", "int_cam02_img"], folders) == {
        "int_cam01_img": "Cam0", "int_cam02_img": "Cam1",
    }  # fmt: skip
    with pytest.raises(
        DatasetLayoutError, match=r"\['left', 'right'\].*\['Cam0', 'Cam1', 'Cam2'\]"
    ):
        map_camera_names(["left", "right"], folders)
