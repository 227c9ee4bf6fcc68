"""Top-down keypoint datasets that read ``ocb generate-dataset`` annotations (COCO-style JSON).

:class:`SynthPoseDataset` (also registered as MMPose's ``CocoDataset``) yields one sample per
person annotation.  :class:`CombinedDataset` mixes several sources that share one target
keypoint set (sources with fewer keypoints go through ``KeypointConverter``).

Problems in the data are reported, not fatal, where a run can sensibly go on: annotations with
a zero-area box and images that are missing are skipped at load time and counted
(``dataset.skipped``); images that fail to decode during training are skipped and counted by
:meth:`SynthPoseDataset.prepare_data` and the loader draws another sample.  A keypoint count
that disagrees with the metainfo is a configuration error and raises
:class:`AnnotationError`.
"""

from __future__ import annotations

import bisect
import copy
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.dataset import BaseDataset, Compose
from mmengine.logging import print_log

from opencapbench.errors import OCBError
from opencapbench.io.paths import safe_relative
from opencapbench.keypoints import get_keypoint_set, keypoint_set_from_names
from opencapbench.pose.datasets.metainfo import (
    dataset_info_from_keypoint_set,
    parse_metainfo,
    resolve_metainfo,
)
from opencapbench.pose.registry import DATASETS, TRANSFORMS
from opencapbench.pose.transforms.common_transforms import global_rng

#: metainfo entries copied into every sample (augmentations read them).
SAMPLE_META_KEYS = (
    "dataset_name",
    "flip_indices",
    "flip_pairs",
    "upper_body_ids",
    "lower_body_ids",
    "dataset_keypoint_weights",
    "skeleton_links",
)

#: exceptions that mark one sample as bad (unreadable image, degenerate geometry).
SAMPLE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)


class AnnotationError(OCBError, ValueError):
    """An annotation file cannot be used as configured (names the file and the problem)."""


def _build_pipeline(pipeline: Sequence[dict | Callable]) -> list[Callable]:
    """Build transforms from the project's (MMPose-scope) registry, whatever the default scope."""
    return [TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t for t in pipeline]


def metainfo_from_categories(categories: Sequence[dict], source: str) -> dict[str, Any]:
    """Parsed metainfo from a COCO ``categories`` entry (keypoint names, 1-based skeleton).

    A registered keypoint set with exactly these names supplies sigmas, joint weights and
    upper/lower types; otherwise flip partners come from ``left_``/``l_`` name prefixes.
    """
    cats = [c for c in categories if c.get("keypoints")]
    if not cats:
        raise AnnotationError(f"{source}: no category lists keypoint names and no metainfo given")
    names = list(cats[0]["keypoints"])
    for set_name in ("synthpose52", "coco17"):
        kps = get_keypoint_set(set_name)
        if list(kps.names) == names:
            return parse_metainfo(dataset_info_from_keypoint_set(kps), source=source)
    skeleton = [(a - 1, b - 1) for a, b in cats[0].get("skeleton", [])]
    kps = keypoint_set_from_names(cats[0].get("name", "custom"), names, skeleton=skeleton)
    return parse_metainfo(dataset_info_from_keypoint_set(kps), source=source)


@DATASETS.register_module()
class SynthPoseDataset(BaseDataset):
    """One sample per annotated person of a COCO-style keypoint file (top-down).

    Args:
        ann_file: COCO JSON written by ``ocb generate-dataset`` (joined with ``data_root``).
        metainfo: the metainfo file path, ``dict(from_file=path)``, a ``dataset_info`` dict,
            or a keypoint set name; ``None`` derives it from the file's ``categories``.
        data_root: root folder for ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(img=folder)``: image ``file_name`` values are relative to it.
        data_mode: only ``"topdown"``.
        pipeline: transforms (dicts with MMPose type names, or callables).
        test_mode: validation/test dataset (keeps ``raw_ann_info`` for the COCO metric).
        check_images: stat every image at load time and skip annotations whose image is missing.
        lazy_init, max_refetch, indices, serialize_data, filter_cfg: as in mmengine's
            ``BaseDataset``.

    Each sample holds ``img_id``, ``img_path``, ``bbox`` (1,4) xyxy px, ``bbox_score`` (1,),
    ``keypoints`` (1,K,2) px, ``keypoints_visible`` (1,K) (COCO ``v>0`` -> 1),
    ``area`` (1,), ``id``, ``category_id``, ``iscrowd``, ``num_keypoints`` and the metainfo
    entries of :data:`SAMPLE_META_KEYS`.
    """

    METAINFO: dict = dict()

    def __init__(
        self,
        ann_file: str = "",
        metainfo: Any = None,
        data_root: str = "",
        data_prefix: dict | None = None,
        data_mode: str = "topdown",
        filter_cfg: dict | None = None,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        check_images: bool = True,
    ) -> None:
        if data_mode != "topdown":
            raise ValueError(f"{type(self).__name__} supports data_mode='topdown' only")
        self.data_mode = data_mode
        self.check_images = check_images
        self.skipped: Counter[str] = Counter()
        self.skipped_examples: dict[str, list[str]] = {}
        self.failed_samples = 0
        self._metainfo_spec = metainfo
        super().__init__(
            ann_file=ann_file,
            metainfo=None,
            data_root=data_root,
            data_prefix=dict(img="") if data_prefix is None else dict(data_prefix),
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=_build_pipeline(pipeline),
            test_mode=test_mode,
            lazy_init=True,
            max_refetch=max_refetch,
        )
        if metainfo is not None:
            self._metainfo = resolve_metainfo(metainfo)
        if not lazy_init:
            self.full_init()

    # ---------------------------------------------------------------- loading
    def _skip(self, reason: str, example: str) -> None:
        self.skipped[reason] += 1
        examples = self.skipped_examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(example)

    def load_data_list(self) -> list[dict]:
        path = Path(self.ann_file)
        if not path.is_file():
            raise AnnotationError(f"annotation file {path} does not exist")
        try:
            with open(path, encoding="utf-8") as fh:
                coco = json.load(fh)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"{path} is not valid JSON: {err}") from err
        for key in ("images", "annotations"):
            if key not in coco:
                raise AnnotationError(f"{path} has no `{key}` list (not a COCO keypoint file)")
        if self._metainfo_spec is None:
            self._metainfo = metainfo_from_categories(coco.get("categories", []), str(path))
        num_k = int(self._metainfo["num_keypoints"])
        for cat in coco.get("categories", []):
            names = cat.get("keypoints")
            if names is not None and len(names) != num_k:
                raise AnnotationError(
                    f"{path}: category {cat.get('name', cat.get('id'))!r} lists {len(names)} "
                    f"keypoints but the metainfo ({self._metainfo['dataset_name']}) has {num_k}"
                )
        images = {img["id"]: img for img in coco["images"]}
        img_root = self.data_prefix.get("img", "")
        exists: dict[Any, bool] = {}
        data_list = []
        for ann in coco["annotations"]:
            tag = f"{path.name} annotation id={ann.get('id')} image_id={ann.get('image_id')}"
            kpts = ann.get("keypoints")
            if kpts is None or len(kpts) != 3 * num_k:
                got = "no" if kpts is None else f"{len(kpts) // 3} ({len(kpts)} values)"
                raise AnnotationError(
                    f"{tag}: has {got} keypoints but the metainfo has {num_k} "
                    f"(expected {3 * num_k} values [x, y, v] per annotation)"
                )
            img = images.get(ann.get("image_id"))
            if img is None:
                self._skip("unknown image_id", tag)
                continue
            if ann.get("iscrowd", 0):
                continue
            kp = np.asarray(kpts, np.float32).reshape(1, num_k, 3)
            visible = np.minimum(1.0, kp[..., 2]).astype(np.float32)
            if not visible.any():
                self.skipped["no labelled keypoints"] += 1
                continue
            width, height = img.get("width"), img.get("height")
            x, y, w, h = (float(v) for v in ann.get("bbox", (0, 0, 0, 0)))
            x1, y1, x2, y2 = x, y, x + w, y + h
            if width and height:
                x1, x2 = np.clip([x1, x2], 0, width)
                y1, y2 = np.clip([y1, y2], 0, height)
            if not (x2 - x1 > 0 and y2 - y1 > 0) or not np.isfinite([x1, y1, x2, y2]).all():
                self._skip("zero-area box", f"{tag} bbox={ann.get('bbox')}")
                continue
            img_path = (
                str(
                    safe_relative(
                        img["file_name"], img_root, f"file_name of image {img['id']} in {path}"
                    )
                )
                if img_root
                else img["file_name"]  # no image root: the file names are the user's own paths
            )
            if self.check_images:
                if img["id"] not in exists:
                    exists[img["id"]] = os.path.isfile(img_path)
                if not exists[img["id"]]:
                    self._skip("missing image", img_path)
                    continue
            info = dict(
                img_id=img["id"],
                img_path=img_path,
                bbox=np.array([[x1, y1, x2, y2]], np.float32),
                bbox_score=np.ones(1, np.float32),
                keypoints=kp[..., :2].copy(),
                keypoints_visible=visible,
                num_keypoints=int(ann.get("num_keypoints", int((kp[..., 2] > 0).sum()))),
                area=np.array([ann["area"] if "area" in ann else box_area(w, h)], np.float32),
                iscrowd=int(ann.get("iscrowd", 0)),
                category_id=int(ann.get("category_id", 1)),
                id=ann.get("id"),
            )
            if self.test_mode:
                info["raw_ann_info"] = copy.deepcopy(ann)
            data_list.append(info)
        self._report_skipped(len(data_list))
        if not data_list:
            raise AnnotationError(
                f"{path}: no usable annotation (skipped: {dict(self.skipped) or 'none'})"
            )
        return data_list

    def _report_skipped(self, kept: int) -> None:
        bad = {k: v for k, v in self.skipped.items() if k != "no labelled keypoints"}
        msg = f"{type(self).__name__}({self.ann_file}): {kept} instances"
        if self.skipped:
            msg += f"; skipped {dict(self.skipped)}"
        print_log(msg, logger="current", level=logging.INFO)
        for reason in bad:
            print_log(
                f"skipped {bad[reason]} annotation(s) for {reason!r}, e.g. "
                + "; ".join(self.skipped_examples.get(reason, [])),
                logger="current",
                level=logging.WARNING,
            )

    # ---------------------------------------------------------------- samples
    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        for key in SAMPLE_META_KEYS:
            if key in self._metainfo:
                info[key] = copy.deepcopy(self._metainfo[key])
        return info

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``; a bad sample returns None (training) so the
        loader draws another, and is counted in ``failed_samples``."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except SAMPLE_ERRORS as err:
            if self.test_mode:
                raise type(err)(f"sample {idx} ({info.get('img_path')}): {err}") from err
            self.failed_samples += 1
            print_log(
                f"skipping bad sample {idx} ({info.get('img_path')}): {err} "
                f"[{self.failed_samples} skipped in this worker]",
                logger="current",
                level=logging.WARNING,
            )
            return None


@DATASETS.register_module(name="CocoDataset")
class CocoStyleDataset(SynthPoseDataset):
    """:class:`SynthPoseDataset` under MMPose's ``CocoDataset`` type name (COCO-17 by default)."""

    def __init__(self, *args: Any, metainfo: Any = None, **kwargs: Any) -> None:
        if metainfo is None:
            metainfo = "coco17"
        super().__init__(*args, metainfo=metainfo, **kwargs)


@DATASETS.register_module()
class CombinedDataset(BaseDataset):
    """Several datasets mapped to one keypoint set, concatenated.

    Args:
        metainfo: metainfo of the target keypoint set (see :func:`resolve_metainfo`).
        datasets: dataset configs; each one's own pipeline maps it to the target set
            (``KeypointConverter``), the shared ``pipeline`` then loads and augments.
        pipeline: transforms applied to every sample after the source's own.
        test_mode: as in ``BaseDataset``.
        max_refetch: attempts to replace a bad sample (drawn from the same source).

    ``cumulative_sizes[i]`` is the first index after source ``i``; samplers such as
    ``MultiSourceSampler`` use it to draw sources with given ratios.
    """

    def __init__(
        self,
        metainfo: Any,
        datasets: Sequence[dict | BaseDataset],
        pipeline: Sequence[dict | Callable] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
    ) -> None:
        self._metainfo = resolve_metainfo(metainfo)
        self.datasets = [DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        self.pipeline = Compose(_build_pipeline(pipeline))
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self.failed_samples = 0
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for ds in self.datasets:
            ds.full_init()
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()
        self._fully_initialized = True

    def __len__(self) -> int:
        self.full_init()
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def locate(self, idx: int) -> tuple[int, int]:
        """(source index, index within the source) of combined index ``idx``."""
        if idx < 0:
            idx += len(self)
        source = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[source - 1] if source else 0
        return source, idx - start

    def get_data_info(self, idx: int) -> dict:
        """The sample after its source's own pipeline, with the target metainfo entries."""
        source, local = self.locate(idx)
        info = self.datasets[source][local]
        k = self._metainfo["num_keypoints"]
        if info["keypoints"].shape[1] != k:
            raise AnnotationError(
                f"source {source} ({type(self.datasets[source]).__name__}) gives "
                f"{info['keypoints'].shape[1]} keypoints but the combined metainfo has {k}; "
                "add a KeypointConverter to that source's pipeline"
            )
        for key in SAMPLE_META_KEYS:
            if key in self._metainfo:
                info[key] = copy.deepcopy(self._metainfo[key])
        info["source_index"] = source
        return info

    def prepare_data(self, idx: int) -> Any:
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except SAMPLE_ERRORS as err:
            if self.test_mode:
                raise
            self.failed_samples += 1
            print_log(
                f"skipping bad sample {idx} ({info.get('img_path')}): {err}",
                logger="current",
                level=logging.WARNING,
            )
            return None

    def __getitem__(self, idx: int) -> Any:
        self.full_init()
        if self.test_mode:
            return self.prepare_data(idx)
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                return data
            source, _ = self.locate(idx)  # redraw from the same source to keep the mix
            start = self.cumulative_sizes[source - 1] if source else 0
            idx = int(global_rng().randint(start, self.cumulative_sizes[source]))
        raise RuntimeError(f"CombinedDataset: {self.max_refetch} bad samples in a row")


#: MMPose's OKS scale of an instance without a segmentation area: this fraction of its box
BOX_AREA_FRACTION = 0.53


def box_area(w: float, h: float) -> float:
    """The COCO ``area`` (OKS scale, px²) MMPose gives a person box without segmentation:
    ``max(0.53 w h, 1)``, so AP here is comparable to MMPose's on the same annotations."""
    return max(BOX_AREA_FRACTION * float(w) * float(h), 1.0)
