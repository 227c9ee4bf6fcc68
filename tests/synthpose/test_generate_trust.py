"""`ocb generate-dataset` and bad input: failed sources, wrong shapes, NaN frames, unsafe names
and model files (issue 11)."""

from __future__ import annotations

import json
import pickle
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from helpers_payload import CreatesFile
from helpers_smplx import synthetic_smplx_dir

from opencapbench.io.paths import UnsafePathError
from synthpose.generate.body_model import BodyModelError, BodyModelSpec, load_smplx
from synthpose.generate.cli import generate_dataset
from synthpose.generate.pipeline import _crop
from synthpose.generate.sources import BedlamSource, NpzSource, RichSource, SourceError
from synthpose.markers import MarkerFileError, load_marker_set

N = 5
K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
R_FRONT = np.diag([-1.0, 1.0, -1.0])  # camera on +z looking at the body's front
T_FRONT = np.array([0.0, 0.1, 3.2])


def _params(seed: int = 0, n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return dict(
        global_orient=0.1 * rng.standard_normal((n, 3)),
        body_pose=0.2 * rng.standard_normal((n, 63)),
        betas=rng.standard_normal((n, 10)),
        transl=0.05 * rng.standard_normal((n, 3)),
        K=K, R=R_FRONT, t=T_FRONT, image_size=np.array([1280, 720]),
    )  # fmt: skip


def _args(src, out, *extra) -> list[str]:
    return ["npz", str(src), "--smplx-dir", str(synthetic_smplx_dir()), "--out", str(out),
            "--no-occlusion", "--device", "cpu", "--quiet", *extra]  # fmt: skip


# -- wrong shapes are named -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("global_orient", np.zeros((N, 2)), rf"'global_orient' has shape \({N}, 2\), expected \({N}, 3\)"),
        ("body_pose", np.zeros((N, 60)), rf"'body_pose' has shape \({N}, 60\), expected \({N}, 63\)"),
        ("transl", np.zeros((N - 2, 3)), rf"'transl' has shape \({N - 2}, 3\), expected \({N}, 3\)"),
        ("jaw_pose", np.zeros((N, 3, 3)), rf"'jaw_pose' has shape \({N}, 3, 3\)"),
        ("left_hand_pose", np.zeros((N - 1, 45)), r"'left_hand_pose' has shape"),
        ("image_names", np.array(["a.png"] * (N + 1)), rf"'image_names' has shape \({N + 1},\)"),
    ],
)  # fmt: skip
def test_wrong_shapes_name_the_file_and_key(tmp_path, key, value, expected) -> None:
    path = tmp_path / "seq.npz"
    np.savez(path, **{**_params(), key: value})
    with pytest.raises(SourceError, match=rf"seq\.npz: key {expected}"):
        next(iter(NpzSource(path).read("seq.npz")))


def test_rich_body_with_a_wrong_width_names_the_key(tmp_path) -> None:
    seq = tmp_path / "bodies" / "train" / "Gym_013_pushup1" / "00000"
    seq.mkdir(parents=True)
    body = dict(betas=np.zeros((1, 10)), global_orient=np.zeros((1, 3)),
                body_pose=np.zeros((1, 60)), transl=np.zeros((1, 3)),
                left_hand_pose=np.zeros((1, 12)), right_hand_pose=np.zeros((1, 12)))  # fmt: skip
    (seq / "013.pkl").write_bytes(pickle.dumps(body))
    with pytest.raises(SourceError, match=r"013\.pkl: key 'body_pose' has shape \(1, 60\)"):
        RichSource._load(seq / "013.pkl")


def test_a_failed_source_makes_the_command_fail_but_keeps_the_rest(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    np.savez(src / "good.npz", **_params(1))
    np.savez(src / "short.npz", **{**_params(2), "transl": np.zeros((2, 3))})
    out = tmp_path / "out"
    result = CliRunner().invoke(generate_dataset, _args(src, out))
    assert result.exit_code == 1, result.output
    assert "1 source files done, 0 resumed, 1 failed" in result.output
    failed = pd.read_csv(out / "failures.csv").set_index("item")["message"]
    assert (
        list(failed.index) == ["short.npz"] and "'transl' has shape (2, 3)" in failed["short.npz"]
    )
    doc = json.loads((out / "annotations" / "train.json").read_text())
    assert {im["source"] for im in doc["images"]} == {"good.npz"} and len(doc["images"]) == N


# -- NaN frames are reported, not dropped silently ---------------------------------------------


def test_nan_frame_is_reported_and_the_others_are_kept(tmp_path, caplog) -> None:
    params = _params(3)
    clean_out, nan_out = tmp_path / "clean", tmp_path / "nan"
    np.savez(tmp_path / "seq.npz", **params)
    clean = CliRunner().invoke(generate_dataset, _args(tmp_path / "seq.npz", clean_out))
    assert clean.exit_code == 0, clean.output
    assert not (clean_out / "skipped_frames.json").exists()
    bad = {**params, "body_pose": params["body_pose"].copy(), "t": np.tile(T_FRONT, (N, 1))}
    bad["body_pose"][2, 7] = np.nan
    bad["t"][4, 0] = np.inf
    np.savez(tmp_path / "seq.npz", **bad)
    result = CliRunner().invoke(generate_dataset, _args(tmp_path / "seq.npz", nan_out))
    assert result.exit_code == 0, result.output
    assert "2 frame(s) of 1 source file(s) skipped: NaN/inf parameters" in result.output
    assert "seq.npz: 2 frame(s) skipped, their parameters hold NaN/inf" in caplog.text
    ledger = json.loads((nan_out / "skipped_frames.json").read_text())
    assert ledger == {"seq.npz": {"2": ["body_pose"], "4": ["camera t"]}}
    want = json.loads((clean_out / "annotations" / "train.json").read_text())
    got = json.loads((nan_out / "annotations" / "train.json").read_text())
    kept = [im for im in want["images"] if im["frame"] not in (2, 4)]
    assert [im["frame"] for im in got["images"]] == [0, 1, 3]
    by_frame = {im["id"]: im["frame"] for im in want["images"]}
    want_kp = {by_frame[a["image_id"]]: a["keypoints"] for a in want["annotations"]}
    got_frame = {im["id"]: im["frame"] for im in got["images"]}
    for a in got["annotations"]:  # the other frames are exactly as without the bad ones
        assert a["keypoints"] == want_kp[got_frame[a["image_id"]]]
    assert len(kept) == 3


# -- names read from files ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "frames/../../x.png"])
def test_image_names_that_leave_the_image_root_fail_the_source(tmp_path, bad) -> None:
    names = [f"frames/{i}.png" for i in range(N)]
    names[3] = bad
    names = np.array(names)
    np.savez(tmp_path / "seq.npz", **_params(), image_names=names)
    message = rf"invalid image_names\[3\] in .*seq\.npz: '{re.escape(bad)}'"
    with pytest.raises(UnsafePathError, match=message):
        next(iter(NpzSource(tmp_path / "seq.npz").read("seq.npz")))


def test_bedlam_imgname_that_leaves_the_folder_is_refused(tmp_path) -> None:
    names = np.array(["seq_000000.png", "../../seq_000006.png"])
    np.savez(tmp_path / "scene.npz", imgname=names, pose_cam=np.zeros((2, 165)),
             shape=np.zeros((2, 11)), trans_cam=np.zeros((2, 3)), cam_int=np.stack([K, K]),
             cam_ext=np.stack([np.eye(4), np.eye(4)]))  # fmt: skip
    with pytest.raises(UnsafePathError, match=r"invalid imgname\[1\] in .*scene\.npz"):
        next(iter(BedlamSource(tmp_path / "scene.npz").read("scene.npz")))


def test_crop_refuses_a_file_name_outside_the_image_root(tmp_path) -> None:
    with pytest.raises(UnsafePathError, match="invalid image file_name"):
        _crop(tmp_path, "../x.png", np.array([0, 0, 5, 5]), 1.25, tmp_path / "c.png")


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs_markers", "a/b"])
def test_marker_set_name_that_leaves_out_is_refused(tmp_path, name) -> None:
    markers = tmp_path / "m.yaml"
    markers.write_text(
        f'format_version: 1\nname: "{name}"\nkeypoints:\n  - {{name: neck, joint: neck}}\n'
    )
    with pytest.raises(MarkerFileError, match=rf"invalid marker set name in {markers}"):
        load_marker_set(markers)
    np.savez(tmp_path / "seq.npz", **_params())
    out = tmp_path / "work" / "out"
    result = CliRunner().invoke(
        generate_dataset, _args(tmp_path / "seq.npz", out, "--markers", str(markers))
    )
    assert result.exit_code == 1 and "invalid marker set name" in result.output
    assert not out.exists() and not (tmp_path / "escaped_metainfo.json").exists()


def test_split_name_is_one_folder(tmp_path) -> None:
    np.savez(tmp_path / "seq.npz", **_params())
    result = CliRunner().invoke(
        generate_dataset, _args(tmp_path / "seq.npz", tmp_path / "o", "--split", "../up")
    )
    assert result.exit_code == 1 and "invalid split name (--split): '../up'" in result.output


# -- SMPL-X model files with object arrays ----------------------------------------------------


def test_smplx_npz_with_an_object_array_is_refused_before_smplx_loads_it(tmp_path) -> None:
    marker = tmp_path / "pwned"
    models = tmp_path / "models"
    models.mkdir()
    with np.load(synthetic_smplx_dir() / "SMPLX_NEUTRAL.npz") as real:
        arrays = {k: real[k] for k in real.files}
    arrays["kintree_table"] = np.array([CreatesFile(marker)], dtype=object)
    np.savez(models / "SMPLX_NEUTRAL.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"SMPLX_NEUTRAL\.npz: key 'kintree_table' holds Python objects"):  # fmt: skip
        load_smplx(models, BodyModelSpec(), dtype=torch.float32)
    assert not marker.exists()


def test_numeric_smplx_npz_still_loads(tmp_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(synthetic_smplx_dir() / "SMPLX_NEUTRAL.npz", models)
    model = load_smplx(models, BodyModelSpec(), dtype=torch.float64)
    assert tuple(model.v_template.shape) == (10475, 3)
