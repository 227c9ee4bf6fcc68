"""The plain ``.npz`` source: SMPL-X parameters + per-frame cameras, which anyone can write.

One ``.npz`` per sequence (``INPUT`` is a file or a folder searched recursively).  N frames:

=====================  ==========================  ============================================
key                    shape                       meaning
=====================  ==========================  ============================================
``global_orient``      (N, 3)                      pelvis axis-angle, radians (world frame)
``body_pose``          (N, 63) or (N, 21, 3)       body joints 1..21, axis-angle
``betas``              (N, B) or (B,)              shape, B = 10 or 11 (or up to 300)
``transl``             (N, 3)                      metres
``K``                  (N, 3, 3) or (3, 3)         intrinsics, pixels
``R``                  (N, 3, 3) or (3, 3)         world->camera rotation
``t``                  (N, 3) or (3,)              world->camera translation, **metres**
``image_size``         (2,)                        width, height
optional
``jaw_pose``, ``leye_pose``, ``reye_pose``  (N, 3)  default 0
``left_hand_pose``, ``right_hand_pose``     (N, 45) axis-angle, or (N, P) PCA coefficients
``flat_hand_mean``     ()  bool                    default True (False: add the mean hand)
``expression``         (N, E)                      default 0
``dist``               (N, 5) or (5,)              OpenCV k1, k2, p1, p2, k3; default none
``gender``             () str                      neutral (default) / male / female
``image_names``        (N,) str                    default ``<stem>/<frame:06d>.png``
``frame_ids``          (N,) int                    default 0..N-1 (``--every-n`` uses these)
=====================  ==========================  ============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from opencapbench.io.paths import safe_relative
from synthpose.generate.body_model import BodyModelSpec, BodyParams
from synthpose.generate.sources.base import (
    PARAM_WIDTH,
    FrameBatch,
    Source,
    SourceError,
    cameras,
    per_frame,
)

REQUIRED = ("global_orient", "body_pose", "betas", "transl", "K", "R", "t", "image_size")


def per_frame_params(
    d: dict[str, np.ndarray], key: str, n: int, width: int | None, path: Path
) -> np.ndarray:
    """``d[key]`` as float64 (n, width): one row per frame, the rest of the shape flattened.

    Args:
        width: values per frame; ``None`` accepts any width (betas, hands, expression).

    Raises:
        SourceError: naming the file and the key, when the array is not numeric or its shape
            is not (n, ...) with ``width`` values per frame.
    """
    value = d[key]
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SourceError(f"{path}: key {key!r} is not numeric (dtype {value.dtype})") from None
    per_row = int(np.prod(a.shape[1:])) if a.ndim >= 2 else 0
    if a.ndim < 2 or a.shape[0] != n or (width is not None and per_row != width):
        expected = f"({n}, {width})" if width is not None else f"({n}, D)"
        if key == "body_pose":
            expected += " or (N, 21, 3)"
        raise SourceError(
            f"{path}: key {key!r} has shape {a.shape}, expected {expected} "
            f"(N = {n} frames, from global_orient)"
        )
    return a.reshape(n, -1)


def load_npz(path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:
        raise SourceError(f"{path}: cannot read .npz ({exc})") from exc


class NpzSource(Source):
    """Plain SMPL-X parameter files (see the module docstring for the keys)."""

    kind = "npz"

    def units(self) -> list[str]:
        if self.root.is_file():
            return [self.root.name]
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*.npz"))

    def _path(self, unit: str):
        return self.root if self.root.is_file() else self.root / unit

    def _frames(self, d: dict, n: int) -> np.ndarray:
        ids = np.asarray(d.get("frame_ids", np.arange(n))).astype(int)
        return np.flatnonzero(ids % self.every_n == 0)

    def count_frames(self, unit: str) -> int | None:
        try:
            with np.load(self._path(unit), allow_pickle=False) as z:
                n = len(z["global_orient"])
                ids = z["frame_ids"] if "frame_ids" in z.files else np.arange(n)
        except Exception:
            return None  # read() will report the problem
        return int((np.asarray(ids).astype(int) % self.every_n == 0).sum())

    def read(self, unit: str) -> Iterator[FrameBatch]:
        path = self._path(unit)
        d = load_npz(path)
        missing = [k for k in REQUIRED if k not in d]
        if missing:
            raise SourceError(f"{path}: missing keys {missing}")
        n = len(np.atleast_1d(d["global_orient"]))
        pose = {k: per_frame_params(d, k, n, w, path) for k, w in PARAM_WIDTH.items() if k in d}
        betas = np.asarray(d["betas"], dtype=np.float64)
        if betas.ndim == 1:
            betas = np.broadcast_to(betas, (n, betas.shape[0]))
        else:
            betas = per_frame_params(d, "betas", n, None, path)
        hands = [
            per_frame_params(d, k, n, None, path) if k in d else np.zeros((n, 45))
            for k in ("left_hand_pose", "right_hand_pose")
        ]
        lh, rh = hands
        if lh.shape != rh.shape:
            raise SourceError(
                f"{path}: left_hand_pose {lh.shape} and right_hand_pose {rh.shape} must both be "
                "(N, 45) axis-angle or (N, P) PCA coefficients"
            )
        use_pca = lh.shape[1] != 45
        gender = str(d.get("gender", "neutral"))
        if gender not in ("neutral", "male", "female"):
            raise SourceError(f"{path}: gender must be neutral/male/female, got {gender!r}")
        expr = per_frame_params(d, "expression", n, None, path) if "expression" in d else None
        spec = BodyModelSpec(
            gender=gender,
            num_betas=betas.shape[1],
            use_pca=use_pca,
            num_pca_comps=lh.shape[1] if use_pca else 12,
            flat_hand_mean=bool(d.get("flat_hand_mean", True)),
            num_expression=expr.shape[1] if expr is not None else 10,
        )
        K = per_frame(d["K"], n, (3, 3), f"{path}: K")
        R = per_frame(d["R"], n, (3, 3), f"{path}: R")
        t = per_frame(d["t"], n, (3,), f"{path}: t")
        dist = per_frame(d["dist"], n, (5,), f"{path}: dist") if "dist" in d else None
        size = np.asarray(d["image_size"], dtype=int).reshape(-1)
        if size.shape != (2,):
            raise SourceError(f"{path}: image_size must be (width, height)")
        frame_ids = np.asarray(d.get("frame_ids", np.arange(n))).astype(int).reshape(-1)
        if frame_ids.shape != (n,):
            raise SourceError(
                f"{path}: key 'frame_ids' has shape {frame_ids.shape}, expected ({n},)"
            )
        names = None
        if "image_names" in d:
            raw = np.asarray(d["image_names"]).reshape(-1)
            if raw.shape != (n,):
                raise SourceError(
                    f"{path}: key 'image_names' has shape {raw.shape}, expected ({n},)"
                )
            # names become paths under --image-root (crops) and the COCO file_name
            names = [
                safe_relative(str(x), None, f"image_names[{i}] in {path}").as_posix()
                for i, x in enumerate(raw)
            ]
        stem = path.stem
        keep = self._frames(d, n)
        for s in range(0, len(keep), self.batch_size):
            idx = keep[s : s + self.batch_size]
            params = BodyParams.from_numpy(
                betas=betas[idx],
                left_hand_pose=lh[idx],
                right_hand_pose=rh[idx],
                expression=None if expr is None else expr[idx],
                **{k: v[idx] for k, v in pose.items()},
            )
            cams = cameras(
                K[idx], R[idx], t[idx], np.broadcast_to(size, (len(idx), 2)),
                None if dist is None else dist[idx],
            )  # fmt: skip
            files = (
                [names[i] for i in idx]
                if names is not None
                else [f"{stem}/{frame_ids[i]:06d}.png" for i in idx]
            )
            yield FrameBatch(spec, params, cams, files, [int(frame_ids[i]) for i in idx])
