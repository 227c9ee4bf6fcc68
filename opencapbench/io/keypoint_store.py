"""The keypoint store: per-trial, per-camera 2D keypoints, plus OpenPose / OpenCap importers.

One ``.npz`` per trial and camera at ``<store>/<subject>/<session>/<trial>/<camera>.npz``
(see :func:`store_path`), holding:

=================  ======================  ===================================================
key                dtype, shape            meaning
=================  ======================  ===================================================
``keypoints``      float32 (F, P, K, 2)    pixel x, y in the original (distorted) image;
                                           NaN = missing
``scores``         float32 (F, P, K)       confidence in [0, 1]; 0 = missing
``bboxes``         float32 (F, P, 5)       optional person boxes x1, y1, x2, y2, score
                                           (NaN = none)
``fps``            float64 ()              video frame rate
``keypoint_set``   str ()                  registry name, e.g. ``synthpose52``
``image_size``     int64 (2,)              width, height
``format_version`` int64 ()                1
=================  ======================  ===================================================

F frames, P person slots per frame (padded with NaN / 0), K keypoints of the named set
(:func:`opencapbench.keypoints.get_keypoint_set`).  Missing data are normalised on construction:
a keypoint with a NaN coordinate gets score 0 and both coordinates NaN; a NaN score becomes 0.

Importers read the OpenPose / Pose2Sim per-frame JSON folders and the OpenCap / OpenCapBench
per-camera pose pickles; :func:`export_openpose_json` writes the JSON format.
See ``docs/keypoint-store.md``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_path, atomic_write
from opencapbench.io.paths import safe_component
from opencapbench.io.pickles import load_pickle
from opencapbench.keypoints import KeypointSet, get_keypoint_set

__all__ = [
    "FORMAT_VERSION",
    "Keypoints2D",
    "KeypointStoreError",
    "store_path",
    "import_openpose_json",
    "export_openpose_json",
    "import_opencap_pickle",
]

FORMAT_VERSION = 1

_REQUIRED_KEYS = ("keypoints", "scores", "fps", "keypoint_set", "image_size")


class KeypointStoreError(OCBError, ValueError):
    """A keypoint store file or an imported keypoint file is invalid; the message names it."""


def _kpset_name(keypoint_set: str | KeypointSet) -> str:
    return keypoint_set.name if isinstance(keypoint_set, KeypointSet) else str(keypoint_set)


@dataclass(eq=False)
class Keypoints2D:
    """2D keypoints of one camera over one trial.

    Attributes:
        keypoints: float32 (F, P, K, 2) pixel coordinates in the original (distorted) image;
            NaN = missing.
        scores: float32 (F, P, K) confidences; 0 = missing.
        fps: frame rate of the video, Hz.
        keypoint_set: registry name of the keypoint set (fixes K and the keypoint order).
        image_size: (width, height) of the video frames, pixels.
        bboxes: optional float32 (F, P, 5) person boxes ``x1, y1, x2, y2, score``; NaN = none.

    Construction validates shapes against the named keypoint set (``ValueError`` /
    :class:`KeypointStoreError`) and normalises missing data (NaN coordinate → score 0 and both
    coordinates NaN; NaN score → 0).  Instances compare by identity (``eq=False``): compare the
    arrays explicitly.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    fps: float
    keypoint_set: str
    image_size: tuple[int, int]
    bboxes: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._validate("Keypoints2D")

    # -- validation ---------------------------------------------------------------------------

    def _validate(self, source: str) -> None:
        def fail(msg: str) -> KeypointStoreError:
            return KeypointStoreError(f"{source}: {msg}")

        self.keypoint_set = _kpset_name(self.keypoint_set)
        try:
            kps = get_keypoint_set(self.keypoint_set)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
        self.keypoint_set = kps.name
        try:
            kp = np.asarray(self.keypoints, dtype=np.float32)
            sc = np.asarray(self.scores, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise fail(f"keypoints/scores are not numeric ({exc})") from None
        if kp.ndim != 4 or kp.shape[-1] != 2:
            raise fail(f"keypoints must have shape (F, P, K, 2), got {kp.shape}")
        if kp.shape[2] != kps.num_keypoints:
            raise fail(
                f"keypoints have K={kp.shape[2]} keypoints but keypoint set "
                f"{kps.name!r} has {kps.num_keypoints}"
            )
        if sc.shape != kp.shape[:3]:
            raise fail(f"scores shape {sc.shape} does not match keypoints {kp.shape[:3]} (F, P, K)")
        if self.bboxes is not None:
            bb = np.asarray(self.bboxes, dtype=np.float32)
            if bb.shape != (*kp.shape[:2], 5):
                raise fail(f"bboxes shape {bb.shape} must be {(*kp.shape[:2], 5)} (F, P, 5)")
            self.bboxes = np.ascontiguousarray(bb)
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise fail(f"fps must be a number, got {self.fps!r}") from None
        if not np.isfinite(fps) or fps <= 0:
            raise fail(f"fps must be positive, got {fps}")
        size = np.asarray(self.image_size).ravel()
        if size.size != 2 or not np.all(np.isfinite(size.astype(float))) or np.any(size <= 0):
            raise fail(f"image_size must be (width, height) > 0, got {self.image_size!r}")
        # missing-data normalisation
        kp = kp.copy() if kp is self.keypoints else kp
        sc = sc.copy() if sc is self.scores else sc
        missing = np.isnan(kp).any(axis=-1)
        kp[missing] = np.nan
        sc = np.where(np.isnan(sc) | missing, np.float32(0), sc)
        self.keypoints = np.ascontiguousarray(kp, dtype=np.float32)
        self.scores = np.ascontiguousarray(sc, dtype=np.float32)
        self.fps = fps
        self.image_size = (int(size[0]), int(size[1]))

    # -- convenience --------------------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_persons(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[2])

    @property
    def kpset(self) -> KeypointSet:
        """The :class:`KeypointSet` named by ``keypoint_set``."""
        return get_keypoint_set(self.keypoint_set)

    @property
    def times(self) -> np.ndarray:
        """Frame times in seconds, (F,), frame 0 at t = 0."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    @classmethod
    def empty(
        cls,
        num_frames: int,
        keypoint_set: str,
        fps: float,
        image_size: tuple[int, int],
        num_persons: int = 1,
    ) -> Keypoints2D:
        """An all-missing store of the given shape."""
        k = get_keypoint_set(keypoint_set).num_keypoints
        return cls(
            np.full((num_frames, num_persons, k, 2), np.nan, np.float32),
            np.zeros((num_frames, num_persons, k), np.float32),
            fps,
            keypoint_set,
            image_size,
        )

    # -- file I/O -----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the store file (compressed ``.npz``) atomically; returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"{path}: a keypoint store file must end in .npz")
        arrays: dict[str, np.ndarray] = {
            "keypoints": self.keypoints.astype(np.float32),
            "scores": self.scores.astype(np.float32),
            "fps": np.array(self.fps, dtype=np.float64),
            "keypoint_set": np.array(self.keypoint_set),
            "image_size": np.array(self.image_size, dtype=np.int64),
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        }
        if self.bboxes is not None:
            arrays["bboxes"] = self.bboxes.astype(np.float32)
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Keypoints2D:
        """Read and validate a store file.

        Raises:
            KeypointStoreError: (naming the file) unreadable file, missing key, unknown
                ``keypoint_set``, keypoint count that does not match the set, mismatched shapes,
                unsupported ``format_version``.
        """
        path = Path(path)
        if not path.is_file():
            raise KeypointStoreError(f"{path}: keypoint store file not found")
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        except Exception as exc:  # noqa: BLE001 - any read failure means a bad file
            raise KeypointStoreError(
                f"{path}: not a readable .npz ({type(exc).__name__}: {exc})"
            ) from None
        missing = [k for k in _REQUIRED_KEYS if k not in data]
        if missing:
            raise KeypointStoreError(f"{path}: missing keys {missing} (present: {sorted(data)})")
        version = int(data.get("format_version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise KeypointStoreError(
                f"{path}: format_version {version} is newer than supported ({FORMAT_VERSION})"
            )
        obj = cls.__new__(cls)
        obj.keypoints = data["keypoints"]
        obj.scores = data["scores"]
        obj.fps = data["fps"].item() if data["fps"].size == 1 else data["fps"]
        obj.keypoint_set = (
            str(data["keypoint_set"].item()) if data["keypoint_set"].size == 1 else ""
        )
        obj.image_size = tuple(data["image_size"].ravel().tolist())
        obj.bboxes = data.get("bboxes")
        obj._validate(str(path))
        return obj


def store_path(
    store_root: str | os.PathLike, subject: str, session: str, trial: str, camera: str
) -> Path:
    """Path of one store file: ``<store_root>/<subject>/<session>/<trial>/<camera>.npz``."""
    parts = {"subject": subject, "session": session, "trial": trial, "camera": camera}
    for what, value in parts.items():
        safe_component(value, f"{what} name for the keypoint store")
    return Path(store_root) / str(subject) / str(session) / str(trial) / f"{camera}.npz"


# --------------------------------------------------------------------------------------------
# importers / exporters
# --------------------------------------------------------------------------------------------


def _person_slots(people: Sequence[Any]) -> list[int]:
    """Slot index for each person: their ``person_id`` when every id is a distinct int ≥ 0."""
    ids: list[int] = []
    for person in people:
        pid = person.get("person_id") if isinstance(person, Mapping) else None
        if isinstance(pid, (list, tuple, np.ndarray)) and len(pid) == 1:
            pid = pid[0]
        if isinstance(pid, (int, np.integer)) and not isinstance(pid, bool) and pid >= 0:
            ids.append(int(pid))
        else:
            return list(range(len(people)))
    if len(set(ids)) != len(ids) or (ids and max(ids) > 4 * len(ids) + 16):
        return list(range(len(people)))
    return ids


def _flat_to_arrays(flat: Any, k: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """``[x, y, c] * K`` → (K, 2) keypoints, (K,) scores; x = y = c = 0 → missing."""
    arr = np.asarray(flat if flat is not None else [], dtype=np.float64).ravel()
    if arr.size == 0:
        return np.full((k, 2), np.nan), np.zeros(k)
    if arr.size != 3 * k:
        raise KeypointStoreError(
            f"{source}: pose_keypoints_2d has {arr.size} values, expected 3 x {k} for the "
            "keypoint set"
        )
    arr = arr.reshape(k, 3)
    xy = arr[:, :2].copy()
    score = arr[:, 2].copy()
    missing = (arr == 0).all(axis=1) | np.isnan(xy).any(axis=1)
    xy[missing] = np.nan
    score[missing] = 0.0
    return xy, score


def _frames_to_store(
    frames: Sequence[Sequence[Any] | None],
    sources: Sequence[str],
    keypoint_set: str | KeypointSet,
    fps: float,
    image_size: tuple[int, int],
) -> Keypoints2D:
    """Build a store from per-frame lists of OpenPose-style people dicts (None = no frame)."""
    name = _kpset_name(keypoint_set)
    k = get_keypoint_set(name).num_keypoints
    parsed: list[list[tuple[int, np.ndarray, np.ndarray]]] = []
    n_persons = 1
    for people, source in zip(frames, sources, strict=True):
        entries: list[tuple[int, np.ndarray, np.ndarray]] = []
        if people:
            slots = _person_slots(people)
            for slot, person in zip(slots, people, strict=True):
                if not isinstance(person, Mapping):
                    raise KeypointStoreError(f"{source}: a person entry is not a dict")
                xy, sc = _flat_to_arrays(person.get("pose_keypoints_2d"), k, source)
                entries.append((slot, xy, sc))
                n_persons = max(n_persons, slot + 1)
        parsed.append(entries)
    kp = np.full((len(frames), n_persons, k, 2), np.nan, np.float32)
    scores = np.zeros((len(frames), n_persons, k), np.float32)
    for f, entries in enumerate(parsed):
        for slot, xy, sc in entries:
            kp[f, slot] = xy
            scores[f, slot] = sc
    return Keypoints2D(kp, scores, fps, name, image_size)


_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def _frame_number(path: Path) -> int | None:
    m = _DIGITS.search(path.stem)
    return int(m.group(1)) if m else None


def import_openpose_json(
    folder_or_files: str | os.PathLike | Iterable[str | os.PathLike],
    keypoint_set: str | KeypointSet,
    fps: float,
    image_size: tuple[int, int],
) -> Keypoints2D:
    """Import OpenPose / Pose2Sim per-frame JSON files.

    Args:
        folder_or_files: a folder of ``*.json`` files, or the files themselves.
        keypoint_set: registry name of the keypoints' order (``pose_keypoints_2d`` must hold
            ``3 * K`` values).
        fps, image_size: the video's frame rate and (width, height).

    Files are ordered by the last number in their name (``<vid>_000012.json``,
    ``<vid>_000000000012_keypoints.json``); a number missing in the middle of the sequence
    becomes an all-missing frame.  Frame 0 of the result is the lowest number found.  People
    fill person slots in file order, or by ``person_id`` when every person of a frame carries a
    distinct non-negative id (as :func:`export_openpose_json` writes); P is the largest count.
    ``x = y = c = 0`` marks a missing keypoint.
    """
    if isinstance(folder_or_files, (str, os.PathLike)):
        folder = Path(folder_or_files)
        if folder.is_dir():
            files = sorted(folder.glob("*.json"))
        elif folder.is_file():
            files = [folder]
        else:
            raise KeypointStoreError(f"{folder}: no such folder or file")
    else:
        files = [Path(p) for p in folder_or_files]
    if not files:
        raise KeypointStoreError(f"{folder_or_files}: no .json files found")
    numbers = [_frame_number(p) for p in files]
    if any(n is None for n in numbers):
        if len(files) > 1:
            bad = files[numbers.index(None)]
            raise KeypointStoreError(f"{bad}: file name has no frame number")
        numbers = [0]
    order = sorted(range(len(files)), key=lambda i: (numbers[i], str(files[i])))
    by_number: dict[int, Path] = {}
    for i in order:
        if numbers[i] in by_number:
            raise KeypointStoreError(
                f"{files[i]}: duplicate frame number {numbers[i]} (also {by_number[numbers[i]]})"
            )
        by_number[numbers[i]] = files[i]
    first, last = min(by_number), max(by_number)
    frames: list[list[Any] | None] = []
    sources: list[str] = []
    for n in range(first, last + 1):
        path = by_number.get(n)
        if path is None:
            frames.append(None)
            sources.append(f"<missing frame {n}>")
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise KeypointStoreError(f"{path}: not a readable JSON file ({exc})") from None
        if not isinstance(doc, Mapping) or not isinstance(doc.get("people", []), list):
            raise KeypointStoreError(f"{path}: expected an object with a 'people' list")
        frames.append(doc.get("people", []))
        sources.append(str(path))
    return _frames_to_store(frames, sources, keypoint_set, fps, image_size)


def export_openpose_json(
    kp: Keypoints2D, folder: str | os.PathLike, basename: str, digits: int = 6
) -> list[Path]:
    """Write ``kp`` as OpenPose per-frame JSON: ``<folder>/<basename>_<frame:06d>.json``.

    Each frame lists the person slots that have at least one keypoint, with
    ``person_id = [slot]``; missing keypoints are written as ``0, 0, 0``.  Every file is written
    atomically.  Returns the paths in frame order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flat = np.concatenate([kp.keypoints, kp.scores[..., None]], axis=-1)  # (F, P, K, 3)
    valid = ~np.isnan(kp.keypoints).any(axis=-1)  # (F, P, K)
    flat = np.where(valid[..., None], flat, 0.0).astype(np.float64)
    paths = []
    for f in range(kp.num_frames):
        people = [
            {
                "person_id": [p],
                "pose_keypoints_2d": [float(v) for v in flat[f, p].ravel()],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
            for p in range(kp.num_persons)
            if valid[f, p].any()
        ]
        path = folder / f"{basename}_{f:0{digits}d}.json"
        with atomic_write(path) as fh:
            json.dump({"version": 1.3, "people": people}, fh)
        paths.append(path)
    return paths


def import_opencap_pickle(
    path: str | os.PathLike,
    keypoint_set: str | KeypointSet,
    fps: float,
    image_size: tuple[int, int],
) -> Keypoints2D:
    """Import an OpenCap / OpenCapBench per-camera pose pickle.

    Accepted contents:

    * a list over frames, each a list of people dicts
      ``{"person_id": [...], "pose_keypoints_2d": [x, y, c] * K}`` (an empty list = no person);
    * a numpy array (F, K*3) (one person) or (F, P, K*3).

    ``x = y = c = 0`` and NaN coordinates mark missing keypoints.  Pickles can execute code when
    loaded: only import files you trust.
    """
    path = Path(path)
    data = load_pickle(path, KeypointStoreError, "pose pickle")
    name = _kpset_name(keypoint_set)
    k = get_keypoint_set(name).num_keypoints
    if isinstance(data, np.ndarray):
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim != 3 or arr.shape[-1] != 3 * k:
            raise KeypointStoreError(
                f"{path}: array of shape {data.shape} is neither (F, {3 * k}) nor (F, P, {3 * k})"
            )
        frames = [[{"pose_keypoints_2d": row} for row in frame] for frame in arr]
        return _frames_to_store(frames, [str(path)] * len(frames), name, fps, image_size)
    if not isinstance(data, (list, tuple)):
        raise KeypointStoreError(
            f"{path}: expected a list of frames or a numpy array, got {type(data).__name__}"
        )
    frames_list: list[list[Any] | None] = []
    for f, frame in enumerate(data):
        if frame is None:
            frames_list.append(None)
        elif isinstance(frame, Mapping):  # a single person dict per frame
            frames_list.append([frame])
        elif isinstance(frame, (list, tuple)):
            frames_list.append(list(frame))
        else:
            raise KeypointStoreError(
                f"{path}: frame {f} is a {type(frame).__name__}, expected a list of people"
            )
    if not frames_list:
        raise KeypointStoreError(f"{path}: no frames")
    sources = [f"{path} (frame {f})" for f in range(len(frames_list))]
    return _frames_to_store(frames_list, sources, name, fps, image_size)
