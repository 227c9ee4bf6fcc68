"""The GPU pose path measured in one run: HRNet-W48 and ViTPose-B, precisions, batches, ``ocb infer``.

On a CUDA device the script prints, in one run:

1. HRNet-W48 384x288 (52 keypoints, SynthPose head) person crops/s **with the flip test**
   for fp32 (TF32 off; NCHW and channels-last), TF32, bf16 and fp16 autocast, and
   ``torch.compile`` on top of bf16/fp16, at batch sizes 32, 64, 128, 256 (crops per call; the
   flip test doubles the images per forward pass).  Each row gives the fraction of the
   device's dense peak (forward FLOPs counted with ``torch.utils.flop_counter``; peaks from
   :data:`PEAK_TFLOPS`), the peak GPU memory, and the keypoint difference to the fp32
   reference (max and 99th percentile px over 64 boxes).
2. The same for ViTPose-B (``transformers``, the real architecture, 52 keypoints).
3. The whole ``ocb infer`` path (``run_pose``: decode thread, detection every 4 frames, box
   tracking, batched crops, flip test) on a synthetic 1920x1080 30 fps video and a 720x1280
   60 fps (portrait phone) video, frames/s with decoding and detection counted, beside the
   decode-only and detector-only rates so the bound is visible.

Weights are random (speed only; the keypoint differences of random weights are an upper
bound: flat heatmaps make argmax/DARK sensitive to rounding).  ``--hrnet-checkpoint`` and
``--vitpose-folder`` take real weights.  The detector is RT-DETR R50vd (the default
detector's architecture) with random weights, run on every key frame so its cost is paid,
returning the synthetic person's true box (random weights find no one); no download.

On a machine without CUDA the script runs a reduced CPU part (batch 2, one timed call,
tiny videos and a tiny RT-DETR) in about two minutes on 2 cores and says that the GPU part
was skipped.

Usage::

    python benchmarks/pose_gpu.py                    # CUDA if present, else the CPU part
    python benchmarks/pose_gpu.py --no-compile       # skip torch.compile (saves minutes)
    python benchmarks/pose_gpu.py --frames 600       # longer videos
    python benchmarks/pose_gpu.py --cudnn-benchmark  # let cuDNN pick its fastest kernels
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pose_speed import W48_CONFIG, OracleBoxDetector, build_detector_folder  # noqa: E402

from opencapbench.inference.detector import RTDetrPersonDetector  # noqa: E402
from opencapbench.inference.models import BoundPoseModel  # noqa: E402
from opencapbench.inference.pipeline import PipelineOptions, run_pose  # noqa: E402
from opencapbench.inference.testing import (  # noqa: E402
    make_tiny_rtdetr,
    write_synthetic_video,
)
from opencapbench.inference.video import VideoSource  # noqa: E402
from opencapbench.inference.vitpose import VitPoseEstimator  # noqa: E402
from opencapbench.pose.api import PoseModel  # noqa: E402

#: dense (no sparsity) peak TFLOP/s from the vendors' datasheets:
#: (fp32 non-tensor, tf32 tensor, bf16/fp16 tensor); matched by substring of the device name
PEAK_TFLOPS: dict[str, tuple[float, float, float]] = {
    "H200": (67.0, 494.7, 989.4),
    "H100 PCIe": (51.0, 378.0, 756.0),
    "H100 NVL": (60.0, 417.5, 835.0),
    "H100": (67.0, 494.7, 989.4),  # SXM
    "GH200": (67.0, 494.7, 989.4),
    "A100": (19.5, 156.0, 312.0),
    "L40S": (91.6, 183.0, 362.0),
    "L4": (30.3, 60.0, 121.0),
    "RTX 4090": (82.6, 82.6, 165.2),
}

BOX_SPEED = 6.0  # synthetic person, px per frame


def peak_tflops(device_name: str, precision: str) -> float | None:
    """Dense peak TFLOP/s of ``device_name`` for "fp32" / "tf32" / "bf16" / "fp16"."""
    col = {"fp32": 0, "tf32": 1, "bf16": 2, "fp16": 2}[precision]
    for key, peaks in PEAK_TFLOPS.items():  # insertion order: specific names first
        if key in device_name:
            return peaks[col]
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def forward_flops(fn: Callable[[torch.Tensor], object], x: torch.Tensor) -> float:
    """FLOPs of one call ``fn(x)`` (multiply-add = 2), counted by ``FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        fn(x)
    return float(counter.get_total_flops())


def rate(call: Callable[[], object], device: torch.device, items: int, warmup: int, iters: int):
    """(items/s, peak memory GB) of ``call``, median over ``iters`` timed calls."""
    for _ in range(warmup):
        call()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        call()
        sync(device)
        times.append(time.perf_counter() - t)
    mem = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else float("nan")
    return items / float(np.median(times)), mem


def textured_frame(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, size, interpolation=cv2.INTER_CUBIC)


def eval_boxes(n: int, size: tuple[int, int]) -> np.ndarray:
    """``n`` person-like xyxy boxes spread over a frame of ``size`` (w, h)."""
    rng = np.random.default_rng(1)
    w, h = size
    bh = rng.uniform(0.3, 0.9, n) * h
    bw = bh * rng.uniform(0.3, 0.6, n)
    x1 = rng.uniform(0, w - bw)
    y1 = rng.uniform(0, h - bh)
    return np.stack([x1, y1, x1 + bw, y1 + bh], axis=1)


def px_diff(kp: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    d = np.linalg.norm(kp - ref, axis=-1).ravel()
    d = d[np.isfinite(d)]
    return float(d.max()), float(np.percentile(d, 99))


@dataclass
class Row:
    model: str
    config: str
    batch: int
    crops_s: float = float("nan")
    peak_frac: float = float("nan")
    mem_gb: float = float("nan")
    max_px: float = float("nan")
    p99_px: float = float("nan")
    hm_err: float = float("nan")
    note: str = ""

    def line(self) -> str:
        pct = "" if np.isnan(self.peak_frac) else f"{100 * self.peak_frac:6.1f}%"
        return (
            f"{self.model:10s} {self.config:32s} {self.batch:5d} {self.crops_s:10.1f} "
            f"{pct:>8s} {self.mem_gb:8.2f} {self.max_px:9.3f} {self.p99_px:9.3f} "
            f"{self.hm_err:9.2e}  {self.note}"
        )


HEADER = (
    f"{'model':10s} {'config':32s} {'batch':>5s} {'crops/s':>10s} {'of peak':>8s} "
    f"{'mem GB':>8s} {'max px':>9s} {'p99 px':>9s} {'heat err':>9s}"
)


# ------------------------------------------------------------------------------ HRNet
@dataclass(frozen=True)
class Config:
    name: str
    amp: str | None  # None = fp32
    tf32: bool
    channels_last: bool
    compile: bool
    precision: str  # key of PEAK_TFLOPS' columns


GPU_CONFIGS = (
    Config("fp32 NCHW (TF32 off, reference)", None, False, False, False, "fp32"),
    Config("fp32 channels-last (TF32 off)", None, False, True, False, "fp32"),
    Config("tf32 channels-last", None, True, True, False, "tf32"),
    Config("bf16 autocast channels-last", "bf16", False, True, False, "bf16"),
    Config("fp16 autocast channels-last", "fp16", False, True, False, "fp16"),
    Config("bf16 + torch.compile", "bf16", False, True, True, "bf16"),
    Config("fp16 + torch.compile", "fp16", False, True, True, "fp16"),
)
CPU_CONFIGS = (
    Config("fp32 channels-last (reference)", None, False, True, False, "fp32"),
    Config("bf16 autocast channels-last", "bf16", False, True, False, "bf16"),
)


def hrnet_variant(base: PoseModel, cfg: Config, device: torch.device) -> PoseModel:
    """A copy of ``base``'s weights as ``cfg`` runs them (BatchNorm folded with channels-last,
    the repository's inference default; optionally compiled)."""
    model = PoseModel(
        copy.deepcopy(base.estimator),
        base.keypoint_names,
        base.flip_indices,
        keypoint_set=base.keypoint_set,
        use_udp=base.use_udp,
        bbox_padding=base.bbox_padding,
        device=device,
        optimize=cfg.channels_last,
    )
    if cfg.compile:
        est = model.estimator
        est._forward = torch.compile(est._forward)  # instance attribute shadows the method
    return model


def hrnet_predict(model: PoseModel, cfg: Config, device: torch.device, batch: int):
    """``predict_bboxes(images, boxes) -> [(kp, sc)]`` with the flip test under ``cfg``."""

    def call(images, boxes):
        with tf32(cfg.tf32):
            return model.predict_bboxes(
                images, boxes, flip_test=True, precision=cfg.amp or "none", batch_size=batch
            )

    return call


def bench_hrnet(args, device: torch.device, on_gpu: bool, name: str) -> list[Row]:
    torch.manual_seed(0)
    base = PoseModel.from_config(W48_CONFIG, device=device, optimize=False)
    if args.hrnet_checkpoint:
        base = PoseModel.from_config(
            W48_CONFIG, checkpoint=str(args.hrnet_checkpoint), device=device, optimize=False
        )
    w, h = base.input_size
    x1 = torch.zeros(1, 3, h, w, device=device)
    flops = forward_flops(base.estimator._forward, x1)
    print(
        f"HRNet-W48 {w}x{h}: {flops / 1e9:.1f} GFLOP per image forward ({2 * flops / 1e9:.1f} per crop with flip)"
    )
    size = (1920, 1080)
    frame = textured_frame(size)
    boxes = eval_boxes(64 if on_gpu else 1, size)
    configs = GPU_CONFIGS if on_gpu else CPU_CONFIGS
    batches = args.batches
    rows: list[Row] = []
    ref = None
    for cfg in configs:
        if cfg.compile and args.no_compile:
            continue
        model = hrnet_variant(base, cfg, device)
        amp_arg = cfg.amp or "none"
        # precision check on the same crops: keypoints (image px) and heatmaps vs fp32
        crops_eval, _, scale_eval, _ = model.crop([frame], [boxes])
        with tf32(cfg.tf32), torch.inference_mode():
            heat = model.heatmaps(
                crops_eval.to(device), flip_test=True, precision=amp_arg, batch_size=len(boxes)
            )
            kp_crop, _ = model.codec.decode_torch(heat)
        kp = kp_crop.float().cpu().numpy() * (scale_eval[:, None, :1] / w)  # image px
        heat = heat.float().cpu().numpy()
        ref = (kp, heat) if ref is None else ref
        max_px, p99_px = px_diff(kp, ref[0])
        hm_err = float(np.abs(heat - ref[1]).max() / np.abs(ref[1]).max())
        peak = peak_tflops(name, cfg.precision) if on_gpu else None
        for batch in batches:
            row = Row("HRNet-W48", cfg.name, batch, max_px=max_px, p99_px=p99_px, hm_err=hm_err)
            try:
                crops, _, _, _ = model.crop([frame], [eval_boxes(batch, size)])
                crops = crops.to(device)

                def call(crops=crops, batch=batch, cfg=cfg, model=model, amp_arg=amp_arg):
                    with tf32(cfg.tf32):
                        return model.predict_crops(
                            crops, flip_test=True, precision=amp_arg, batch_size=batch
                        )

                row.crops_s, row.mem_gb = rate(call, device, batch, args.warmup, args.iters)
                if peak:
                    row.peak_frac = row.crops_s * 2 * flops / (peak * 1e12)
            except torch.cuda.OutOfMemoryError:
                row.note = "out of memory"
                torch.cuda.empty_cache()
            rows.append(row)
            print(row.line(), flush=True)
        if not on_gpu:  # the CPU part keeps to the network rows
            continue
        # crops/s from full frames: device warp + network + decode + copy back
        batch = batches[-1]
        frames_boxes = eval_boxes(batch, size)
        predict = hrnet_predict(model, cfg, device, batch)
        try:
            r, m = rate(
                lambda p=predict, b=frames_boxes: p([frame], [b]), device, batch, 1, args.iters
            )
            row = Row(
                "HRNet-W48", cfg.name, batch, r, mem_gb=m, note="from 1080p frames (crop+decode)"
            )
        except torch.cuda.OutOfMemoryError:
            row = Row("HRNet-W48", cfg.name, batch, note="from frames: out of memory")
            torch.cuda.empty_cache()
        rows.append(row)
        print(row.line(), flush=True)
        del model
        if on_gpu:
            torch.cuda.empty_cache()
    return rows


# ------------------------------------------------------------------------------ ViTPose
def vitpose_b_folder(folder: Path) -> Path:
    """Save ViTPose-B (ViT-B/16 backbone, 256x192, simple decoder, 52 keypoints), random."""
    from transformers import (
        VitPoseBackboneConfig,
        VitPoseConfig,
        VitPoseForPoseEstimation,
        VitPoseImageProcessorPil,
    )

    torch.manual_seed(0)
    backbone = VitPoseBackboneConfig(out_indices=[12])  # defaults: ViT-B, 256x192, patch 16
    config = VitPoseConfig(backbone_config=backbone, num_labels=52)
    VitPoseForPoseEstimation(config).eval().save_pretrained(folder)
    VitPoseImageProcessorPil().save_pretrained(folder)
    return folder


def bench_vitpose(args, device: torch.device, on_gpu: bool, name: str, folder: Path) -> list[Row]:
    size = (1920, 1080)
    frame = textured_frame(size)
    boxes = eval_boxes(64 if on_gpu else 1, size)
    amps = [None, "bf16", "fp16"] if on_gpu else [None, "bf16"]
    batches = args.batches
    rows: list[Row] = []
    ref = None
    flops = None
    for amp in amps:
        est = VitPoseEstimator(folder, device=device, amp=amp, flip_test=True, batch_size=64)
        if flops is None:
            w, h = est.input_size
            flops = forward_flops(
                lambda x, est=est: est.model(pixel_values=x), torch.zeros(1, 3, h, w, device=device)
            )
            print(f"ViTPose-B {w}x{h}: {flops / 1e9:.1f} GFLOP per image forward")
        crops_eval, centers, scales = est._crops([frame], [boxes])
        with tf32(False):
            heat = est.predict_crops(crops_eval)
        kp, _ = est.processor.keypoints_from_heatmaps(heat, centers, scales, kernel=11)
        ref = (kp, heat) if ref is None else ref
        max_px, p99_px = px_diff(kp, ref[0])
        hm_err = float(np.abs(heat - ref[1]).max() / np.abs(ref[1]).max())
        label = amp or "fp32"
        peak = peak_tflops(name, label) if on_gpu else None
        for batch in batches:
            est.batch_size = batch
            row = Row(
                "ViTPose-B",
                f"{label} (TF32 off)" if amp is None else f"{amp} autocast",
                batch,
                max_px=max_px,
                p99_px=p99_px,
                hm_err=hm_err,
            )
            crops, _, _ = est._crops([frame], [eval_boxes(batch, size)])
            try:
                with tf32(False):
                    row.crops_s, row.mem_gb = rate(
                        lambda crops=crops, est=est: est.predict_crops(crops),
                        device,
                        batch,
                        args.warmup,
                        args.iters,
                    )
                if peak:
                    row.peak_frac = row.crops_s * 2 * flops / (peak * 1e12)
                row.note = "network+flip (crops on host)"
            except torch.cuda.OutOfMemoryError:
                row.note = "out of memory"
                torch.cuda.empty_cache()
            rows.append(row)
            print(row.line(), flush=True)
        if not on_gpu:
            continue
        batch = batches[-1]
        est.batch_size = batch
        frames_boxes = eval_boxes(batch, size)
        with tf32(False):
            r, m = rate(
                lambda e=est, b=frames_boxes: e.predict_bboxes([frame], [b]),
                device,
                batch,
                1,
                args.iters,
            )
        row = Row("ViTPose-B", label, batch, r, mem_gb=m, note="from 1080p frames (crop+decode)")
        rows.append(row)
        print(row.line(), flush=True)
    return rows


# ------------------------------------------------------------------------------ ocb infer
def bench_e2e(args, device: torch.device, on_gpu: bool, tmp: Path, vit_folder: Path) -> None:
    amp = "bf16" if on_gpu else None
    frames = args.frames if on_gpu else 2
    videos = (
        [("1920x1080 30 fps", (1920, 1080), 30.0), ("720x1280 60 fps", (720, 1280), 60.0)]
        if on_gpu
        else [("320x240 30 fps", (320, 240), 30.0)]
    )
    if on_gpu:
        det_folder = build_detector_folder(tmp / "rtdetr_r50vd")
        det_label = "RT-DETR R50vd (random weights, 640x640) on key frames, true boxes returned"
    else:
        det_folder = make_tiny_rtdetr(tmp / "rtdetr_tiny")
        det_label = "tiny RT-DETR (random weights, 128x128) on key frames, true boxes returned"
    detector = RTDetrPersonDetector(det_folder, device=device, score_threshold=0.0, amp=amp)
    torch.manual_seed(0)
    hrnet = PoseModel.from_config(W48_CONFIG, device=device)  # BN folded, channels-last
    batch = 64 if on_gpu else 2
    models = {
        "HRNet-W48": BoundPoseModel(hrnet, flip_test=True, amp=amp, batch_size=batch),
        "ViTPose-B": VitPoseEstimator(
            vit_folder, device=device, amp=amp, flip_test=True, batch_size=batch
        ),
    }
    interval = 4
    print(
        f"\nocb infer path (run_pose): {frames} frames per video, flip test, "
        f"{amp or 'fp32'}, detection every {interval} frames, pose batch {batch}\n"
        f"detector: {det_label}"
    )
    print(f"{'video':18s} {'model':10s} {'frames/s':>9s} {'decode-only':>12s} {'detect-only':>12s}")
    for label, size, fps in videos:
        video = write_synthetic_video(
            tmp / f"walk_{size[0]}x{size[1]}.mp4", frames, size, fps=fps, speed_px=BOX_SPEED
        )
        t = time.perf_counter()
        decoded = [f for _, f in VideoSource(video)]
        decode_fps = len(decoded) / (time.perf_counter() - t)
        probe = decoded[: max(1, min(8, len(decoded)))]
        detector.detect(probe[:1])  # warm-up
        sync(device)
        t = time.perf_counter()
        for f in probe:
            detector.detect([f])
        sync(device)
        detect_fps = len(probe) / (time.perf_counter() - t)
        for mname, model in models.items():
            warm = OracleBoxDetector(detector, size, interval)
            opts = PipelineOptions(
                det_interval=interval, max_persons=1, pose_batch=batch, progress=False
            )
            if on_gpu:  # warm-up (cuDNN algorithm search, allocator)
                run_pose(VideoSource(video), model, detector=warm, options=opts)
                sync(device)
            oracle = OracleBoxDetector(detector, size, interval)
            t = time.perf_counter()
            result = run_pose(VideoSource(video), model, detector=oracle, options=opts)
            sync(device)
            e2e = result.num_frames / (time.perf_counter() - t)
            if not np.isfinite(result.keypoints).all():
                raise RuntimeError(f"{label} {mname}: frames without keypoints")
            print(f"{label:18s} {mname:10s} {e2e:9.1f} {decode_fps:12.1f} {detect_fps:12.1f}")
    print(
        "decode-only: cv2 decoding alone (the pipeline decodes on a background thread); "
        f"detect-only: detector calls per second (run on every {interval}th frame)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--iters", type=int, default=10, help="timed calls per GPU measurement")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--frames", type=int, default=300, help="frames per synthetic GPU video")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--skip-vitpose", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="torch.backends.cudnn.benchmark = True (the pipeline itself leaves it off)",
    )
    ap.add_argument("--hrnet-checkpoint", type=Path, default=None, help="real HRNet weights")
    ap.add_argument("--vitpose-folder", type=Path, default=None, help="real ViTPose folder")
    args = ap.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    if not on_gpu:  # the reduced CPU part: one timed call of 2 crops per row
        args.batches, args.warmup, args.iters = [2], 0, 1
    if on_gpu:
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        name = torch.cuda.get_device_name(device)
        peaks = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        print(
            f"device {name}; dense peak TFLOP/s fp32/tf32/bf16: "
            f"{'/'.join(f'{p:g}' for p in peaks) if peaks else 'unknown (no % of peak)'}; "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cudnn.benchmark {torch.backends.cudnn.benchmark}"
        )
    else:
        name = "cpu"
        print(
            f"device cpu ({torch.get_num_threads()} torch threads): reduced CPU part "
            "(batch 2, one timed call per row, 2-frame video, tiny RT-DETR)"
        )
    print(
        "crops/s: person crops per second with the flip test (2 images per crop), crops\n"
        "  already on the device unless the note says 'from 1080p frames'; of peak: crops/s x 2\n"
        "  x forward FLOPs / the dense peak of the row's precision;\n"
        "  max/p99 px: keypoint distance to the first row (fp32) over the same boxes, image px;\n"
        "  heat err: max |heatmap - fp32 heatmap| / max |fp32 heatmap|.  With random weights the\n"
        "  heatmaps are nearly flat, so a rounding-size heat err can move an argmax far: the px\n"
        "  columns mean something only with real weights (--hrnet-checkpoint, --vitpose-folder)\n"
    )
    t0 = time.perf_counter()
    print(HEADER)
    bench_hrnet(args, device, on_gpu, name)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        vit_folder = args.vitpose_folder or vitpose_b_folder(tmp / "vitpose_b")
        if not args.skip_vitpose:
            print()
            print(HEADER)
            bench_vitpose(args, device, on_gpu, name, vit_folder)
        if not args.skip_e2e:
            bench_e2e(args, device, on_gpu, tmp, vit_folder)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if not on_gpu:
        print(
            "GPU part skipped: no CUDA device (run this script on a CUDA machine for the full table)"
        )


if __name__ == "__main__":
    main()
