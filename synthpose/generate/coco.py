"""COCO keypoint JSON and MMPose dataset metainfo for a marker set.

Output contract (read by ``ocb finetune`` and by MMPose's ``CocoDataset`` given the metainfo):

* ``images``: ``id``, ``file_name`` (relative to the image root), ``width``, ``height``, plus
  ``source`` (source file) and ``frame`` (frame number in that source).
* ``annotations``: ``id``, ``image_id``, ``category_id`` 1, ``iscrowd`` 0, ``bbox``
  ``[x, y, w, h]`` (pixels, box of the whole projected mesh clipped to the image), ``area``
  (``w * h``), ``keypoints`` flat ``[x, y, v] * K`` in marker-file order, ``num_keypoints``
  (count of ``v > 0``).  ``v``: 0 outside the image (x = y = 0), 1 hidden by the body itself,
  2 visible.
* ``categories``: one ``person`` category with ``keypoints`` (names) and ``skeleton``
  (1-based index pairs, COCO convention).
* metainfo: ``dataset_info = dict(dataset_name, paper_info, keypoint_info, skeleton_info,
  joint_weights, sigmas)`` as a python file (``metainfo=dict(from_file=...)``) and as JSON.
"""

from __future__ import annotations

import json
import os
import pprint
from pathlib import Path

import numpy as np

from opencapbench.io.atomic import atomic_write
from opencapbench.io.paths import safe_component
from opencapbench.pose.datasets.coco import box_area
from synthpose.markers import MarkerSet

CATEGORY_ID = 1
FORMAT_VERSION = 1


def categories(ms: MarkerSet) -> list[dict]:
    """COCO ``categories`` for the marker set (1-based skeleton)."""
    return [
        {
            "id": CATEGORY_ID,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(ms.names),
            "skeleton": [[a + 1, b + 1] for a, b in ms.skeleton_indices],
        }
    ]


def annotation_record(
    ann_id: int, image_id: int, keypoints: np.ndarray, bbox_xyxy: np.ndarray, decimals: int = 3
) -> dict:
    """One COCO annotation.

    Args:
        ann_id, image_id: ids.
        keypoints: (K, 3) x, y, v (pixels, flag).
        bbox_xyxy: (4,) x1, y1, x2, y2 pixels.
        decimals: rounding of coordinates in the JSON.
    """
    kp = np.asarray(keypoints, dtype=float).copy()
    v = kp[:, 2].astype(int)
    kp[v == 0, :2] = 0.0
    x1, y1, x2, y2 = (float(c) for c in bbox_xyxy)
    w, h = x2 - x1, y2 - y1
    flat = []
    for (x, y), vis in zip(kp[:, :2], v, strict=True):
        flat += [round(float(x), decimals), round(float(y), decimals), int(vis)]
    return {
        "id": int(ann_id),
        "image_id": int(image_id),
        "category_id": CATEGORY_ID,
        "iscrowd": 0,
        "bbox": [round(x1, decimals), round(y1, decimals), round(w, decimals), round(h, decimals)],
        "area": round(box_area(w, h), decimals),
        "keypoints": flat,
        "num_keypoints": int((v > 0).sum()),
    }


def coco_document(images: list[dict], annotations: list[dict], ms: MarkerSet, info: dict) -> dict:
    return {
        "info": {"format_version": FORMAT_VERSION, "marker_set": ms.name, **info},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories(ms),
    }


def write_json(path: str | os.PathLike, doc: dict) -> Path:
    """Write JSON atomically (compact)."""
    path = Path(path)
    with atomic_write(path) as fh:
        json.dump(doc, fh, separators=(",", ":"))
    return path


def dataset_info(ms: MarkerSet) -> dict:
    """MMPose ``dataset_info`` dict of a marker set (swap partners, sigmas, weights)."""
    names = ms.names
    keypoint_info = {}
    for i, m in enumerate(ms.markers):
        keypoint_info[i] = dict(
            name=m.name,
            id=i,
            color=[255, 128, 0] if m.upper else [0, 128, 255],
            type="upper" if m.upper else "lower",
            swap=m.swap,
        )
    skeleton_info = {
        j: dict(link=(names[a], names[b]), id=j, color=[0, 255, 0])
        for j, (a, b) in enumerate(ms.skeleton_indices)
    }
    return dict(
        dataset_name=ms.name,
        paper_info=dict(
            title="OpenCapBench: A Benchmark to Bridge Pose Estimation and Biomechanics",
            container="WACV",
            year="2025",
        ),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[m.weight for m in ms.markers],
        sigmas=[m.sigma for m in ms.markers],
    )


def write_metainfo(out_dir: str | os.PathLike, ms: MarkerSet) -> tuple[Path, Path]:
    """Write ``<out>/<name>_metainfo.py`` (MMPose format) and ``<out>/<name>_metainfo.json``."""
    out_dir = Path(out_dir)
    name = safe_component(ms.name, f"marker set name of {ms.source or 'the marker set'}")
    info = dataset_info(ms)
    py = out_dir / f"{name}_metainfo.py"
    with atomic_write(py) as fh:
        fh.write(
            f'"""MMPose dataset metainfo of marker set {ms.name!r} (ocb generate-dataset)."""\n\n'
        )
        fh.write("dataset_info = " + pprint.pformat(info, sort_dicts=False, width=100) + "\n")
    js = out_dir / f"{name}_metainfo.json"
    with atomic_write(js) as fh:
        json.dump(info, fh, indent=1)
    return py, js
