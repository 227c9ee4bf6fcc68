"""Issue 11, data files: no code runs from pickles, and no name read from a file leaves its folder.

Each payload is a harmless stand-in (:mod:`helpers_payload`): unpickling it would create a file,
so every refusal test also checks that the file does not exist.
"""

from __future__ import annotations

import os
import pickle
import stat
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from helpers_payload import write_payload

from opencapbench.camera import Camera
from opencapbench.cli import main
from opencapbench.io.atomic import atomic_write
from opencapbench.io.calibration import (
    read_opencap_calibration,
    read_toml_calibration,
    rodrigues_to_matrix,
    write_opencap_calibration,
    write_toml_calibration,
)
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.io.opencap_pose import import_opencap_pickle
from opencapbench.io.paths import UnsafePathError, safe_component, safe_relative
from opencapbench.io.pickles import TRUST_ENV, UnsafePickleError
from synthpose.generate.sources import RichSource

CALIB = "cameraIntrinsicsExtrinsics.pickle"


@pytest.fixture(autouse=True)
def _untrusted(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def _camera(name: str = "Cam0", seed: int = 0) -> Camera:
    rng = np.random.default_rng(seed)
    K = np.array([[913.2, 0.0, 366.5], [0.0, 913.5, 638.5], [0.0, 0.0, 1.0]])
    R = rodrigues_to_matrix(rng.normal(size=3))
    return Camera(name, K, [0.12, -0.28, 1e-4, -3e-4, 0.0], R, rng.normal(size=3), (720, 1280))


def _calibration_fields(cam: Camera) -> dict:
    return {
        "intrinsicMat": cam.K,
        "distortion": np.asarray(cam.dist).reshape(1, 5),
        "imageSize": np.array([[1280.0], [720.0]]),
        "rotation": cam.R,
        "translation": cam.t.reshape(3, 1) * 1000.0,
    }


# -- pickles ---------------------------------------------------------------------------------


def test_malicious_calibration_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = write_payload(tmp_path / "Cam0" / CALIB, marker, _calibration_fields(_camera()))
    with pytest.raises(UnsafePickleError, match=rf"{path}: refused.*(builtins|io)\.open"):
        read_opencap_calibration(path)
    assert not marker.exists()


def test_convert_calibration_refuses_a_malicious_pickle(tmp_path) -> None:
    marker = tmp_path / "pwned"
    session = tmp_path / "Session0"
    write_opencap_calibration(_camera("Cam0"), session / "Cam0" / CALIB)
    evil = write_payload(session / "Cam1" / CALIB, marker, _calibration_fields(_camera("Cam1")))
    out = tmp_path / "calib.toml"
    result = CliRunner().invoke(main, ["convert-calibration", str(session), str(out)])
    assert result.exit_code == 1, result.output
    assert f"error: UnsafePickleError: {evil}: refused" in result.output
    assert "--trust-pickles" in result.output
    assert not marker.exists() and not out.exists()


def test_convert_calibration_trusts_a_legacy_pickle_on_request(tmp_path) -> None:
    cam = _camera("Cam0")
    fields = {**_calibration_fields(cam), "note": Fraction(1, 3)}  # not numpy: needs trust
    path = tmp_path / "Session0" / "Cam0" / CALIB
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(fields))
    out = tmp_path / "calib.toml"
    args = ["convert-calibration", "--world-frame", "checkerboard"]
    refused = CliRunner().invoke(main, [*args, str(path.parents[1]), str(out)])
    assert refused.exit_code == 1 and "fractions.Fraction" in refused.output
    result = CliRunner().invoke(main, [*args, "--trust-pickles", str(path.parents[1]), str(out)])
    assert result.exit_code == 0, result.output
    assert f"WARNING {path}: loading this calibration file with plain pickle" in result.output
    (back,) = read_toml_calibration(out)
    np.testing.assert_allclose(back.R, cam.R, atol=1e-9)
    np.testing.assert_allclose(back.t, cam.t, atol=1e-12)


def test_malicious_pose_pickle_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = write_payload(tmp_path / "pose.pkl", marker)
    with pytest.raises(UnsafePickleError, match=rf"{path}: refused to load this pose pickle"):
        import_opencap_pickle(path, "coco17", 60.0, (720, 1280))
    assert not marker.exists()
    store = tmp_path / "store"
    args = ["import-keypoints", str(path), "--format", "opencap", "--store", str(store),
            "--subject", "s", "--trial", "t", "--camera", "Cam0", "--keypoint-set", "coco17",
            "--fps", "60", "--image-size", "720", "1280"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "UnsafePickleError" in result.output
    assert not marker.exists() and not store.exists()


def test_import_keypoints_trust_pickles_flag(tmp_path) -> None:
    # a frame dict holding a value that is not numpy data needs trust
    frame = [{"pose_keypoints_2d": np.arange(51, dtype=float), "note": Fraction(1, 2)}]
    path = tmp_path / "pose.pkl"
    path.write_bytes(pickle.dumps([frame, frame]))
    store = tmp_path / "store"
    args = ["import-keypoints", str(path), "--format", "opencap", "--store", str(store),
            "--subject", "s", "--trial", "t", "--camera", "Cam0", "--keypoint-set", "coco17",
            "--fps", "60", "--image-size", "720", "1280"]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 1
    result = CliRunner().invoke(main, [*args, "--trust-pickles"])
    assert result.exit_code == 0, result.output
    assert store_path(store, "s", "Session0", "t", "Cam0").is_file()


def _rich_root(tmp_path, body: dict | None, marker=None):
    seq = tmp_path / "rich" / "bodies" / "train" / "Gym_013_pushup1" / "00000"
    calib = tmp_path / "rich" / "scan_calibration" / "Gym" / "calibration"
    calib.mkdir(parents=True)
    (calib / "003.xml").write_text(
        "<opencv_storage><CameraMatrix><rows>3</rows><cols>4</cols><data>"
        "1 0 0 0 0 1 0 0 0 0 1 3</data></CameraMatrix><Intrinsics><rows>3</rows><cols>3</cols>"
        "<data>1000 0 2056 0 1000 1504 0 0 1</data></Intrinsics></opencv_storage>"
    )
    if marker is not None:
        write_payload(seq / "013.pkl", marker, body)
    else:
        seq.mkdir(parents=True)
        (seq / "013.pkl").write_bytes(pickle.dumps(body))
    return tmp_path / "rich"


def _rich_body() -> dict:
    return dict(betas=np.zeros((1, 10)), global_orient=np.zeros((1, 3)),
                body_pose=np.zeros((1, 63)), transl=np.zeros((1, 3)),
                left_hand_pose=np.zeros((1, 12)), right_hand_pose=np.zeros((1, 12)))  # fmt: skip


def test_malicious_rich_body_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    root = _rich_root(tmp_path, _rich_body(), marker)
    src = RichSource(root)
    (unit,) = src.units()
    with pytest.raises(UnsafePickleError, match=r"013\.pkl: refused to load this body pickle"):
        next(iter(src.read(unit)))
    assert not marker.exists()


def test_rich_body_with_numpy_arrays_loads_and_trust_admits_others(tmp_path) -> None:
    body = {**_rich_body(), "transl": np.array([[0.1, 0.2, 0.3]]), "note": Fraction(2, 3)}
    root = _rich_root(tmp_path, body)
    (unit,) = RichSource(root).units()
    with pytest.raises(UnsafePickleError, match="fractions.Fraction"):
        next(iter(RichSource(root).read(unit)))
    batch = next(iter(RichSource(root, trust_pickles=True).read(unit)))
    np.testing.assert_allclose(batch.params.transl.numpy(), [[0.1, 0.2, 0.3]])


def test_benchmark_trial_inputs_refuse_a_malicious_calibration(tmp_path, monkeypatch) -> None:
    from opencapbench.benchmark.config import BenchmarkConfig
    from opencapbench.benchmark.trial_inputs import load_trial_inputs
    from opencapbench.io.opencap_layout import discover_trials
    from opencapbench.synthetic import generate_synthetic_dataset

    data = tmp_path / "data"
    generate_synthetic_dataset(data, subjects=1, trials=("walking1",), n_cameras=2,
                               duration_s=0.2, seed=1, progress=False)  # fmt: skip
    (trial,) = discover_trials(data)
    cfg = BenchmarkConfig(
        data_dir=data, out_dir=tmp_path / "out", keypoint_store=data / "keypoints"
    )
    session = trial.session_dir
    cams = sorted(p.name for p in session.glob("Cam*"))
    calib = session / cams[-1] / CALIB
    fields = pickle.loads(calib.read_bytes())
    marker = tmp_path / "pwned"
    write_payload(calib, marker, fields)
    with pytest.raises(UnsafePickleError, match=rf"{calib}: refused"):
        load_trial_inputs(trial, cfg)
    assert not marker.exists()
    # a legacy file with a harmless extra object loads once the user opts in
    calib.write_bytes(pickle.dumps({**fields, "note": Fraction(1, 3)}))
    with pytest.raises(UnsafePickleError, match="fractions.Fraction"):
        load_trial_inputs(trial, cfg)
    monkeypatch.setenv(TRUST_ENV, "1")
    cameras, _ = load_trial_inputs(trial, cfg)
    np.testing.assert_allclose(cameras[-1].t, fields["translation"].ravel() / 1000.0)


# -- names that become path components ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "/etc", "C:", "x\0y"])
def test_safe_component_refuses_anything_but_one_name(bad) -> None:
    with pytest.raises(UnsafePathError, match="invalid camera name in f.toml"):
        safe_component(bad, "camera name in f.toml")


def test_safe_component_accepts_ordinary_names() -> None:
    for good in ("Cam0", "subject2", "walking 1", "synthpose_markers_v1", "a.b-c"):
        assert safe_component(good, "name") == good


@pytest.mark.parametrize(
    "bad", ["", ".", "../img.png", "a/../../img.png", "/abs/img.png", "..\\img.png",
            "C:\\img.png", "\\\\server\\share\\img.png", "C:img.png"],
)  # fmt: skip
def test_safe_relative_refuses_paths_that_leave_the_root(tmp_path, bad) -> None:
    with pytest.raises(UnsafePathError, match=r"invalid image_names\[3\] in x\.npz"):
        safe_relative(bad, tmp_path, "image_names[3] in x.npz")


def test_safe_relative_joins_inside_the_root(tmp_path) -> None:
    assert safe_relative("seq/000001.png", tmp_path, "n") == tmp_path / "seq" / "000001.png"
    assert safe_relative("seq\\a.png", tmp_path, "n") == tmp_path / "seq" / "a.png"
    assert safe_relative("./seq/a..b.png", None, "n").as_posix() == "seq/a..b.png"


def test_store_path_uses_the_shared_check(tmp_path) -> None:
    with pytest.raises(UnsafePathError, match="invalid trial name for the keypoint store"):
        store_path(tmp_path, "s", "S0", "../x", "Cam0")


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute_cam", "."])
def test_convert_calibration_refuses_camera_names_that_leave_dest(tmp_path, name) -> None:
    toml = tmp_path / "in" / "evil.toml"
    toml.parent.mkdir()
    write_toml_calibration([_camera("Cam0"), _camera("placeholder", seed=1)], toml)
    toml.write_text(toml.read_text().replace('name = "placeholder"', f'name = "{name}"'))
    assert [c.name for c in read_toml_calibration(toml)] == ["Cam0", name]
    dest = tmp_path / "work" / "out"
    before = {p for p in tmp_path.rglob("*")}
    args = ["convert-calibration", "--world-frame", "checkerboard", str(toml), str(dest)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"error: UnsafePathError: invalid camera name in {toml}: {name!r}" in result.output
    assert {p for p in tmp_path.rglob("*")} == before  # nothing written, not even Cam0
    assert not (tmp_path / "escaped").exists()


def test_convert_calibration_writes_each_camera_folder(tmp_path) -> None:
    toml = tmp_path / "c.toml"
    write_toml_calibration([_camera("Cam0"), _camera("Cam1", seed=1)], toml)
    result = CliRunner().invoke(
        main,
        ["convert-calibration", "--world-frame", "checkerboard", str(toml), str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    back = read_opencap_calibration(tmp_path / "out" / "Cam1" / CALIB)
    np.testing.assert_allclose(back.R, _camera("Cam1", seed=1).R, atol=1e-9)


# -- output permissions ------------------------------------------------------------------------


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_results_are_group_and_other_readable_under_umask_022(tmp_path, umask) -> None:
    umask(0o022)
    toml = write_toml_calibration([_camera()], tmp_path / "results" / "calib.toml")
    kp = Keypoints2D.empty(3, "coco17", 60.0, (720, 1280))
    npz = kp.save(tmp_path / "results" / "Cam0.npz")  # written by name through atomic_path
    for path in (toml, npz):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o644, (path, oct(mode))
    assert not [p for p in (tmp_path / "results").iterdir() if p.name.startswith(".")]
    umask(0o077)  # a private umask is honoured too
    with atomic_write(tmp_path / "private.txt") as fh:
        fh.write("x")
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_failed_atomic_write_leaves_nothing(tmp_path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


# -- YAML from data files ------------------------------------------------------------------------

_YAML_PAYLOAD = "!!python/object/apply:builtins.open ['{marker}', 'w']"


def test_yaml_python_tags_are_refused_not_run(tmp_path) -> None:
    from opencapbench.io.session import SessionMetadataError, read_session_metadata
    from synthpose.markers import MarkerFileError, load_marker_set

    marker = tmp_path / "pwned"
    session = tmp_path / "sessionMetadata.yaml"
    session.write_text(f"checkerBoard: {{placement: ground}}\nsubjectID: {_YAML_PAYLOAD.format(marker=marker)}\n")  # fmt: skip
    with pytest.raises(SessionMetadataError, match=r"sessionMetadata\.yaml: invalid YAML"):
        read_session_metadata(session)
    markers = tmp_path / "m.yaml"
    markers.write_text(f"format_version: 1\nname: {_YAML_PAYLOAD.format(marker=marker)}\n")
    with pytest.raises(MarkerFileError, match=r"m\.yaml: not valid YAML"):
        load_marker_set(markers)
    assert not marker.exists()


def test_unknown_checkerboard_placement_names_the_file(tmp_path) -> None:
    from opencapbench.io.session import SessionMetadataError, read_session_metadata

    path = tmp_path / "sessionMetadata.yaml"
    path.write_text("checkerBoard: {placement: ceiling}\n")
    with pytest.raises(SessionMetadataError) as info:
        read_session_metadata(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown checkerBoard.placement 'ceiling'")
    assert "backWall_largeCB" in message and "ground_jumps" in message
    path.write_text("checkerBoard: {placement: backWall_largeCB}\n")
    assert read_session_metadata(path).placement == "backWall_largeCB"
