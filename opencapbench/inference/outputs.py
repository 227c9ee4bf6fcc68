"""Writers (and a reader) of ``ocb infer`` outputs; formats in ``docs/inference.md``.

* ``<name>.keypoints.json``: the toolkit's per-frame JSON (all persons, boxes, scores).
* ``<name>_json/<name>_<frame:06d>.json``: OpenPose per-frame JSON (what Pose2Sim reads).
* ``<name>.keypoints.parquet`` (with pyarrow) or ``.csv``: one row per frame, person and
  keypoint.
* ``<name>.npz``: the keypoint store file (``Keypoints2D``).

Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from opencapbench.inference.pipeline import InferenceResult
from opencapbench.io.atomic import atomic_path, atomic_write
from opencapbench.keypoints import get_keypoint_set

log = logging.getLogger(__name__)

JSON_FORMAT = "opencapbench.keypoints2d"
JSON_VERSION = 1
TABLE_COLUMNS = ("frame", "time_s", "person", "keypoint_index", "keypoint", "x", "y", "score")


def _num(v: float) -> float | None:
    return None if not math.isfinite(float(v)) else round(float(v), 3)


def _present(result: InferenceResult) -> np.ndarray:
    """(F, P) True where the slot has a box or at least one keypoint."""
    has_box = np.isfinite(result.bboxes[..., :4]).all(axis=-1)
    has_kp = np.isfinite(result.keypoints).all(axis=-1).any(axis=-1)
    return has_box | has_kp


def result_to_json(result: InferenceResult, meta: dict | None = None) -> dict:
    """The JSON document of ``result`` (see ``docs/inference.md``); NaN becomes ``null``."""
    kps = get_keypoint_set(result.keypoint_set)
    present = _present(result)
    frames = []
    for f in range(result.num_frames):
        people = []
        for p in np.flatnonzero(present[f]):
            kp = result.keypoints[f, p]
            people.append(
                {
                    "person": int(p),
                    "bbox": [_num(v) for v in result.bboxes[f, p]],
                    "keypoints": [[_num(x), _num(y)] for x, y in kp],
                    "scores": [round(float(s), 4) for s in result.scores[f, p]],
                }
            )
        entry: dict = {"frame": f, "time_s": round(f / result.fps, 6), "people": people}
        if result.frame_names is not None:
            entry["image"] = result.frame_names[f]
        frames.append(entry)
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_VERSION,
        "source": result.source,
        "keypoint_set": result.keypoint_set,
        "keypoint_names": list(kps.names),
        "skeleton": [list(e) for e in kps.skeleton],
        "fps": result.fps,
        "image_size": list(result.image_size),
        "num_frames": result.num_frames,
        "num_persons": int(result.keypoints.shape[1]),
        **(meta or {}),
        "frames": frames,
    }


def write_json(result: InferenceResult, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write :func:`result_to_json` to ``path``; returns the path."""
    path = Path(path)
    with atomic_write(path) as fh:
        json.dump(result_to_json(result, meta), fh, separators=(",", ":"))
    return path


def read_json(path: str | os.PathLike) -> InferenceResult:
    """Read a file written by :func:`write_json` back into arrays."""
    path = Path(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != JSON_FORMAT:
        raise ValueError(f"{path}: not an {JSON_FORMAT} file")
    f, p, k = doc["num_frames"], doc["num_persons"], len(doc["keypoint_names"])
    kp = np.full((f, p, k, 2), np.nan, np.float32)
    sc = np.zeros((f, p, k), np.float32)
    bb = np.full((f, p, 5), np.nan, np.float32)
    for frame in doc["frames"]:
        for person in frame["people"]:
            i, j = frame["frame"], person["person"]
            kp[i, j] = np.array(person["keypoints"], dtype=np.float64)  # None -> nan
            sc[i, j] = person["scores"]
            bb[i, j] = np.array(person["bbox"], dtype=np.float64)
    names = [fr.get("image") for fr in doc["frames"]]
    return InferenceResult(
        name=path.name.split(".")[0],
        source=doc["source"],
        keypoints=kp,
        scores=sc,
        bboxes=bb,
        fps=float(doc["fps"]),
        image_size=tuple(doc["image_size"]),
        keypoint_set=doc["keypoint_set"],
        frame_names=names if all(n is not None for n in names) and names else None,
    )


def result_table(result: InferenceResult):
    """Long table (pandas DataFrame) with :data:`TABLE_COLUMNS`, one row per frame, present
    person and keypoint; missing coordinates are NaN."""
    import pandas as pd

    kps = get_keypoint_set(result.keypoint_set)
    f_idx, p_idx = np.nonzero(_present(result))
    k = kps.num_keypoints
    n = len(f_idx)
    return pd.DataFrame(
        {
            "frame": np.repeat(f_idx, k),
            "time_s": np.repeat(f_idx / result.fps, k),
            "person": np.repeat(p_idx, k),
            "keypoint_index": np.tile(np.arange(k), n),
            "keypoint": np.tile(np.array(kps.names, dtype=object), n),
            "x": result.keypoints[f_idx, p_idx, :, 0].ravel(),
            "y": result.keypoints[f_idx, p_idx, :, 1].ravel(),
            "score": result.scores[f_idx, p_idx].ravel(),
        },
        columns=list(TABLE_COLUMNS),
    )


def has_parquet() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_table(result: InferenceResult, stem: str | os.PathLike, fmt: str = "auto") -> Path:
    """Write :func:`result_table` to ``<stem>.parquet`` (fmt "parquet", or "auto" when
    pyarrow is installed) or ``<stem>.csv``; returns the path written."""
    table = result_table(result)
    stem = Path(stem)
    if fmt == "parquet" or (fmt == "auto" and has_parquet()):
        if not has_parquet():
            raise RuntimeError(
                "parquet output needs pyarrow (pip install pyarrow); use --table csv"
            )
        path = stem.with_name(stem.name + ".parquet")
        with atomic_path(path) as tmp:
            table.to_parquet(tmp, index=False)
        return path
    if fmt == "auto":
        log.info(
            "pyarrow is not installed: writing the table as CSV (pip install pyarrow for parquet)"
        )
    path = stem.with_name(stem.name + ".csv")
    with atomic_write(path) as fh:
        table.to_csv(fh, index=False, float_format="%.3f")
    return path


def write_openpose(result: InferenceResult, folder: str | os.PathLike, basename: str) -> list[Path]:
    """OpenPose per-frame JSON via the keypoint store's exporter (Pose2Sim reads these)."""
    from opencapbench.io.openpose_json import export_openpose_json

    return export_openpose_json(result, folder, basename)
