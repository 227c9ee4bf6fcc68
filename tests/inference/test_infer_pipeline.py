"""Detector, ViTPose wrapper, the detection+tracking+pose loop and the output formats.

Models are tiny random-weight ``transformers`` models saved to tmp folders (no network).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opencapbench.inference import outputs
from opencapbench.inference.boxes_file import FileBoxes
from opencapbench.inference.detector import RTDetrPersonDetector
from opencapbench.inference.pipeline import PipelineOptions, run_pose
from opencapbench.inference.testing import (
    draw_person,
    make_tiny_rtdetr,
    make_tiny_vitpose,
    person_box,
    torch_threads,
    write_synthetic_video,
)
from opencapbench.inference.video import ImageSource, VideoSource
from opencapbench.inference.vitpose import VitPoseEstimator, boxes_to_center_scale

SIZE = (160, 120)
SPEED = 2.0  # px per frame of the synthetic person


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def vitpose(tmp_path_factory: pytest.TempPathFactory) -> VitPoseEstimator:
    return VitPoseEstimator(make_tiny_vitpose(tmp_path_factory.mktemp("vitpose")), flip_test=True)


@pytest.fixture(scope="module")
def rtdetr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_rtdetr(tmp_path_factory.mktemp("rtdetr"))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_video(
        tmp_path_factory.mktemp("video") / "walk.mp4", 11, SIZE, speed_px=SPEED
    )


def padded_roi(box: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    center, roi = boxes_to_center_scale(box[None, :4], input_size)
    return np.concatenate([center - roi / 2, center + roi / 2], axis=1)[0]


def test_vitpose_crops_match_the_transformers_processor(vitpose: VitPoseEstimator) -> None:
    rng = np.random.default_rng(0)
    import cv2

    image = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3)
    box = np.array([[50.5, 30.0, 90.0, 90.0]])  # padded crop region lies inside the image
    crops, _, _ = vitpose._crops([image], [box])
    ours = (
        crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) * vitpose._mul.numpy()
        + vitpose._add.numpy()
    )
    xywh = [[[50.5, 30.0, 39.5, 60.0]]]
    theirs = vitpose.processor(images=[image[..., ::-1].copy()], boxes=xywh, return_tensors="np")[
        "pixel_values"
    ]
    # identical warp; only uint8 rounding of the interpolated pixels may differ (1 level)
    assert np.abs(ours - theirs).max() <= 1.01 / 255 / 0.224
    assert np.abs(ours - theirs).mean() < 1e-3


def test_keypoints_translate_with_the_box(vitpose: VitPoseEstimator) -> None:
    """On a uniform image the crop does not depend on where the box is, so the keypoints of
    the (random-weight) model must move exactly with the box."""
    image = np.full((240, 320, 3), 128, np.uint8)
    box = np.array([60.0, 40.0, 120.0, 160.0])
    shift = np.array([17.0, 9.0, 17.0, 9.0])
    (kp_a, sc_a), (kp_b, sc_b) = vitpose.predict_bboxes(
        [image, image], [box[None], (box + shift)[None]]
    )
    assert kp_a.shape == (1, 17, 2) and sc_a.shape == (1, 17)
    np.testing.assert_allclose(kp_b - kp_a, np.broadcast_to(shift[:2], kp_a.shape), atol=1e-3)
    np.testing.assert_allclose(sc_a, sc_b, atol=1e-6)


#: where the peaked model puts keypoint k, as a fraction (x, y) of the padded crop region
FRACS = np.stack([np.linspace(0.4, 0.6, 17), np.linspace(0.7, 0.3, 17)], axis=1)


@pytest.fixture
def peaked(vitpose: VitPoseEstimator, monkeypatch: pytest.MonkeyPatch) -> VitPoseEstimator:
    """The tiny model with its network replaced by Gaussian heatmap peaks at :data:`FRACS`."""
    w, h = vitpose.input_size[0] // 4, vitpose.input_size[1] // 4
    yy, xx = np.mgrid[0:h, 0:w]
    u, v = FRACS[:, 0] * (w - 1), FRACS[:, 1] * (h - 1)  # UDP: crop edge pixels = heatmap edges
    heat = np.exp(
        -((xx - u[:, None, None]) ** 2 + (yy - v[:, None, None]) ** 2) / (2 * 1.5**2)
    ).astype(np.float32)
    monkeypatch.setattr(
        vitpose, "predict_crops", lambda crops: np.repeat(heat[None], len(crops), axis=0)
    )
    return vitpose


def expected_keypoints(box: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    x1, y1, x2, y2 = padded_roi(box, input_size)
    return np.stack([x1 + FRACS[:, 0] * (x2 - x1), y1 + FRACS[:, 1] * (y2 - y1)], axis=1)


def test_heatmap_peaks_map_back_to_image_pixels(peaked: VitPoseEstimator) -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    boxes = np.array([[40.0, 30.0, 100.0, 190.0], [150.5, 20.0, 290.0, 120.0]])
    ((kp, sc),) = peaked.predict_bboxes([image], [boxes])
    for i in range(2):
        np.testing.assert_allclose(
            kp[i], expected_keypoints(boxes[i], peaked.input_size), atol=0.05
        )
    # score = heatmap value at the integer argmax next to the sub-pixel peak
    w, h = peaked.input_size[0] // 4, peaked.input_size[1] // 4
    u, v = FRACS[:, 0] * (w - 1), FRACS[:, 1] * (h - 1)
    d2 = (np.round(u) - u) ** 2 + (np.round(v) - v) ** 2
    np.testing.assert_allclose(sc, np.broadcast_to(np.exp(-d2 / (2 * 1.5**2)), sc.shape), atol=1e-5)


def test_rtdetr_detector_matches_the_transformers_pipeline(rtdetr_dir: Path) -> None:
    import torch

    det = RTDetrPersonDetector(rtdetr_dir, score_threshold=0.0)
    image = draw_person(3, (200, 150))
    ours = det.detect([image])[0]
    # reference: the processor's own preprocessing (PIL resize) and post-processing
    inputs = det.processor(images=[image[..., ::-1].copy()], return_tensors="pt")
    with torch.no_grad():
        outputs_ = det.model(**inputs)
    ref = det.processor.post_process_object_detection(
        outputs_, threshold=0.0, target_sizes=[(150, 200)]
    )[0]
    ref_boxes = np.concatenate([ref["boxes"].numpy(), ref["scores"].numpy()[:, None]], axis=1)
    ref_boxes[:, :4] = np.clip(ref_boxes[:, :4], 0, [200, 150, 200, 150])
    assert ours.shape == ref_boxes.shape and len(ours) > 0

    def canonical(b: np.ndarray) -> np.ndarray:  # random weights give tied scores: sort fully
        return b[np.lexsort((b[:, 1].round(), b[:, 0].round(), -b[:, 4].round(3)))]

    ours, ref_boxes = canonical(ours), canonical(ref_boxes)
    np.testing.assert_allclose(ours[:, :4], ref_boxes[:, :4], atol=1.0)
    np.testing.assert_allclose(ours[:, 4], ref_boxes[:, 4], atol=0.01)


class ScriptedDetector:
    """Returns the true box of the synthetic person plus a small distractor; records calls."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.calls = 0

    def detect(self, images: list[np.ndarray]) -> list[np.ndarray]:
        frame = self.calls * self.interval
        self.calls += 1
        true = np.append(person_box(frame, SIZE, SPEED), 0.9)
        distractor = np.array([5, 5, 25, 30, 0.99])
        return [np.stack([distractor, true]).astype(np.float32)]


def test_pipeline_tracks_a_moving_box_between_detections(
    video: Path, vitpose: VitPoseEstimator
) -> None:
    det = ScriptedDetector(interval=4)
    seen = []
    result = run_pose(
        VideoSource(video),
        vitpose,
        detector=det,
        options=PipelineOptions(det_interval=4, max_persons=1, pose_batch=3, progress=False),
        sink=lambda i, frame, kp, sc, bb: seen.append(i),
    )
    assert det.calls == 3  # frames 0, 4, 8
    assert seen == list(range(11))
    truth = np.stack([person_box(f, SIZE, SPEED) for f in range(11)])
    # the person moves linearly: interpolation (1-7) and extrapolation (9, 10) are exact
    np.testing.assert_allclose(result.bboxes[:, 0, :4], truth, atol=1e-3)
    np.testing.assert_allclose(result.bboxes[:, 0, 4], 0.9, atol=1e-6)
    assert result.keypoints.shape == (11, 1, 17, 2)
    assert np.isfinite(result.keypoints).all() and (result.scores > 0).all()


@pytest.fixture(scope="module")
def file_boxes_result(video: Path, vitpose: VitPoseEstimator):
    """Two boxes per frame from a file (frame 5 not listed), the random-weight model."""
    small = np.array([[5, 5, 25, 30, 0.99]])
    boxes = {
        f: np.concatenate([small, np.append(person_box(f, SIZE, SPEED), 0.8)[None]])
        for f in range(11)
        if f != 5
    }
    opts = PipelineOptions(max_persons=2, pose_batch=4, progress=False)
    return run_pose(VideoSource(video), vitpose, file_boxes=FileBoxes(boxes), options=opts), boxes


def test_file_boxes_give_keypoints_in_those_boxes(video: Path, peaked: VitPoseEstimator) -> None:
    small = np.array([[5, 5, 25, 30, 0.99]])
    boxes = {
        f: np.concatenate([small, np.append(person_box(f, SIZE, SPEED), 0.8)[None]])
        for f in range(11)
        if f != 5
    }
    opts = PipelineOptions(max_persons=2, pose_batch=4, progress=False)
    result = run_pose(VideoSource(video), peaked, file_boxes=FileBoxes(boxes), options=opts)
    for f in range(11):
        if f == 5:  # not listed: no person
            assert np.isnan(result.bboxes[f]).all() and (result.scores[f] == 0).all()
            assert np.isnan(result.keypoints[f]).all()
            continue
        # slot 0 = the larger box (the person), slot 1 = the small box
        np.testing.assert_allclose(result.bboxes[f], boxes[f][::-1], atol=1e-4)
        for p in range(2):
            box = result.bboxes[f, p]
            kp = result.keypoints[f, p]
            np.testing.assert_allclose(kp, expected_keypoints(box, peaked.input_size), atol=0.05)
            inside = (
                (kp[:, 0] > box[0])
                & (kp[:, 0] < box[2])
                & (kp[:, 1] > box[1])
                & (kp[:, 1] < box[3])
            )
            assert inside.all()


def test_subject_mode_keeps_only_the_largest(video: Path, vitpose: VitPoseEstimator) -> None:
    boxes = {
        f: np.array([[5, 5, 25, 30, 0.99], np.append(person_box(f, SIZE, SPEED), 0.8)])
        for f in range(11)
    }
    result = run_pose(
        VideoSource(video),
        vitpose,
        file_boxes=FileBoxes(boxes),
        options=PipelineOptions(max_persons=1, progress=False),
    )
    np.testing.assert_allclose(
        result.bboxes[:, 0, :4], [person_box(f, SIZE, SPEED) for f in range(11)], atol=1e-4
    )


def test_outputs_round_trip_and_agree(file_boxes_result, tmp_path: Path) -> None:
    from opencapbench.io.openpose_json import import_openpose_json

    result, _ = file_boxes_result
    kp, sc = result.keypoints, result.scores
    back = outputs.read_json(outputs.write_json(result, tmp_path / "walk.keypoints.json"))
    np.testing.assert_allclose(back.keypoints, kp, atol=1e-3)  # JSON keeps 3 decimals
    np.testing.assert_allclose(back.scores, sc, atol=1e-4)
    np.testing.assert_allclose(back.bboxes, result.bboxes, atol=1e-3, equal_nan=True)
    assert back.keypoint_set == "coco17" and back.fps == pytest.approx(30.0)

    outputs.write_openpose(result, tmp_path / "op", "walk")
    op = import_openpose_json(tmp_path / "op", "coco17", result.fps, result.image_size)
    assert op.num_frames == 11
    np.testing.assert_allclose(op.keypoints, kp, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(op.scores, sc, atol=1e-6)

    table = pd.read_csv(outputs.write_table(result, tmp_path / "walk.keypoints", fmt="csv"))
    assert list(table.columns) == list(outputs.TABLE_COLUMNS)
    assert len(table) == 10 * 2 * 17  # 10 frames with 2 people, 17 keypoints each
    grid = np.full_like(kp, np.nan)
    grid[table.frame, table.person, table.keypoint_index] = table[["x", "y"]].to_numpy()
    np.testing.assert_allclose(grid, kp, atol=1e-3, equal_nan=True)
    assert set(table.keypoint[table.keypoint_index == 5]) == {"left_shoulder"}


def test_image_sequence_records_file_names(tmp_path: Path, vitpose: VitPoseEstimator) -> None:
    import cv2

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}.png")
        cv2.imwrite(str(paths[-1]), draw_person(i, SIZE))
    boxes = {i: np.append(person_box(i, SIZE, SPEED), 1.0)[None] for i in range(3)}
    result = run_pose(
        ImageSource(paths, "seq"),
        vitpose,
        file_boxes=FileBoxes(boxes),
        options=PipelineOptions(progress=False),
    )
    doc = outputs.result_to_json(result)
    assert [f["image"] for f in doc["frames"]] == ["f0.png", "f1.png", "f2.png"]
    assert doc["frames"][2]["people"][0]["bbox"][:4] == pytest.approx(
        list(person_box(2, SIZE, SPEED)), abs=1e-3
    )
