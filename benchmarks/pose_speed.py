"""Pose inference speed: opencapbench's pipeline against a naive MMPose-inferencer-style path.

Two rates, both paths in one process on the same models (random weights; speed only):

1. person crops per second, HRNet-W48 384x288 (SynthPose, 52 keypoints) with the flip test;
   * naive: one crop at a time: ``cv2.warpAffine``, normalise, a forward pass of the crop and
     another of its mirror (batch 1, as ``TopdownPoseEstimator`` with ``flip_test=True`` runs
     them), numpy DARK decoding per crop;
   * opencapbench: ``predict_bboxes`` on all crops: one batch (GPU affine warp on CUDA),
     crop and mirror in the same forward pass, DARK decoded on the device, optional autocast.
2. end-to-end ``ocb infer`` frames per second on a synthetic 1080p single-person video
   (RT-DETR R50vd detector + the same HRNet); model loading and file writing excluded;
   * naive: read a frame, detect, estimate pose (path 1), next frame;
   * opencapbench: ``run_pose`` as ``ocb infer`` runs it: background decode thread, detection
     every ``--det-interval`` frames with box tracking in between, batched crops.

Both paths run at the same precision: ``--amp bf16`` puts the naive path under the same
autocast as the fast one, so a ratio compares like with like (bf16 against bf16); the
precision's own gain is the fp32 and bf16 runs of the same path side by side.

Usage::

    python benchmarks/pose_speed.py                     # CPU, small sizes (a few minutes)
    python benchmarks/pose_speed.py --amp bf16          # both paths under CPU bf16 autocast
    python benchmarks/pose_speed.py --device cuda --amp bf16 --crops 256 --frames 120
"""

from __future__ import annotations

import argparse
import copy
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from opencapbench.device import autocast
from opencapbench.inference.catalog import MODELS
from opencapbench.inference.detector import RTDetrPersonDetector
from opencapbench.inference.models import BoundPoseModel, default_batch_size
from opencapbench.inference.pipeline import PipelineOptions, run_pose
from opencapbench.inference.testing import person_box, write_synthetic_video
from opencapbench.inference.video import VideoSource
from opencapbench.pose.api import PoseModel
from opencapbench.pose.models.flip import flip_heatmaps
from opencapbench.pose.transforms.warp import bbox_xyxy2cs, fix_aspect_ratio, get_warp_matrix

REPO = Path(__file__).resolve().parents[1]
SPEED_PX = 6.0  # synthetic person's speed, px per frame
W48_CONFIG = MODELS["synthpose-hrnet48"].config_path


# ------------------------------------------------------------------------------ naive path
@torch.no_grad()
def naive_predict(
    model: PoseModel, image: np.ndarray, box: np.ndarray, amp: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One crop, MMPose-inferencer style: (K, 2) image px keypoints and (K,) scores.

    ``amp``: the autocast of the fast path ("bf16"/"fp16"), so both run at one precision.
    """
    w, h = model.input_size
    center, scale = bbox_xyxy2cs(np.asarray(box, np.float32)[None, :4], model.bbox_padding)
    scale = fix_aspect_ratio(scale, w / h)
    mat = get_warp_matrix(center[0], scale[0], 0.0, (w, h))
    crop = cv2.warpAffine(image, mat, (w, h), flags=cv2.INTER_LINEAR)
    x = torch.from_numpy(crop).to(model.device).permute(2, 0, 1)[None].float()
    x = model._normalise(x)
    est = model.estimator
    with autocast(model.device, amp):
        heat = est._forward(x).float()
        heat_flip = est._forward(x.flip(-1)).float()
    heat = (heat + flip_heatmaps(heat_flip, model.flip_indices, model.shift_heatmap)) * 0.5
    kp, sc = model.codec.decode(heat[0].float().cpu().numpy())
    kp = kp[0] / np.array([w, h]) * scale + center - 0.5 * scale
    return kp.astype(np.float32), sc[0]


class OracleBoxDetector:
    """Runs RT-DETR on the frame (its cost is paid) but returns the synthetic person's true
    box: random weights detect no person, and both paths must estimate the same crops.

    ``interval`` is how many frames pass between calls (1 for the naive path).
    """

    def __init__(
        self, detector: RTDetrPersonDetector, image_size: tuple[int, int], interval: int
    ) -> None:
        self.detector = detector
        self.image_size = image_size
        self.interval = interval
        self.calls = 0

    def detect(self, images: list[np.ndarray]) -> list[np.ndarray]:
        self.detector.detect(images)
        out = []
        for _ in images:
            box = person_box(self.calls * self.interval, self.image_size, SPEED_PX)
            out.append(np.append(box, 0.9)[None].astype(np.float32))
            self.calls += 1
        return out


# ------------------------------------------------------------------------------ measurements
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def crops_per_second(
    model: PoseModel, fast: BoundPoseModel, n: int, device: torch.device, repeat: int
) -> tuple[float, float, float]:
    """(naive crops/s, fast crops/s, median |keypoint difference| px between the two).

    The two paths alternate ``repeat`` times and the rates are medians, so a change in the
    machine's load does not favour one of them.
    """
    rng = np.random.default_rng(0)
    size = (1920, 1080)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), (7, 7), 2)
    boxes = [person_box(i, size, speed_px=8.0) for i in range(n)]
    naive_predict(model, frame, boxes[0], fast.amp)  # warm-up
    fast.predict_bboxes([frame], [boxes[0][None]])
    naive_rates, fast_rates = [], []
    for _ in range(repeat):
        sync(device)
        t = time.perf_counter()
        naive = [naive_predict(model, frame, b, fast.amp)[0] for b in boxes]
        sync(device)
        naive_rates.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        ours = fast.predict_bboxes([frame] * n, [b[None] for b in boxes])
        sync(device)
        fast_rates.append(n / (time.perf_counter() - t))
    diff = np.abs(np.stack([o[0][0] for o in ours]) - np.stack(naive))
    return float(np.median(naive_rates)), float(np.median(fast_rates)), float(np.nanmedian(diff))


def frames_per_second(
    model: PoseModel,
    fast: BoundPoseModel,
    naive_detector: RTDetrPersonDetector,
    fast_detector: RTDetrPersonDetector,
    video: Path,
    det_interval: int,
    batch: int,
) -> tuple[float, float, int]:
    source = VideoSource(video)
    naive_det = OracleBoxDetector(naive_detector, source.image_size, interval=1)
    t = time.perf_counter()
    frames = 0
    for _, frame in source:  # synchronous decode, detect every frame, one crop at a time
        box = naive_det.detect([frame])[0][0]
        naive_predict(model, frame, box, fast.amp)
        frames += 1
    t_naive = time.perf_counter() - t
    fast_det = OracleBoxDetector(fast_detector, source.image_size, interval=det_interval)
    opts = PipelineOptions(
        det_interval=det_interval, max_persons=1, pose_batch=batch, progress=False
    )
    t = time.perf_counter()
    result = run_pose(source, fast, detector=fast_det, options=opts)
    t_fast = time.perf_counter() - t
    if not np.isfinite(result.keypoints).all():
        raise RuntimeError("the fast path skipped frames: the comparison would be unfair")
    return frames / t_naive, result.num_frames / t_fast, frames


def build_detector_folder(folder: Path) -> Path:
    """Save RT-DETR R50vd (the default detector's architecture, 80 COCO classes), random weights."""
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil

    labels = {i: ("person" if i == 0 else f"class{i}") for i in range(80)}
    config = RTDetrConfig(
        num_labels=80, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    RTDetrForObjectDetection(config).save_pretrained(folder)
    RTDetrImageProcessorPil().save_pretrained(folder)  # 640x640, as the published model
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--amp", choices=["none", "bf16", "fp16"], default="none", help="autocast of the fast path"
    )
    ap.add_argument("--crops", type=int, default=16, help="person crops for rate 1")
    ap.add_argument("--frames", type=int, default=8, help="1080p video frames for rate 2")
    ap.add_argument(
        "--batch",
        type=int,
        default=None,
        help="crops per forward pass (fast path; default: models.default_batch_size)",
    )
    ap.add_argument("--det-interval", type=int, default=4)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    ap.add_argument("--repeat", type=int, default=1, help="alternate the crop measurements N times")
    ap.add_argument("--skip-e2e", action="store_true", help="measure crops/s only")
    ap.add_argument(
        "--no-optimize",
        action="store_true",
        help="fast path without BatchNorm folding / channels-last",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amp = None if args.amp == "none" else args.amp
    torch.manual_seed(0)

    # random weights; the naive path runs MMPose's unmodified graph, the fast path the same
    # weights with BatchNorm folded and channels-last memory (PoseModel's default)
    model = PoseModel.from_config(W48_CONFIG, device=args.device, optimize=False)
    optimized = PoseModel(
        copy.deepcopy(model.estimator),
        model.keypoint_names,
        model.flip_indices,
        keypoint_set=model.keypoint_set,
        use_udp=model.use_udp,
        bbox_padding=model.bbox_padding,
        device=args.device,
        optimize=not args.no_optimize,
    )
    batch = args.batch or default_batch_size(device, amp)
    fast = BoundPoseModel(optimized, flip_test=True, amp=amp, batch_size=batch)
    print(
        f"device {args.device} ({torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor() or 'cpu'}), "
        f"torch threads {torch.get_num_threads()}, both paths at amp {args.amp} (like with like)"
    )
    print(
        f"HRNet-W48 {model.input_size[0]}x{model.input_size[1]}, {model.num_keypoints} keypoints, "
        f"flip test on, fast path {batch} crops per forward pass"
    )
    naive_c, fast_c, diff = crops_per_second(model, fast, args.crops, device, max(1, args.repeat))
    rows = [("person crops/s (HRNet-W48, flip)", naive_c, fast_c, f"{args.crops} crops")]
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory() as tmp:
            video = write_synthetic_video(
                Path(tmp) / "walk1080p.mp4", args.frames, (1920, 1080), speed_px=SPEED_PX
            )
            folder = build_detector_folder(Path(tmp) / "rtdetr")
            naive_detector = RTDetrPersonDetector(
                folder, device=args.device, score_threshold=0.0, amp=amp
            )
            fast_detector = RTDetrPersonDetector(
                folder, device=args.device, score_threshold=0.0, amp=amp
            )
            naive_f, fast_f, n = frames_per_second(
                model, fast, naive_detector, fast_detector, video, args.det_interval, max(16, batch)
            )
        rows.append(
            (
                "ocb infer frames/s (1080p video)",
                naive_f,
                fast_f,
                f"{n} frames, detect every {args.det_interval}",
            )
        )
    print(f"\n{'':36s}{'naive':>10s}{'opencapbench':>14s}{'ratio':>8s}   sizes")
    for name, a, b, note in rows:
        print(f"{name:36s}{a:10.3f}{b:14.3f}{b / a:7.2f}x   {note}")
    print(
        f"median keypoint difference fast vs naive (same boxes): {diff:.3f} px "
        "(random weights: near-flat heatmaps make argmax/DARK sensitive to rounding)"
    )


if __name__ == "__main__":
    main()
