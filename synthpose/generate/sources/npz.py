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

import numpy as np

from synthpose.generate.body_model import BodyModelSpec, BodyParams
from synthpose.generate.sources.base import FrameBatch, Source, SourceError, cameras, per_frame

REQUIRED = ("global_orient", "body_pose", "betas", "transl", "K", "R", "t", "image_size")


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
        n = len(d["global_orient"])
        betas = np.asarray(d["betas"], dtype=np.float64)
        betas = np.broadcast_to(betas, (n, betas.shape[-1])) if betas.ndim == 1 else betas
        lh = d.get("left_hand_pose", np.zeros((n, 45)))
        rh = d.get("right_hand_pose", np.zeros((n, 45)))
        if lh.shape != rh.shape or lh.shape[0] != n:
            raise SourceError(f"{path}: hand poses must both be (N, 45) or (N, P)")
        use_pca = lh.shape[1] != 45
        gender = str(d.get("gender", "neutral"))
        if gender not in ("neutral", "male", "female"):
            raise SourceError(f"{path}: gender must be neutral/male/female, got {gender!r}")
        expr = d.get("expression")
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
        frame_ids = np.asarray(d.get("frame_ids", np.arange(n))).astype(int)
        names = d.get("image_names")
        stem = path.stem
        keep = self._frames(d, n)
        for s in range(0, len(keep), self.batch_size):
            idx = keep[s : s + self.batch_size]
            params = BodyParams.from_numpy(
                betas=betas[idx],
                global_orient=d["global_orient"][idx],
                body_pose=np.asarray(d["body_pose"])[idx],
                jaw_pose=d.get("jaw_pose", np.zeros((n, 3)))[idx],
                leye_pose=d.get("leye_pose", np.zeros((n, 3)))[idx],
                reye_pose=d.get("reye_pose", np.zeros((n, 3)))[idx],
                left_hand_pose=lh[idx],
                right_hand_pose=rh[idx],
                transl=d["transl"][idx],
                expression=None if expr is None else expr[idx],
            )
            cams = cameras(
                K[idx], R[idx], t[idx], np.broadcast_to(size, (len(idx), 2)),
                None if dist is None else dist[idx],
            )  # fmt: skip
            files = (
                [str(names[i]) for i in idx]
                if names is not None
                else [f"{stem}/{frame_ids[i]:06d}.png" for i in idx]
            )
            yield FrameBatch(spec, params, cams, files, [int(frame_ids[i]) for i in idx])
