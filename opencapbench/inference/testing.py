"""Tiny random-weight models and synthetic videos for tests and speed benchmarks (no network).

``make_tiny_rtdetr`` / ``make_tiny_vitpose`` save ``transformers`` models with random weights
and their image-processor settings to a folder, loadable like a downloaded checkpoint.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np


def make_tiny_rtdetr(folder: str | os.PathLike, input_size: int = 128, seed: int = 0) -> Path:
    """Save a ~50k-parameter RT-DETR whose only class is ``person``; returns the folder."""
    import torch
    from transformers import (
        RTDetrConfig,
        RTDetrForObjectDetection,
        RTDetrImageProcessorPil,
        RTDetrResNetConfig,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    backbone = RTDetrResNetConfig(
        embedding_size=16,
        hidden_sizes=[16, 16, 16, 16],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    config = RTDetrConfig(
        backbone_config=backbone,
        d_model=16,
        encoder_hidden_dim=16,
        encoder_in_channels=[16, 16, 16],
        decoder_in_channels=[16, 16, 16],
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_layers=1,
        decoder_layers=1,
        decoder_n_points=2,
        hidden_expansion=0.5,
        num_queries=10,
        num_denoising=0,
        num_labels=1,
        id2label={0: "person"},
        label2id={"person": 0},
        anchor_image_size=None,
    )
    RTDetrForObjectDetection(config).eval().save_pretrained(folder)
    RTDetrImageProcessorPil(size={"height": input_size, "width": input_size}).save_pretrained(
        folder
    )
    return folder


def make_tiny_vitpose(
    folder: str | os.PathLike,
    num_keypoints: int = 17,
    input_hw: tuple[int, int] = (64, 48),
    seed: int = 0,
) -> Path:
    """Save a ~20k-parameter ViTPose (``transformers``) with ``num_keypoints`` outputs."""
    import torch
    from transformers import (
        VitPoseBackboneConfig,
        VitPoseConfig,
        VitPoseForPoseEstimation,
        VitPoseImageProcessorPil,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    backbone = VitPoseBackboneConfig(
        image_size=list(input_hw),
        patch_size=[16, 16],
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        mlp_ratio=2,
        out_indices=[1],
    )
    config = VitPoseConfig(
        backbone_config=backbone, num_labels=num_keypoints, use_simple_decoder=True, scale_factor=4
    )
    VitPoseForPoseEstimation(config).eval().save_pretrained(folder)
    VitPoseImageProcessorPil(size={"height": input_hw[0], "width": input_hw[1]}).save_pretrained(
        folder
    )
    return folder


def person_box(frame_index: int, image_size: tuple[int, int], speed_px: float = 4.0) -> np.ndarray:
    """The xyxy box (4,) px of the figure :func:`draw_person` draws at ``frame_index``."""
    w, h = image_size
    x1 = 0.3 * w + speed_px * frame_index
    return np.array([x1, 0.1 * h, x1 + 0.18 * w, 0.92 * h])


def draw_person(frame_index: int, image_size: tuple[int, int], speed_px: float = 4.0) -> np.ndarray:
    """A BGR frame (H, W, 3) with a stick-figure person walking right by ``speed_px``/frame."""
    w, h = image_size
    frame = np.full((h, w, 3), (60, 50, 40), np.uint8)
    x1, y1, x2, y2 = person_box(frame_index, image_size, speed_px)
    cx = 0.5 * (x1 + x2)
    bh = y2 - y1
    t = max(1, round(bh / 40))
    head = (int(cx), int(y1 + 0.08 * bh))
    cv2.circle(frame, head, int(0.07 * bh), (170, 190, 230), -1)
    neck, hip = (cx, y1 + 0.17 * bh), (cx, y1 + 0.55 * bh)
    swing = 0.12 * (x2 - x1) * np.sin(frame_index / 3.0)
    limbs = [
        (neck, hip),
        (neck, (x1 + swing, y1 + 0.45 * bh)),
        (neck, (x2 - swing, y1 + 0.45 * bh)),
        (hip, (x1 + 0.2 * (x2 - x1) - swing, y2)),
        (hip, (x2 - 0.2 * (x2 - x1) + swing, y2)),
    ]
    for a, b in limbs:
        cv2.line(
            frame,
            (int(a[0]), int(a[1])),
            (int(b[0]), int(b[1])),
            (200, 120, 90),
            3 * t,
            cv2.LINE_AA,
        )
    return frame


def write_synthetic_video(
    path: str | os.PathLike,
    num_frames: int,
    image_size: tuple[int, int] = (160, 120),
    fps: float = 30.0,
    fourcc: str = "mp4v",
    speed_px: float = 4.0,
) -> Path:
    """Write :func:`draw_person` frames with ``cv2.VideoWriter``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, tuple(image_size))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cannot open a {fourcc} video writer")
    for i in range(num_frames):
        writer.write(draw_person(i, image_size, speed_px))
    writer.release()
    return path


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, restoring the previous count after.

    Tiny test models are dominated by thread synchronisation: on a loaded 2-core machine one
    thread runs them up to 100x faster than two.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def write_hub_cache(
    cache: str | os.PathLike, repo_id: str, revision: str, files: dict[str, str | os.PathLike]
) -> Path:
    """Lay out ``files`` (repository name → local file) as ``huggingface_hub``'s cache holds a
    download of ``repo_id`` at commit ``revision`` (``HF_HUB_CACHE`` = ``cache``); returns the
    snapshot folder.  Lets tests load "downloaded" models offline (``HF_HUB_OFFLINE=1``)."""
    import shutil

    repo = Path(cache) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        shutil.copyfile(src, snapshot / name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot
