"""RTMPose/RTMW ONNX back-end: a tiny SimCC model exported here, run through ``ocb infer``,
against the same model in PyTorch with an independent crop and decode written in this file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from opencapbench.cli import main
from opencapbench.inference.testing import person_box, torch_threads, write_synthetic_video

if os.environ.get("CI", "").lower() == "true":
    import onnxruntime  # noqa: F401 - CI installs .[test], which has it: fail, never skip
else:
    pytest.importorskip("onnxruntime", reason="the [onnx] extra (onnxruntime) is not installed")

INPUT_WH = (48, 64)
SPLIT = 2.0
SIZE = (160, 120)  # video (w, h)
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
#: HALPE-26 left/right partners (COCO-17 pairs; head, neck, hip midline; feet pairs)
HALPE_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 17, 18, 19,
              21, 20, 23, 22, 25, 24]  # fmt: skip


class TinySimCC(nn.Module):
    """Convolutions, a 1x1 keypoint projection and linear SimCC classifiers (RTMCCHead's
    shape: features flattened per keypoint → x and y bin logits)."""

    def __init__(self, k: int = 26) -> None:
        super().__init__()
        w, h = INPUT_WH
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.final = nn.Conv2d(16, k, 1)
        self.mlp = nn.Linear((w // 4) * (h // 4), 32)
        self.cls_x = nn.Linear(32, int(w * SPLIT))
        self.cls_y = nn.Linear(32, int(h * SPLIT))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.mlp(self.final(self.backbone(x)).flatten(2))
        return self.cls_x(f), self.cls_y(f)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinySimCC, Path]:
    torch.manual_seed(0)
    model = TinySimCC().eval()
    path = tmp_path_factory.mktemp("rtmpose") / "tiny_rtmpose.onnx"
    w, h = INPUT_WH
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, h, w),),
        str(path),
        input_names=["input"],
        output_names=["simcc_x", "simcc_y"],
        dynamic_shapes=({0: torch.export.Dim("n")},),
        dynamo=True,
    )
    return model, path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_video(tmp_path_factory.mktemp("v") / "walk.mp4", 4, SIZE, fourcc="MJPG")


def reference_keypoints(
    model: TinySimCC, frame: np.ndarray, box: np.ndarray, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The RTMPose recipe, written out: pad 1.25, widen to w/h, centre-to-centre crop,
    RGB mean/std, argmax / split, min score, back through the inverse crop."""
    w, h = INPUT_WH
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    bw, bh = (box[2] - box[0]) * 1.25, (box[3] - box[1]) * 1.25
    bw, bh = (bw, bw * h / w) if bw > bh * w / h else (bh * w / h, bh)
    s = w / bw  # crop px per image px
    mat = np.array([[s, 0, w / 2 - s * cx], [0, s, h / 2 - s * cy]])
    crop = cv2.warpAffine(frame, mat, (w, h), flags=cv2.INTER_LINEAR)
    x = torch.from_numpy(((crop[..., ::-1] - MEAN) / STD).transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        sx, sy = (t.numpy() for t in model(x.float()))
        if flip:
            fx, fy = (t.numpy() for t in model(x.float().flip(-1)))
            sx = 0.5 * (sx + fx[:, HALPE_FLIP, ::-1])
            sy = 0.5 * (sy + fy[:, HALPE_FLIP])
    crop_xy = np.stack([sx[0].argmax(-1), sy[0].argmax(-1)], -1) / SPLIT
    score = np.minimum(sx[0].max(-1), sy[0].max(-1))
    return (crop_xy - [w / 2, h / 2]) / s + [cx, cy], score


@pytest.mark.parametrize("flip", [False, True], ids=["no-flip", "flip"])
def test_ocb_infer_equals_pytorch_reference(
    tiny: tuple[TinySimCC, Path], video: Path, tmp_path: Path, flip: bool
) -> None:
    model, path = tiny
    boxes = [person_box(i, SIZE) for i in range(4)]
    boxes[2] = np.array([-12.0, 30.5, 70.0, 130.0])  # a crop across the left and bottom borders
    boxes_file = tmp_path / "boxes.json"
    frames = [{"frame": i, "boxes": [list(b) + [0.9]]} for i, b in enumerate(boxes)]
    boxes_file.write_text(json.dumps({"frames": frames}))
    out = tmp_path / "out"
    args = ["infer", str(video), "-m", str(path), "--boxes", str(boxes_file), "-o", str(out),
            "--no-progress", "--no-openpose", "--table", "csv", "--device", "cpu",
            "--flip-test" if flip else "--no-flip-test"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    from opencapbench.io.keypoint_store import Keypoints2D

    store = Keypoints2D.load(out / "walk.npz")
    assert store.keypoint_set == "halpe26" and store.keypoints.shape == (4, 1, 26, 2)
    cap = cv2.VideoCapture(str(video))
    for i, box in enumerate(boxes):
        ok, frame = cap.read()
        assert ok
        kp_ref, sc_ref = reference_keypoints(model, frame, box, flip)
        np.testing.assert_allclose(store.keypoints[i, 0], kp_ref, atol=1e-3)
        np.testing.assert_allclose(store.scores[i, 0], sc_ref, atol=1e-4)
    cap.release()


def test_estimator_batches_and_reports_its_geometry(tiny: tuple[TinySimCC, Path]) -> None:
    from opencapbench.inference.models import keypoint_set_name, load_pose_model

    _, path = tiny
    est = load_pose_model(path, device="cpu", flip_test=False, batch_size=3)
    assert est.input_size == INPUT_WH and est.split_ratio == SPLIT
    assert keypoint_set_name(est) == "halpe26" and est.flip_indices == HALPE_FLIP
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 10.0, 60.0, 110.0], [70.0, 5.0, 150.0, 100.0], [0, 0, 30, 30]])
    # one call with 3 + 0 + 2 boxes over three images, batches of 3, equals one box at a time
    preds = est.predict_bboxes([frame, frame, frame], [boxes, np.zeros((0, 4)), boxes[:2]])
    assert [len(p[0]) for p in preds] == [3, 0, 2]
    for j, box in enumerate(boxes):
        ((kp, sc),) = est.predict_bboxes([frame], [box[None]])
        np.testing.assert_allclose(preds[0][0][j], kp[0], atol=1e-4)
        np.testing.assert_allclose(preds[0][1][j], sc[0], atol=1e-6)


def test_registered_name_offline_gives_the_download_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, video: Path
) -> None:
    monkeypatch.setenv("OCB_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OCB_OFFLINE", "1")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"frames": [{"frame": 0, "boxes": [[10, 10, 60, 110]]}]}))
    res = CliRunner().invoke(
        main,
        [
            "infer",
            str(video),
            "-m",
            "rtmpose-m-halpe26",
            "-o",
            str(tmp_path / "o"),
            "--boxes",
            str(boxes),
            "--no-progress",
        ],  # fmt: skip
    )
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert "ModelNotAvailableError" in text and "rtmpose-m-halpe26" in text
    assert "download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/rtmpose-m_" in text
    assert str(tmp_path / "cache" / "rtmpose" / "rtmpose-m-halpe26" / "end2end.onnx") in text


def test_missing_onnxruntime_names_the_extra(
    tiny: tuple[TinySimCC, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from opencapbench.inference.rtmpose import OnnxRuntimeMissingError, RTMPoseEstimator

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(OnnxRuntimeMissingError, match=r"pip install 'opencapbench\[onnx\]'"):
        RTMPoseEstimator(tiny[1])


def test_crop_geometry_known_answer() -> None:
    from opencapbench.inference.rtmpose import crop_to_image, rtmpose_center_scale

    center, scale = rtmpose_center_scale(np.array([[10.0, 20.0, 50.0, 100.0]]), INPUT_WH)
    # padded 50 x 100, widened to w/h = 0.75: 75 x 100
    np.testing.assert_allclose(center, [[30, 60]])
    np.testing.assert_allclose(scale, [[75, 100]])
    kp = np.array([[[24.0, 32.0], [0.0, 0.0], [48.0, 64.0]]])
    np.testing.assert_allclose(
        crop_to_image(kp, center, scale, INPUT_WH), [[[30, 60], [-7.5, 10], [67.5, 110]]]
    )
