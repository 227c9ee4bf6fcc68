"""Frame sources, the background decode thread and the boxes-file reader."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from opencapbench.inference.boxes_file import read_boxes_file
from opencapbench.inference.errors import BoxesFileError, VideoReadError
from opencapbench.inference.video import ImageSource, VideoSource, collect_inputs, prefetch


def write_gray_ramp(path: Path, n: int, fourcc: str) -> None:
    """Frame i is uniformly gray at level 10 + 20 i (survives lossy codecs)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (64, 48))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((48, 64, 3), 10 + 20 * i, np.uint8))
    writer.release()


@pytest.mark.parametrize(("fourcc", "suffix"), [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_video_reader_frame_count_and_order(tmp_path: Path, fourcc: str, suffix: str) -> None:
    path = tmp_path / f"ramp{suffix}"
    write_gray_ramp(path, 9, fourcc)
    src = VideoSource(path)
    assert src.image_size == (64, 48)
    assert src.fps == pytest.approx(25.0)
    assert src.num_frames == 9
    frames = list(prefetch(iter(src), maxsize=2))
    assert [i for i, _ in frames] == list(range(9))
    levels = np.array([f.mean() for _, f in frames])
    # colour conversion shifts levels by a few units; the 20-level steps fix the order
    np.testing.assert_allclose(levels, 10 + 20 * np.arange(9), atol=6)


def test_corrupt_and_missing_videos_raise_named_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match="bad.mp4"):
        VideoSource(bad)
    with pytest.raises(VideoReadError, match="not found"):
        VideoSource(tmp_path / "missing.mp4")


def test_image_folder_is_naturally_sorted_and_checks_sizes(tmp_path: Path) -> None:
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((20, 30, 3), i, np.uint8))
    jobs = collect_inputs([tmp_path])
    assert len(jobs) == 1
    name, paths = jobs[0]
    src = ImageSource(paths, name)
    assert src.frame_names == ["img1.png", "img2.png", "img10.png"]
    assert [int(f[0, 0, 0]) for _, f in src] == [1, 2, 10]
    cv2.imwrite(str(tmp_path / "img11.png"), np.zeros((21, 30, 3), np.uint8))
    src = ImageSource(collect_inputs([tmp_path])[0][1], name)
    # an image of another size does not sink the sequence: its frame is kept, empty, and named
    frames = [int(f[0, 0, 0]) for _, f in src]
    assert frames == [1, 2, 10, 0] and src.unreadable == [3]


def test_prefetch_reraises_producer_errors_after_good_items() -> None:
    def items():
        yield 1
        yield 2
        raise RuntimeError("decode failed")

    seen = []
    with pytest.raises(RuntimeError, match="decode failed"):
        for x in prefetch(items(), maxsize=1):
            seen.append(x)
    assert seen == [1, 2]


def test_boxes_file_json_and_csv_agree(tmp_path: Path) -> None:
    doc = {
        "frames": [
            {"frame": 0, "boxes": [[10, 20, 110, 220, 0.9], [0, 0, 5, 5, 0.2]]},
            {"frame": 3, "boxes": [[12, 20, 112, 220]]},
        ]
    }
    (tmp_path / "b.json").write_text(json.dumps(doc))
    (tmp_path / "b.csv").write_text(
        "frame,x1,y1,x2,y2,score\n0,10,20,110,220,0.9\n0,0,0,5,5,0.2\n3,12,20,112,220,1.0\n"
    )
    from_json = read_boxes_file(tmp_path / "b.json")
    from_csv = read_boxes_file(tmp_path / "b.csv")
    assert sorted(from_json) == sorted(from_csv) == [0, 3]
    for f in (0, 3):
        np.testing.assert_allclose(from_json[f], from_csv[f])
    np.testing.assert_allclose(from_json[3], [[12, 20, 112, 220, 1.0]])  # score defaults to 1


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("x.json", '{"frames": [{"frame": 0}]}', "frames\\[0\\]"),
        ("x.json", '{"frames": [{"frame": 0, "boxes": [[5, 5, 1, 1]]}]}', "x2 > x1"),
        ("x.csv", "frame,x1,y1\n0,1,2\n", "missing columns"),
        ("x.txt", "", ".json or .csv"),
    ],
)
def test_malformed_boxes_files_name_the_problem(
    tmp_path: Path, name: str, text: str, match: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BoxesFileError, match=match):
        read_boxes_file(path)


def test_overlay_draws_coco_points_markers_and_skeleton_differently() -> None:
    from opencapbench.inference.overlay import draw_pose
    from opencapbench.keypoints import get_keypoint_set

    kps = get_keypoint_set("synthpose52")
    kp = np.full((1, 52, 2), np.nan, np.float32)
    sc = np.ones((1, 52), np.float32)
    kp[0, kps.index("nose")] = (20, 20)
    kp[0, kps.index("sternum")] = (60, 30)
    kp[0, kps.index("left_shoulder")] = (10, 80)
    kp[0, kps.index("left_elbow")] = (50, 80)
    boxes = np.full((1, 5), np.nan)
    image = draw_pose(np.zeros((100, 100, 3), np.uint8), kp, sc, boxes, kps)
    assert tuple(image[20, 20]) == (0, 220, 0)  # COCO point: filled disc, midline green
    near_marker = image[24:37, 54:67].reshape(-1, 3)
    assert (near_marker == (255, 0, 255)).all(axis=1).any()  # anatomical marker: magenta diamond
    assert not (image[14:27, 14:27].reshape(-1, 3) == (255, 0, 255)).all(axis=1).any()
    assert tuple(image[80, 30]) == (255, 160, 0)  # left-side skeleton link shoulder-elbow
    low = sc.copy()
    low[0, kps.index("nose")] = 0.1  # below the drawing threshold
    assert image.sum() > draw_pose(np.zeros((100, 100, 3), np.uint8), kp, low, boxes, kps).sum()
