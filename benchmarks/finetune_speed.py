"""Training throughput of ``ocb finetune``: images per second with and without mixed precision,
and how much of each step waits for data (mmengine's ``data_time`` vs ``time``).

The run uses the given config's model, train pipeline and optimizer on a generated dataset
(random keypoints in JPEG images of the chosen size, all keypoints labelled, so target
generation costs what it costs on real annotations), one mmengine ``Runner`` per precision.

    python benchmarks/finetune_speed.py                               # tiny config, CPU
    python benchmarks/finetune_speed.py --device cuda --num-workers 8 --batch-size 32 \\
        --config configs/synthpose/td-hm_hrnet-w48_dark-8xb32-30e_synthpose-384x288.py \\
        --image-size 1280x720 --iters 60                              # H100 target

AMP is fp16 + dynamic loss scaling on CUDA (mmengine ``AmpOptimWrapper``) and bf16 autocast on
CPU (reported as n/a when the CPU has no native bf16).  The first ``--warmup`` iterations
(worker start, cuDNN autotuning) are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config", default=str(REPO / "configs/synthpose/tiny_cpu.py"))
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--iters", type=int, default=40, help="timed iterations per precision")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations per precision")
    p.add_argument("--image-size", default="320x240", help="WxH of the generated images")
    p.add_argument("--amp", choices=["both", "off", "on"], default="both")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--data", default=None, help="reuse a dataset folder written by this script")
    return p.parse_args()


def write_random_dataset(
    root: Path, num_images: int, size: tuple[int, int], dataset_info: dict, metainfo: dict
) -> Path:
    """JPEG images with one person box and K labelled keypoints each, COCO JSON + metainfo."""
    import cv2
    import numpy as np

    from opencapbench.io.atomic import atomic_write

    rng = np.random.default_rng(0)
    w, h = size
    k = metainfo["num_keypoints"]
    names = [metainfo["keypoint_id2name"][i] for i in range(k)]
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    base = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 5)
    for i in range(num_images):
        img = np.roll(base, shift=int(rng.integers(0, w)), axis=1)
        bw, bh = rng.uniform(0.2, 0.4) * w, rng.uniform(0.5, 0.9) * h
        bx, by = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        kp = np.column_stack(
            [bx + rng.uniform(0, bw, k), by + rng.uniform(0, bh, k), np.full(k, 2.0)]
        )
        for x, y, _ in kp:
            cv2.circle(img, (int(x), int(y)), 3, (255, 255, 255), -1)
        name = f"{i:06d}.jpg"
        cv2.imwrite(str(root / "images" / name), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append(dict(id=i + 1, file_name=name, width=w, height=h))
        anns.append(
            dict(
                id=i + 1,
                image_id=i + 1,
                category_id=1,
                iscrowd=0,
                num_keypoints=k,
                keypoints=np.round(kp, 2).reshape(-1).tolist(),
                bbox=[bx, by, bw, bh],
                area=bw * bh,
            )
        )
    cat = dict(id=1, name="person", keypoints=names, skeleton=[])
    (root / "metainfo.py").write_text(f"dataset_info = {dataset_info!r}\n")
    (root / "annotations").mkdir(exist_ok=True)
    with atomic_write(root / "annotations" / "train.json") as fh:
        json.dump(dict(images=images, annotations=anns, categories=[cat]), fh)
    return root


def bench_config(args, data_root: Path, metainfo: dict, amp: bool, work_dir: Path):
    from synthpose.finetune.runner import build_config

    precision = ("fp16" if args.device == "cuda" else "bf16") if amp else "none"
    cfg = build_config(args.config, work_dir=work_dir, amp=precision, device=args.device)
    cfg.model.backbone.init_cfg = None  # weights do not matter for speed; no download
    cfg.model.head.out_channels = metainfo["num_keypoints"]
    pipeline = cfg.train_dataloader.dataset.get("pipeline") or cfg.get("train_pipeline")
    n = (args.iters + args.warmup) * args.batch_size
    cfg.train_dataloader = dict(
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0,
        pin_memory=args.device == "cuda",
        sampler=dict(type="DefaultSampler", shuffle=True),
        dataset=dict(
            type="SynthPoseDataset",
            ann_file=str(data_root / "annotations/train.json"),
            data_prefix=dict(img=str(data_root / "images")),
            metainfo=dict(from_file=str(data_root / "metainfo.py")),
            indices=n,
            pipeline=pipeline,
        ),
    )
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=10**6)
    cfg.log_level = "WARNING"
    return cfg


def run_one(args, data_root: Path, metainfo: dict, amp: bool) -> dict:
    import numpy as np
    from mmengine.hooks import Hook

    from synthpose.finetune.runner import build_runner

    class Times(Hook):
        def __init__(self) -> None:
            self.time: list[float] = []
            self.data: list[float] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            hub = runner.message_hub
            self.time.append(hub.get_scalar("train/time").current())
            self.data.append(hub.get_scalar("train/data_time").current())

    with tempfile.TemporaryDirectory() as work:
        runner = build_runner(bench_config(args, data_root, metainfo, amp, Path(work)))
        rec = Times()
        runner.register_hook(rec, priority="LOWEST")
        runner.train()
    t = np.asarray(rec.time[args.warmup :])
    d = np.asarray(rec.data[args.warmup :])
    return dict(
        iters=len(t),
        step_s=float(t.mean()),
        data_s=float(d.mean()),
        data_pct=float(100 * d.sum() / t.sum()),
        img_per_s=float(args.batch_size / t.mean()),
    )


def main() -> int:
    args = parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.config import Config

    import opencapbench.pose.registry_all  # noqa: F401
    from opencapbench.pose.datasets.metainfo import dataset_info_from_keypoint_set, parse_metainfo
    from opencapbench.pose.engine.optim_wrapper import cpu_bf16_supported
    from synthpose.finetune.toy_data import toy_dataset_info

    cfg = Config.fromfile(args.config)
    k = int(cfg.model.head.out_channels)
    if k == 52:
        from opencapbench.keypoints import get_keypoint_set

        info = dataset_info_from_keypoint_set(get_keypoint_set("synthpose52"))
    else:
        info = toy_dataset_info(k)
    metainfo = parse_metainfo(info)
    w, h = (int(v) for v in args.image_size.lower().split("x"))
    n = (args.iters + args.warmup) * args.batch_size
    tmp = None
    if args.data:
        data_root = Path(args.data)
        if not (data_root / "annotations/train.json").is_file():
            write_random_dataset(data_root, n, (w, h), info, metainfo)
    else:
        tmp = tempfile.TemporaryDirectory()
        data_root = write_random_dataset(Path(tmp.name), n, (w, h), info, metainfo)

    rows = []
    for amp in [False, True] if args.amp == "both" else [args.amp == "on"]:
        label = "fp32"
        if amp:
            label = "fp16 AMP" if args.device == "cuda" else "bf16 autocast"
            if args.device == "cpu" and not cpu_bf16_supported():
                rows.append((label, None))
                continue
        rows.append((label, run_one(args, data_root, metainfo, amp)))

    dev = (
        torch.cuda.get_device_name(0)
        if args.device == "cuda"
        else f"CPU x{torch.get_num_threads()} threads"
    )
    print(
        f"\nconfig {Path(args.config).name}  device {dev}  batch {args.batch_size}  "
        f"workers {args.num_workers}  images {w}x{h}  K={k}  timed iters {args.iters}"
    )
    print(f"{'precision':<15}{'img/s':>10}{'step s':>10}{'data s':>10}{'data %':>9}")
    for label, r in rows:
        if r is None:
            print(f"{label:<15}{'n/a (no native bf16 on this CPU)':>39}")
        else:
            print(
                f"{label:<15}{r['img_per_s']:>10.1f}{r['step_s']:>10.4f}{r['data_s']:>10.4f}{r['data_pct']:>8.1f}%"
            )
    if len(rows) == 2 and all(r for _, r in rows):
        print(f"AMP speed-up: x{rows[1][1]['img_per_s'] / rows[0][1]['img_per_s']:.2f}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
