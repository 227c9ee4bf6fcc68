"""``ocb infer`` end to end: tiny HRNet (opencapbench.pose) + tiny RT-DETR, and file boxes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from opencapbench.cli import main
from opencapbench.inference.testing import (
    draw_person,
    make_tiny_rtdetr,
    make_tiny_vitpose,
    person_box,
    torch_threads,
    write_synthetic_video,
)
from opencapbench.inference.video import VideoSource
from opencapbench.io.keypoint_store import Keypoints2D

REPO = Path(__file__).resolve().parents[2]
TINY_HRNET = REPO / "configs" / "pose" / "tiny_hrnet_test.py"
SIZE = (160, 120)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("infer_cli")
    bad = root / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)  # header, no movie
    return {
        "good": write_synthetic_video(root / "walk.mp4", 6, SIZE, fourcc="MJPG"),
        "bad": bad,
        "rtdetr": make_tiny_rtdetr(root / "rtdetr"),
        "vitpose": make_tiny_vitpose(root / "vitpose"),
    }


def test_corrupt_video_fails_named_while_good_one_is_processed(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [
        "infer", str(inputs["bad"]), str(inputs["good"]),
        "-m", str(TINY_HRNET), "--detector", str(inputs["rtdetr"]), "--det-threshold", "0",
        "--det-interval", "2", "--overlay", "video", "--table", "csv", "-o", str(out), "--no-progress",
        "--kpt-thr", "0.1", "--overlay-color", "score", "--pose2sim-config", str(out / "skel.toml"),
    ]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert "FAILED broken" in res.output and "VideoReadError" in res.output
    summary = json.loads((out / "summary.json").read_text())["inputs"]
    assert [(r["name"], r["ok"]) for r in summary] == [("broken", False), ("walk", True)]
    assert "broken.mp4" in summary[0]["error"]

    doc = json.loads((out / "walk.keypoints.json").read_text())
    store = Keypoints2D.load(out / "walk.npz")
    table = pd.read_csv(out / "walk.keypoints.csv")
    assert doc["num_frames"] == store.num_frames == 6 and doc["keypoint_set"] == "coco17"
    assert len(list((out / "walk_json").glob("walk_*.json"))) == 6
    assert VideoSource(out / "walk.overlay.mp4").num_frames == 6
    skeleton = (out / "skel.toml").read_text()  # the model's coco17 points, for Pose2Sim
    assert all(f"id = {i}\n" in skeleton for i in range(17)) and "id = 17\n" not in skeleton
    # the three outputs carry the same numbers
    kp_json = np.array([[p["keypoints"] for p in f["people"]] for f in doc["frames"]], dtype=float)
    np.testing.assert_allclose(kp_json, store.keypoints, atol=1e-3)
    last = table[(table.frame == 5) & (table.person == 0)].sort_values("keypoint_index")
    np.testing.assert_allclose(last[["x", "y"]].to_numpy(), store.keypoints[5, 0], atol=1e-3)
    np.testing.assert_allclose(last.score.to_numpy(), store.scores[5, 0], atol=1e-3)


def test_image_folder_with_boxes_file(inputs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"shot{i}.png"), draw_person(i, SIZE))
    frames = [{"frame": i, "boxes": [list(person_box(i, SIZE)) + [0.7]]} for i in (0, 2)]
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"frames": frames}))
    out = tmp_path / "out"
    args = [
        "infer",
        str(folder),
        "-m",
        str(inputs["vitpose"]),
        "--boxes",
        str(boxes),
        "-o",
        str(out),
        "--no-progress",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "shots.keypoints.json").read_text())
    assert [f["image"] for f in doc["frames"]] == ["shot0.png", "shot1.png", "shot2.png"]
    assert doc["frames"][1]["people"] == []  # frame 1 has no box in the file
    assert doc["frames"][2]["people"][0]["bbox"] == pytest.approx(
        list(person_box(2, SIZE)) + [0.7], abs=1e-3
    )
    assert doc["boxes"] == "file"


def test_unknown_model_is_a_clear_error(inputs: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["infer", str(inputs["good"]), "-m", "no-such-model", "-o", str(tmp_path), "--no-progress"],
    )
    assert res.exit_code == 1
    assert "unknown pose model 'no-such-model'" in res.output and "synthpose-hrnet48" in res.output


def test_fp16_on_cpu_and_out_of_range_numbers_are_refused_up_front(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    base = ["infer", str(inputs["good"]), "-o", str(tmp_path / "o"), "--no-progress"]
    res = CliRunner().invoke(main, [*base, "--device", "cpu", "--amp", "fp16"])
    assert res.exit_code == 1 and "fp16 autocast needs CUDA" in res.output
    assert not (tmp_path / "o").exists()  # refused before any input was processed
    for bad in (["--det-threshold", "1.5"], ["--det-interval", "0"], ["--batch-size", "-1"]):
        res = CliRunner().invoke(main, [*base, *bad])
        assert res.exit_code == 2 and bad[0] in res.output, bad


def test_unreadable_image_and_short_video_are_recorded_and_a_rerun_resumes(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"shot{i}.png"), draw_person(i, SIZE))
    (folder / "shot1.png").write_bytes(b"not a png")  # one unreadable image
    full = write_synthetic_video(tmp_path / "long.avi", 12, SIZE, fourcc="MJPG")
    short = tmp_path / "short.avi"
    short.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # header says 12 frames
    header_frames = VideoSource(short).num_frames
    out = tmp_path / "out"
    args = ["infer", str(folder), str(short), "-m", str(TINY_HRNET), "--detector",
            str(inputs["rtdetr"]), "--det-threshold", "0", "-o", str(out), "--no-progress"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "2/2 inputs processed (0 reused" in res.output
    shots = Keypoints2D.load(out / "shots.npz")
    assert shots.num_frames == 3
    assert np.isnan(shots.keypoints[1]).all() and (shots.scores[1] == 0).all()
    summary = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["inputs"]}
    assert any("shot1.png" in w for w in summary["shots"]["warnings"])
    decoded = Keypoints2D.load(out / "short.npz").num_frames
    assert header_frames == 12 and 0 < decoded < 12
    assert summary["short"]["frames"] == decoded
    assert any(f"counts 12 frames but {decoded} decode" in w for w in summary["short"]["warnings"])
    stamp = (out / "short.npz").stat().st_mtime_ns
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "(2 reused" in again.output, again.output
    assert (out / "short.npz").stat().st_mtime_ns == stamp
