"""OpenPose / Pose2Sim per-frame JSON keypoint files: import into and export from the store.

One file per frame, ``{"people": [{"person_id": [...], "pose_keypoints_2d": [x, y, c] * K}]}``;
``x = y = c = 0`` marks a missing keypoint.  The keypoint set is given, or inferred from the
number of values per person (:func:`infer_keypoint_set`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.io.atomic import atomic_write
from opencapbench.io.keypoint_store import Keypoints2D, KeypointStoreError, _kpset_name
from opencapbench.keypoints import KeypointSet, get_keypoint_set, list_keypoint_sets

__all__ = ["export_openpose_json", "import_openpose_json", "infer_keypoint_set"]


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


def _values_per_person(frames: Sequence[Sequence[Any] | None], sources: Sequence[str]) -> dict:
    """Number of ``pose_keypoints_2d`` values → first source where a person has that many."""
    sizes: dict[int, str] = {}
    for people, source in zip(frames, sources, strict=True):
        for person in people or ():
            if isinstance(person, Mapping) and person.get("pose_keypoints_2d") is not None:
                n = int(np.asarray(person["pose_keypoints_2d"]).size)
                if n:
                    sizes.setdefault(n, source)
    return sizes


def infer_keypoint_set(values_per_person: Mapping[int, str], what: str) -> str:
    """The registered keypoint set with ``values / 3`` keypoints.

    Args:
        values_per_person: number of values per person → a source that has it.
        what: names the input in error messages.

    Raises:
        KeypointStoreError: no person at all, people of different sizes, a size that no
            registered set has, or one that several sets share (ambiguous: pass the set).
    """
    if not values_per_person:
        raise KeypointStoreError(f"{what}: no person with keypoints; pass --keypoint-set")
    if len(values_per_person) > 1:
        seen = ", ".join(f"{n} values in {src}" for n, src in sorted(values_per_person.items()))
        raise KeypointStoreError(f"{what}: people have different sizes ({seen})")
    ((n, source),) = values_per_person.items()
    sets = {name: get_keypoint_set(name).num_keypoints for name in list_keypoint_sets()}
    matches = [name for name, k in sets.items() if 3 * k == n]
    if len(matches) != 1:
        known = ", ".join(f"{name} ({k})" for name, k in sorted(sets.items(), key=lambda x: x[1]))
        why = (
            f"matches several keypoint sets ({', '.join(matches)}); pass --keypoint-set"
            if matches
            else f"matches no known keypoint set; known sets (keypoints): {known}"
        )
        raise KeypointStoreError(
            f"{source}: {n} values per person = {n / 3:g} keypoints x (x, y, score) {why}"
        )
    return matches[0]


def _frames_to_store(
    frames: Sequence[Sequence[Any] | None],
    sources: Sequence[str],
    keypoint_set: str | KeypointSet | None,
    fps: float,
    image_size: tuple[int, int],
    what: str = "",
) -> Keypoints2D:
    """Build a store from per-frame lists of OpenPose-style people dicts (None = no frame);
    ``keypoint_set=None`` infers the set from the number of values per person."""
    if keypoint_set is None:
        keypoint_set = infer_keypoint_set(_values_per_person(frames, sources), what)
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
    keypoint_set: str | KeypointSet | None,
    fps: float,
    image_size: tuple[int, int],
) -> Keypoints2D:
    """Import OpenPose / Pose2Sim per-frame JSON files.

    Args:
        folder_or_files: a folder of ``*.json`` files, or the files themselves.
        keypoint_set: registry name of the keypoints' order (``pose_keypoints_2d`` must hold
            ``3 * K`` values); None infers it from the number of values per person
            (:func:`infer_keypoint_set`).
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
    return _frames_to_store(frames, sources, keypoint_set, fps, image_size, str(folder_or_files))


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
