"""The keypoint store: per-trial, per-camera 2D keypoints.

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

Importers: :mod:`opencapbench.io.openpose_json` (OpenPose / Pose2Sim per-frame JSON, read and
write) and :mod:`opencapbench.io.opencap_pose` (OpenCap / OpenCapBench pose pickles).
See ``docs/keypoint-store.md``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_path
from opencapbench.io.paths import safe_component
from opencapbench.keypoints import KeypointSet, get_keypoint_set

__all__ = [
    "FORMAT_VERSION",
    "Keypoints2D",
    "KeypointStoreError",
    "store_path",
]

FORMAT_VERSION = 1

log = logging.getLogger(__name__)

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
            # the set travels with its keypoints: a new process can read a custom model's store
            "keypoint_names": np.array(self.kpset.names),
            "flip_indices": np.array(self.kpset.flip_indices, dtype=np.int64),
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
        if "keypoint_names" in data:
            obj.keypoint_set = _stored_keypoint_set(
                obj.keypoint_set, data["keypoint_names"], data.get("flip_indices"), path
            )
        obj._validate(str(path))
        return obj


def _stored_keypoint_set(name: str, names: np.ndarray, flip: np.ndarray | None, path: Path) -> str:
    """The registry name for a store's keypoint set, registering it from the file when this
    process does not know it (a finetuned model's custom set); a known name whose keypoints
    differ from the file's is an error."""
    from opencapbench.keypoints import list_keypoint_sets, register_keypoint_set

    names_t = tuple(str(n) for n in names.ravel())
    if name in list_keypoint_sets():
        if get_keypoint_set(name).names != names_t:
            raise KeypointStoreError(
                f"{path}: the file's {len(names_t)} keypoint names differ from the registered "
                f"set {name!r}"
            )
        return name
    for known in list_keypoint_sets():  # the same keypoints under another name
        if get_keypoint_set(known).names == names_t:
            return known
    k = len(names_t)
    flips = tuple(int(i) for i in flip.ravel()) if flip is not None else tuple(range(k))
    try:
        kps = KeypointSet(name, names_t, flips, (True,) * k, (0.05,) * k, (1.0,) * k)
    except ValueError as exc:
        raise KeypointStoreError(f"{path}: invalid stored keypoint set {name!r}: {exc}") from None
    log.info("%s: keypoint set %r registered from the file (%d keypoints)", path, name, k)
    return register_keypoint_set(kps).name


def store_path(
    store_root: str | os.PathLike, subject: str, session: str, trial: str, camera: str
) -> Path:
    """Path of one store file: ``<store_root>/<subject>/<session>/<trial>/<camera>.npz``."""
    parts = {"subject": subject, "session": session, "trial": trial, "camera": camera}
    for what, value in parts.items():
        safe_component(value, f"{what} name for the keypoint store")
    return Path(store_root) / str(subject) / str(session) / str(trial) / f"{camera}.npz"
