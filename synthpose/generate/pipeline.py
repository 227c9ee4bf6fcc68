"""Run a source through the annotator: shards per source file, resume, merge, metainfo.

Output folder::

    <out>/shards/<split>/<unit>.json    one per source file (resume skips finished ones)
    <out>/annotations/<split>.json      merged COCO keypoint JSON (ids renumbered)
    <out>/<set>_metainfo.py|.json       MMPose dataset_info of the marker set
    <out>/status/<split>/<unit>.json    the unit's ledger (done with its settings, or failed)
    <out>/failures.csv                  one row per source file that failed: item, step, error, message
    <out>/skipped_frames.json           frames skipped for NaN/inf parameters, with the keys
    <out>/images/                       frames exported from videos (Infinity)
    <out>/crops/<split>/                optional person-centred crops

Every file is written atomically; a unit's shard only appears once it is complete, so an
interrupted run resumes where it stopped.  A corrupt source file is reported by name and
skipped; the other units are still written (and ``ocb generate-dataset`` exits 1).  A frame
whose parameters or camera hold NaN/inf is skipped, logged and recorded by frame and key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from opencapbench.benchmark.shard import Shard, shard_units
from opencapbench.io.atomic import atomic_path
from opencapbench.io.paths import safe_component, safe_relative
from opencapbench.ledger import Ledger, digest, failures_table
from synthpose.generate.annotate import Annotator
from synthpose.generate.body_model import BodyModelError, BodyModelSpec, SkinnedSMPLX, load_smplx
from synthpose.generate.coco import annotation_record, coco_document, write_json, write_metainfo
from synthpose.generate.sources.base import FrameBatch, Source
from synthpose.markers import MarkerFileError, MarkerSet, check_symmetry, load_marker_set

log = logging.getLogger(__name__)


@dataclass
class GenerateOptions:
    """Options of one generation run (see ``ocb generate-dataset --help``)."""

    smplx_dir: Path
    out: Path
    markers: Path | None = None
    occlusion: bool = True
    exact_bbox: bool = False
    occlusion_tol_m: float = 0.02
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    split: str = "train"
    val_fraction: float = 0.0
    image_root: Path | None = None
    crops: bool = False
    crop_padding: float = 1.25
    min_keypoints: int = 1
    extra: dict = field(default_factory=dict)
    #: ``--shard I/N``: process only this share of the source files (not in the fingerprint:
    #: every shard's files merge into one output)
    shard: Shard | None = None

    def fingerprint(self, ms: MarkerSet) -> dict:
        """Settings that change a shard's content (a shard made otherwise is redone)."""
        return {
            "markers": ms.name,
            "keypoints": len(ms.names),
            "occlusion": self.occlusion,
            "exact_bbox": self.exact_bbox or self.occlusion,
            "occlusion_tol_m": self.occlusion_tol_m,
        }


def split_of(unit: str, split: str, val_fraction: float) -> str:
    """``split``, or ``"val"`` for a deterministic ``val_fraction`` of units (by name hash)."""
    if val_fraction <= 0:
        return split
    h = int(hashlib.sha1(unit.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else split


def _safe(unit: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "__", unit)


class Generator:
    """Annotators per body-model spec (models are loaded once and cached)."""

    def __init__(self, opts: GenerateOptions, ms: MarkerSet) -> None:
        self.opts = opts
        self.ms = ms
        self._cache: dict[BodyModelSpec, Annotator] = {}

    def annotator(self, spec: BodyModelSpec) -> Annotator:
        if spec not in self._cache:
            model = load_smplx(self.opts.smplx_dir, spec, dtype=self.opts.dtype)
            body = SkinnedSMPLX(model, device=self.opts.device, dtype=self.opts.dtype)
            self._cache[spec] = Annotator(
                body,
                self.ms,
                occlusion=self.opts.occlusion,
                exact_bbox=self.opts.exact_bbox,
                occlusion_tol_m=self.opts.occlusion_tol_m,
            )
        return self._cache[spec]

    def annotate(self, batch: FrameBatch):
        return self.annotator(batch.spec)(batch.params, batch.cams, batch.align_to)


def _crop(image_root: Path, file_name: str, bbox: np.ndarray, padding: float, out: Path):
    import cv2

    img = cv2.imread(str(safe_relative(file_name, image_root, "image file_name")))
    if img is None:
        return None
    x1, y1, x2, y2 = bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = padding * max(x2 - x1, y2 - y1) / 2
    h, w = img.shape[:2]
    a, b = int(max(0, cx - half)), int(max(0, cy - half))
    c, d = int(min(w, cx + half)), int(min(h, cy + half))
    if c <= a or d <= b:
        return None
    with atomic_path(out) as tmp:
        cv2.imwrite(str(tmp), img[b:d, a:c])
    return [a, b]


def process_unit(gen: Generator, source: Source, unit: str, split: str, bar: tqdm) -> dict:
    """Annotate one source file; returns its shard (images/annotations with local ids)."""
    opts = gen.opts
    images: dict[str, dict] = {}
    annotations: list[dict] = []
    exported: list[int] = []
    frames = 0
    nonfinite: dict[str, list[str]] = {}  # frame number -> keys holding NaN/inf
    for batch in source.read(unit):
        ann = gen.annotate(batch)
        bar.update(len(batch))
        frames += len(batch)
        bad = batch.nonfinite()
        for i, keys in bad.items():
            nonfinite[str(batch.frames[i])] = keys
        for i in range(len(batch)):
            if i in bad:
                continue
            kp = ann.keypoints[i]
            if not ann.valid[i] or int((kp[:, 2] > 0).sum()) < opts.min_keypoints:
                continue
            name = batch.file_names[i]
            if name not in images:
                w, h = (int(x) for x in (batch.cams.out_size if batch.cams.out_size is not None
                                         else batch.cams.image_size)[i])  # fmt: skip
                images[name] = dict(
                    id=len(images), file_name=name, width=w, height=h, source=unit,
                    frame=int(batch.frames[i]),
                )  # fmt: skip
                exported.append(int(batch.frames[i]))
            rec = annotation_record(len(annotations), images[name]["id"], kp, ann.bbox[i])
            if opts.crops and opts.image_root is not None:
                crop = opts.out / "crops" / split / _safe(unit) / f"{len(annotations):06d}.png"
                origin = _crop(opts.image_root, name, ann.bbox[i], opts.crop_padding, crop)
                if origin is not None:
                    rec["crop_file"] = str(crop.relative_to(opts.out))
                    rec["crop_origin"] = origin
            annotations.append(rec)
    if nonfinite:
        first = next(iter(nonfinite.items()))
        log.warning(
            "%s: %d frame(s) skipped, their parameters hold NaN/inf (frame %s: %s)",
            unit, len(nonfinite), first[0], ", ".join(first[1]),
        )  # fmt: skip
    source.export_images(unit, exported, opts.out / "images")
    return {"unit": unit, "split": split, "settings": gen.opts.fingerprint(gen.ms),
            "frames_read": frames, "images": list(images.values()),
            "annotations": annotations, "nonfinite_frames": nonfinite}  # fmt: skip


def merge_shards(shards: list[dict], ms: MarkerSet, info: dict) -> dict:
    """One COCO document from unit shards (image and annotation ids renumbered from 1)."""
    images, annotations = [], []
    by_name: dict[str, int] = {}
    for shard in shards:
        local = {}
        for im in shard["images"]:
            if im["file_name"] not in by_name:
                by_name[im["file_name"]] = len(images) + 1
                images.append({**im, "id": len(images) + 1})
            local[im["id"]] = by_name[im["file_name"]]
        for a in shard["annotations"]:
            annotations.append({**a, "id": len(annotations) + 1, "image_id": local[a["image_id"]]})
    return coco_document(images, annotations, ms, info)


def run(source: Source, opts: GenerateOptions, progress: bool = True) -> dict:
    """Generate annotations for every unit of ``source``; returns a summary dict.

    Summary keys: ``frames`` (read this run), ``annotations`` (written this run),
    ``units_done``, ``units_skipped`` (resumed), ``failed`` ({unit: error}, also written to
    ``failures.csv``), ``nonfinite`` ({unit: {frame: [keys]}} of every shard in the output:
    frames skipped because their parameters hold NaN/inf, also written to
    ``skipped_frames.json``), ``outputs`` ({split: path}), ``metainfo`` (python file path).
    """
    ms = load_marker_set(opts.markers)
    safe_component(opts.split, "split name (--split)")
    gen = Generator(opts, ms)
    units = source.units()
    failures_file = opts.out / "failures.csv"
    if opts.shard is not None:  # --shard I/N: this process's share (opencapbench shard.py)
        units = shard_units(source.root, units, opts.shard)
        failures_file = opts.out / f"failures.{opts.shard.index}-of-{opts.shard.count}.csv"
    shard_dir = opts.out / "shards"
    failed: dict[str, str] = {}
    done = skipped = frames = annotations = 0
    fingerprint = opts.fingerprint(ms)
    step_fp = digest(fingerprint)
    todo = []
    ledgers = []
    for unit in units:
        split = split_of(unit, opts.split, opts.val_fraction)
        path = shard_dir / split / f"{_safe(unit)}.json"
        ledger = Ledger(opts.out / "status" / split / f"{_safe(unit)}.json", unit)
        ledgers.append(ledger)
        if ledger.is_done("annotate", step_fp):
            skipped += 1
            continue
        todo.append((unit, split, path, ledger))
    counts = [source.count_frames(u) for u, _, _, _ in todo] if progress else [None]
    known = [c for c in counts if c is not None]  # unreadable files count 0 (they fail)
    total = sum(known) if known else None
    bar = tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True)
    for unit, split, path, ledger in todo:
        bar.set_postfix_str(unit[-40:])
        try:
            shard = process_unit(gen, source, unit, split, bar)
        except (BodyModelError, MarkerFileError, KeyboardInterrupt):
            raise  # a missing model or a bad marker file stops the run, not one unit
        except Exception as exc:  # anything wrong inside one source file skips that file
            failed[unit] = f"{type(exc).__name__}: {exc}"
            ledger.mark_failed("annotate", exc, step_fp)
            log.warning("skipping source %s: %s", unit, exc)
            continue
        write_json(path, shard)
        ledger.mark_done(
            "annotate", step_fp, {"shard": path},
            {"frames": shard["frames_read"], "annotations": len(shard["annotations"])},
        )  # fmt: skip
        done += 1
        frames += shard["frames_read"]
        annotations += len(shard["annotations"])
    bar.close()
    table = failures_table(ledgers)
    if not table.empty or failures_file.exists():
        with atomic_path(failures_file) as tmp:
            table.to_csv(tmp, index=False)
    outputs = {}
    nonfinite: dict[str, dict[str, list[str]]] = {}
    info = {"description": f"ocb generate-dataset ({source.kind})", "settings": fingerprint}
    for split_dir in sorted(p for p in shard_dir.glob("*") if p.is_dir()):
        shards = []
        for p in sorted(split_dir.glob("*.json")):
            s = json.loads(p.read_text())
            if s.get("settings") == fingerprint:
                shards.append(s)
                if s.get("nonfinite_frames"):
                    nonfinite[s["unit"]] = s["nonfinite_frames"]
        outputs[split_dir.name] = write_json(
            opts.out / "annotations" / f"{split_dir.name}.json", merge_shards(shards, ms, info)
        )
    if nonfinite or (opts.out / "skipped_frames.json").exists():
        write_json(opts.out / "skipped_frames.json", nonfinite)
    py, _ = write_metainfo(opts.out, ms)
    return dict(
        frames=frames, annotations=annotations, units_done=done, units_skipped=skipped, failed=failed,
        nonfinite=nonfinite, outputs=outputs, metainfo=py,
    )  # fmt: skip


def validate_markers(
    markers: str | Path | None, smplx_dir: str | Path, gender: str = "neutral", tol_m: float = 0.01
):
    """Load a marker file and check it against a real SMPL-X model (ranges + L/R symmetry).

    Returns:
        (marker set, list of :class:`synthpose.markers.SymmetryIssue`).
    """
    ms = load_marker_set(markers)
    model = load_smplx(smplx_dir, BodyModelSpec(gender=gender), dtype=torch.float64)
    v = model.v_template.numpy()
    joints = (model.J_regressor @ model.v_template).numpy()
    issues = check_symmetry(ms, v, model.faces.astype(np.int64), joints, tol_m=tol_m, warn=False)
    return ms, issues
