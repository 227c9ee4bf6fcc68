"""A tiny synthetic keypoint dataset whose keypoints are visible in the image.

Each person is a set of coloured discs (one per keypoint; left/right partners share a colour
and keep their anatomical side: a person faces the camera, so ``right_*`` lies left of
``left_*`` in the image, which keeps horizontal-flip augmentation consistent).  Files follow the
``ocb generate-dataset`` layout: a COCO keypoint JSON per split, the MMPose metainfo as JSON,
and the images.  Used by the tests, the speed benchmark and the docs' quick start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opencapbench.io.atomic import atomic_path, atomic_write

#: keypoint name -> (BGR colour, nominal position in a unit box (x right, y down), type)
TOY_KEYPOINTS: dict[str, tuple[tuple[int, int, int], tuple[float, float], str]] = {
    "nose": ((0, 255, 255), (0.5, 0.12), "upper"),
    "right_hand": ((0, 0, 255), (0.15, 0.45), "upper"),
    "left_hand": ((0, 0, 255), (0.85, 0.45), "upper"),
    "right_foot": ((255, 64, 0), (0.3, 0.9), "lower"),
    "left_foot": ((255, 64, 0), (0.7, 0.9), "lower"),
    "pelvis": ((0, 255, 0), (0.5, 0.55), "lower"),
}


@dataclass(frozen=True)
class ToyDataset:
    """Paths of a written toy dataset (all inside ``root``)."""

    root: Path
    train_ann: Path
    val_ann: Path
    metainfo: Path
    image_dir: Path


def toy_dataset_info(num_keypoints: int) -> dict:
    """MMPose ``dataset_info`` of the first ``num_keypoints`` toy keypoints (4..6)."""
    names = list(TOY_KEYPOINTS)[:num_keypoints]
    if num_keypoints < 4 or num_keypoints > len(TOY_KEYPOINTS):
        raise ValueError(f"toy datasets have 4..{len(TOY_KEYPOINTS)} keypoints")

    def swap(n: str) -> str:
        partner = n.replace("left", "right") if "left" in n else n.replace("right", "left")
        return partner if partner != n and partner in names else ""

    kinfo = {
        i: dict(
            name=n,
            id=i,
            color=list(TOY_KEYPOINTS[n][0][::-1]),
            type=TOY_KEYPOINTS[n][2],
            swap=swap(n),
        )
        for i, n in enumerate(names)
    }
    return dict(
        dataset_name=f"toy{num_keypoints}",
        paper_info=dict(),
        keypoint_info=kinfo,
        skeleton_info={0: dict(link=(names[0], names[1]), id=0, color=[0, 255, 0])},
        joint_weights=[1.0] * num_keypoints,
        sigmas=[0.05] * num_keypoints,
    )


def render_person(
    img: np.ndarray, box: np.ndarray, num_keypoints: int, rng: np.random.Generator, jitter: float
) -> np.ndarray:
    """Draw one toy person into ``img`` (in place) inside ``box`` (x, y, w, h) px.

    Keypoints are the nominal positions jittered by up to ``jitter`` of the box size
    (uniform), kept inside the box.  Returns (K, 2) keypoint pixel coordinates.
    """
    x, y, w, h = box
    names = list(TOY_KEYPOINTS)[:num_keypoints]
    nominal = np.array([TOY_KEYPOINTS[n][1] for n in names])
    unit = np.clip(nominal + rng.uniform(-jitter, jitter, nominal.shape), 0.05, 0.95)
    # keep the right/left order of partners (a person facing the camera)
    for i, n in enumerate(names):
        if n.startswith("right_") and ("left_" + n[6:]) in names:
            j = names.index("left_" + n[6:])
            if unit[i, 0] > unit[j, 0] - 0.15:
                mid = (unit[i, 0] + unit[j, 0]) / 2
                unit[i, 0], unit[j, 0] = mid - 0.1, mid + 0.1
    kps = np.stack([x + unit[:, 0] * w, y + unit[:, 1] * h], axis=1)
    radius = max(2, int(round(0.05 * min(w, h))))
    for n, (px, py) in zip(names, kps, strict=True):
        # draw at 1/16 px precision so the disc centre is the sub-pixel keypoint
        centre = (int(round(px * 16)), int(round(py * 16)))
        cv2.circle(img, centre, radius * 16, TOY_KEYPOINTS[n][0], -1, cv2.LINE_AA, shift=4)
    return kps


def write_toy_dataset(
    root: str | os.PathLike,
    num_train: int = 64,
    num_val: int = 16,
    num_keypoints: int = 5,
    image_size: tuple[int, int] = (96, 96),
    jitter: float = 0.12,
    seed: int = 0,
) -> ToyDataset:
    """Write a toy dataset: ``images/``, ``annotations/{train,val}.json``, ``metainfo.json``.

    Args:
        root: output folder.
        num_train, num_val: number of images (one person each) per split.
        num_keypoints: K (4..6).
        image_size: (width, height) of the images, px.
        jitter: keypoint jitter as a fraction of the person box.
        seed: random seed (the dataset is a pure function of the arguments).
    """
    root = Path(root)
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    info = toy_dataset_info(num_keypoints)
    names = [info["keypoint_info"][i]["name"] for i in range(num_keypoints)]
    categories = [
        dict(id=1, name="person", supercategory="person", keypoints=names, skeleton=[[1, 2]])
    ]
    width, height = image_size
    anns: dict[str, Path] = {}
    for split, count in (("train", num_train), ("val", num_val)):
        images, annotations = [], []
        for i in range(count):
            img = rng.integers(40, 90, size=(height, width, 3), dtype=np.uint8)
            bw = rng.uniform(0.45, 0.7) * width
            bh = rng.uniform(0.6, 0.85) * height
            bx = rng.uniform(0, width - bw)
            by = rng.uniform(0, height - bh)
            kps = render_person(img, np.array([bx, by, bw, bh]), num_keypoints, rng, jitter)
            file_name = f"{split}_{i:05d}.png"
            with atomic_path(image_dir / file_name) as tmp:
                cv2.imwrite(str(tmp), img)
            img_id = len(images) + 1
            images.append(dict(id=img_id, file_name=file_name, width=width, height=height))
            flat = np.concatenate([kps, np.full((num_keypoints, 1), 2.0)], axis=1)
            annotations.append(
                dict(
                    id=img_id,
                    image_id=img_id,
                    category_id=1,
                    iscrowd=0,
                    keypoints=np.round(flat, 3).reshape(-1).tolist(),
                    num_keypoints=num_keypoints,
                    bbox=[round(float(v), 3) for v in (bx, by, bw, bh)],
                    area=round(float(bw * bh), 3),
                )
            )
        path = root / "annotations" / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            json.dump(dict(images=images, annotations=annotations, categories=categories), fh)
        anns[split] = path
    meta = root / "metainfo.json"
    with atomic_write(meta) as fh:
        json.dump(info, fh, indent=1)
    return ToyDataset(root, anns["train"], anns["val"], meta, image_dir)
