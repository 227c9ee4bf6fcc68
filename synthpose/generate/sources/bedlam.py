"""BEDLAM: per-scene ``*.npz`` ground truth (rows = one person in one image).

Keys per row: ``imgname`` (image path relative to the scene's ``png/`` folder),
``pose_cam`` (165: SMPL-X axis-angle in the camera frame, layout
``[0:3]`` global orient, ``[3:66]`` body, ``[66:69]`` jaw, ``[69:72]`` left eye,
``[72:75]`` right eye, ``[75:120]`` left hand, ``[120:165]`` right hand), ``shape`` (11 betas),
``trans_cam`` (3), ``cam_int`` (3x3), ``cam_ext`` (4x4).  Model: SMPL-X neutral, 11 betas,
flat-hand mean, full (non-PCA) hands.  Bodies are posed in the camera frame and shifted by
``cam_ext[:3, 3]`` (R = identity), as BEDLAM's own tools do.  Images are 1280x720.

``closeup`` scenes are portrait renders stored sideways: BEDLAM's loaders rotate those PNGs
90 deg clockwise to get the upright image that ``cam_int`` projects into (a ``2 cx x 2 cy`` =
720x1280 frame).  The annotations written here are in the frame of the PNG as stored
(1280x720), so any COCO loader can use the files as they are: projected points are rotated
90 deg counter-clockwise, ``(x, y) -> (y, 720 - x)`` (``rotate90_ccw_affine``).  ``--every-n`` keeps images whose frame number (trailing digits of
``imgname``) is a multiple of n.  ``file_name`` = ``<npz stem>/png/<imgname>``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from opencapbench.io.paths import safe_relative
from synthpose.generate.body_model import BodyModelSpec, BodyParams
from synthpose.generate.sources.base import (
    FrameBatch,
    Source,
    SourceError,
    cameras,
    frame_number,
    rotate90_ccw_affine,
)
from synthpose.generate.sources.npz import load_npz

SPEC = BodyModelSpec(gender="neutral", num_betas=11, use_pca=False, flat_hand_mean=True)
KEYS = ("imgname", "pose_cam", "shape", "trans_cam", "cam_int", "cam_ext")
IMAGE_SIZE = (1280, 720)


def split_pose_165(pose: np.ndarray) -> dict[str, np.ndarray]:
    """Split (N, 165) SMPL-X axis-angle poses into smplx's named parameters."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.ndim != 2 or pose.shape[1] != 165:
        raise SourceError(f"pose must be (N, 165), got {pose.shape}")
    return dict(
        global_orient=pose[:, 0:3],
        body_pose=pose[:, 3:66],
        jaw_pose=pose[:, 66:69],
        leye_pose=pose[:, 69:72],
        reye_pose=pose[:, 72:75],
        left_hand_pose=pose[:, 75:120],
        right_hand_pose=pose[:, 120:165],
    )


class BedlamSource(Source):
    kind = "bedlam"

    def units(self) -> list[str]:
        if self.root.is_file():
            return [self.root.name]
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*.npz"))

    def count_frames(self, unit: str) -> int | None:
        path = self.root if self.root.is_file() else self.root / unit
        try:
            with np.load(path, allow_pickle=False) as z:
                names = [str(x) for x in z["imgname"]]
        except Exception:
            return None  # read() will report the problem
        return sum(frame_number(x, i) % self.every_n == 0 for i, x in enumerate(names))

    def read(self, unit: str) -> Iterator[FrameBatch]:
        path = self.root if self.root.is_file() else self.root / unit
        d = load_npz(path) if path.suffix == ".npz" else {}
        missing = [k for k in KEYS if k not in d]
        if missing:
            raise SourceError(f"{path}: not a BEDLAM npz, missing keys {missing}")
        n = len(d["imgname"])
        try:
            pose = split_pose_165(d["pose_cam"])
            betas = np.asarray(d["shape"], np.float64).reshape(n, -1)[:, :11]
            transl = np.asarray(d["trans_cam"], np.float64).reshape(n, 3)
            K = np.asarray(d["cam_int"], np.float64).reshape(n, 3, 3)
            ext = np.asarray(d["cam_ext"], np.float64).reshape(n, 4, 4)
        except (ValueError, SourceError) as exc:
            raise SourceError(f"{path}: {exc}") from None
        # image names become the COCO file_name and paths under --image-root
        names = [
            safe_relative(str(x), None, f"imgname[{i}] in {path}").as_posix()
            for i, x in enumerate(d["imgname"])
        ]
        frames = np.array([frame_number(x, i) for i, x in enumerate(names)])
        keep = np.flatnonzero(frames % self.every_n == 0)
        closeup = "closeup" in path.stem.lower()
        for s in range(0, len(keep), self.batch_size):
            idx = keep[s : s + self.batch_size]
            b = len(idx)
            params = BodyParams.from_numpy(
                betas=betas[idx], transl=transl[idx], **{k: v[idx] for k, v in pose.items()}
            )
            Kb = K[idx]
            proj_size = np.rint(2 * Kb[:, :2, 2]).astype(int)  # (2 cx, 2 cy)
            if closeup:
                affine = np.stack([rotate90_ccw_affine(w, h) for w, h in proj_size])
                out_size = proj_size[:, ::-1].copy()
            else:
                proj_size = np.broadcast_to(np.array(IMAGE_SIZE), (b, 2))
                affine, out_size = None, None
            cams = cameras(
                Kb, np.broadcast_to(np.eye(3), (b, 3, 3)), ext[idx, :3, 3], proj_size,
                affine=affine, out_size=out_size,
            )  # fmt: skip
            files = [f"{path.stem}/png/{names[i]}" for i in idx]
            yield FrameBatch(SPEC, params, cams, files, [int(frames[i]) for i in idx])
