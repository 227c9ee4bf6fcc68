"""OpenCap / OpenCapBench per-camera pose pickles → the keypoint store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.io.keypoint_store import Keypoints2D, KeypointStoreError, _kpset_name
from opencapbench.io.openpose_json import _frames_to_store, infer_keypoint_set
from opencapbench.io.pickles import load_pickle
from opencapbench.keypoints import KeypointSet, get_keypoint_set

__all__ = ["import_opencap_pickle"]


def import_opencap_pickle(
    path: str | os.PathLike,
    keypoint_set: str | KeypointSet | None,
    fps: float,
    image_size: tuple[int, int],
) -> Keypoints2D:
    """Import an OpenCap / OpenCapBench per-camera pose pickle.

    ``keypoint_set=None`` infers the set from the number of values per person (OpenCap's own
    pickles hold OpenPose BODY_25: 75 values, ``body25``).

    Accepted contents:

    * a list over frames, each a list of people dicts
      ``{"person_id": [...], "pose_keypoints_2d": [x, y, c] * K}`` (an empty list = no person);
    * a numpy array (F, K*3) (one person) or (F, P, K*3).

    ``x = y = c = 0`` and NaN coordinates mark missing keypoints.  Pickles can execute code when
    loaded: only import files you trust.
    """
    path = Path(path)
    data = load_pickle(path, KeypointStoreError, "pose pickle")
    if isinstance(data, np.ndarray):
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim != 3:
            raise KeypointStoreError(
                f"{path}: array of shape {data.shape} is neither (F, 3K) nor (F, P, 3K)"
            )
        if keypoint_set is None:
            keypoint_set = infer_keypoint_set({arr.shape[-1]: str(path)}, str(path))
        name = _kpset_name(keypoint_set)
        k = get_keypoint_set(name).num_keypoints
        if arr.shape[-1] != 3 * k:
            raise KeypointStoreError(
                f"{path}: array of shape {data.shape} is neither (F, {3 * k}) nor (F, P, {3 * k}) "
                f"for keypoint set {name!r}"
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
    return _frames_to_store(frames_list, sources, keypoint_set, fps, image_size, str(path))
