"""Person boxes given in a file instead of a detector (format in ``docs/inference.md``).

JSON::

    {"frames": [{"frame": 0, "boxes": [[x1, y1, x2, y2, score], ...]}, ...]}

CSV (header required, one row per box, ``score`` optional and 1.0 when absent)::

    frame,x1,y1,x2,y2,score

Coordinates are image pixels of the original frame; ``frame`` is the 0-based frame index
(for an image folder: the position of the image in natural sort order).  Frames that are not
listed have no person.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from opencapbench.inference.errors import BoxesFileError


def _as_boxes(rows: object, where: str) -> np.ndarray:
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise BoxesFileError(f"{where}: boxes must be lists of 4 or 5 numbers") from None
    if arr.size == 0:
        return np.zeros((0, 5), np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise BoxesFileError(
            f"{where}: each box must be [x1, y1, x2, y2(, score)], got shape {arr.shape}"
        )
    if arr.shape[1] == 4:
        arr = np.concatenate([arr, np.ones((len(arr), 1))], axis=1)
    if not np.isfinite(arr).all():
        raise BoxesFileError(f"{where}: non-finite box values")
    if np.any(arr[:, 2] <= arr[:, 0]) or np.any(arr[:, 3] <= arr[:, 1]):
        raise BoxesFileError(f"{where}: boxes need x2 > x1 and y2 > y1 (xyxy pixels)")
    return arr.astype(np.float32)


def _read_json(path: Path) -> dict[int, np.ndarray]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxesFileError(f"{path}: not a readable JSON file ({exc})") from None
    frames = data.get("frames") if isinstance(data, dict) else data
    if not isinstance(frames, list):
        raise BoxesFileError(f"{path}: expected {{'frames': [{{'frame': i, 'boxes': [...]}}]}}")
    out: dict[int, np.ndarray] = {}
    for n, entry in enumerate(frames):
        if not isinstance(entry, dict) or "frame" not in entry or "boxes" not in entry:
            raise BoxesFileError(f"{path}: frames[{n}] needs the keys 'frame' and 'boxes'")
        try:
            frame = int(entry["frame"])
        except (TypeError, ValueError):
            raise BoxesFileError(f"{path}: frames[{n}].frame is not an integer") from None
        boxes = _as_boxes(entry["boxes"], f"{path}: frames[{n}]")
        out[frame] = np.concatenate([out[frame], boxes]) if frame in out else boxes
    return out


def _read_csv(path: Path) -> dict[int, np.ndarray]:
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise BoxesFileError(f"{path}: not a readable CSV file ({exc})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    need = ["frame", "x1", "y1", "x2", "y2"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise BoxesFileError(f"{path}: missing columns {missing} (need frame,x1,y1,x2,y2[,score])")
    cols = need[1:] + (["score"] if "score" in table.columns else [])
    out: dict[int, np.ndarray] = {}
    for frame, group in table.groupby("frame", sort=True):
        out[int(frame)] = _as_boxes(group[cols].to_numpy(), f"{path}: frame {frame}")
    return out


def read_boxes_file(path: str | os.PathLike) -> dict[int, np.ndarray]:
    """Read a boxes file into ``{frame index: (N, 5) float32 boxes}``.

    Raises:
        BoxesFileError: missing file, unknown suffix, malformed content (the message names
            the file and the offending entry).
    """
    path = Path(path)
    if not path.is_file():
        raise BoxesFileError(f"{path}: boxes file not found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise BoxesFileError(f"{path}: boxes files must be .json or .csv")


class FileBoxes:
    """A :class:`~opencapbench.inference.detector.PersonDetector`-like lookup of file boxes.

    ``boxes_for(frame)`` returns the ``(N, 5)`` boxes listed for that frame (empty if none).
    """

    def __init__(self, boxes: dict[int, np.ndarray]) -> None:
        self._boxes = boxes

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> FileBoxes:
        return cls(read_boxes_file(path))

    def boxes_for(self, frame: int) -> np.ndarray:
        return self._boxes.get(int(frame), np.zeros((0, 5), np.float32))
