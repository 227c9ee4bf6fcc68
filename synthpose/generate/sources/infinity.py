"""Infinity AI / VisionFit: per-video ``labels.json`` (+ ``video.mp4``).

Layout: ``<root>/<video>/labels.json`` and ``<root>/<video>/video.mp4``.  ``labels.json`` is
COCO-like:

* ``info``: ``camera_K_matrix`` (3x3), ``camera_RT_matrix`` (3x4 or 4x4 world->camera,
  metres), ``avatar_presenting_gender`` (``male``/``female``, else neutral), ``avatar_betas``
  (10).
* ``images``: ``id``, ``width``, ``height`` and the frame number (``frame_number``, else the
  position in the list).
* ``annotations``: ``image_id``, ``quaternions`` (SMPL-X joint name -> ``[w, x, y, z]`` local
  rotation) and ``armature_keypoints`` (SMPL-X joint name -> ``{x_global, y_global,
  z_global}``, metres, world frame).

Bodies are posed from the quaternions (joints 1..54; no global orientation or translation) and
then moved rigidly onto the armature: the least-squares rotation + translation between the
centred SMPL-X joints and the centred armature joints (the Kabsch solution, what
``Rotation.align_vectors`` computes), before ``RT`` and ``K`` project them.  Frames are
exported from ``video.mp4`` as ``infinity/<video>/<frame:06d>.png`` under the image root.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from opencapbench.io.atomic import atomic_path
from synthpose.generate.body_model import BodyModelSpec, BodyParams
from synthpose.generate.sources.base import FrameBatch, Source, SourceError, cameras
from synthpose.markers import SMPLX_JOINT_NAMES

_EYES = {"left_eye": 23, "right_eye": 24}


def _joint_id(name: str) -> int | None:
    if name in SMPLX_JOINT_NAMES:
        return SMPLX_JOINT_NAMES.index(name)
    return _EYES.get(name)


class InfinitySource(Source):
    kind = "infinity"

    def units(self) -> list[str]:
        if self.root.is_file():
            return [self.root.name]
        return sorted(str(p.parent.relative_to(self.root)) for p in self.root.rglob("labels.json"))

    def _labels(self, unit: str) -> tuple[Path, dict]:
        path = self.root if self.root.is_file() else self.root / unit / "labels.json"
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SourceError(f"{path}: cannot read labels.json ({exc})") from None
        for key in ("info", "images", "annotations"):
            if key not in doc:
                raise SourceError(f"{path}: no {key!r} section")
        return path, doc

    def read(self, unit: str) -> Iterator[FrameBatch]:
        path, doc = self._labels(unit)
        info = doc["info"]
        try:
            K = np.asarray(info["camera_K_matrix"], np.float64).reshape(3, 3)
            RT = np.asarray(info["camera_RT_matrix"], np.float64).reshape(-1, 4)[:3]
            betas = np.asarray(info.get("avatar_betas", np.zeros(10)), np.float64).ravel()
        except (KeyError, ValueError) as exc:
            raise SourceError(f"{path}: bad camera/avatar info ({exc})") from None
        gender = str(info.get("avatar_presenting_gender", "neutral")).lower()
        gender = gender if gender in ("male", "female") else "neutral"
        spec = BodyModelSpec(gender=gender, num_betas=len(betas), use_pca=False)
        images = {im["id"]: (i, im) for i, im in enumerate(doc["images"])}
        rows = []
        for ann in doc["annotations"]:
            if ann.get("image_id") not in images or "quaternions" not in ann:
                continue
            pos, im = images[ann["image_id"]]
            frame = int(im.get("frame_number", pos))
            if frame % self.every_n == 0:
                rows.append((frame, im, ann))
        for s in range(0, len(rows), self.batch_size):
            chunk = rows[s : s + self.batch_size]
            b = len(chunk)
            pose = np.zeros((b, 55, 3))
            target = np.full((b, 55, 3), np.nan)
            for r, (_, _, ann) in enumerate(chunk):
                for name, q in ann["quaternions"].items():
                    j = _joint_id(name)
                    if j is not None and j > 0:
                        w, x, y, z = (float(c) for c in q)
                        pose[r, j] = Rotation.from_quat([x, y, z, w]).as_rotvec()
                for name, p in ann.get("armature_keypoints", {}).items():
                    j = _joint_id(name)
                    if j is not None:
                        target[r, j] = [p["x_global"], p["y_global"], p["z_global"]]
            if np.isnan(target).any():
                raise SourceError(f"{path}: armature_keypoints lack some of the 55 SMPL-X joints")
            params = BodyParams.from_numpy(
                betas=np.broadcast_to(betas, (b, len(betas))),
                global_orient=np.zeros((b, 3)),
                body_pose=pose[:, 1:22],
                jaw_pose=pose[:, 22],
                leye_pose=pose[:, 23],
                reye_pose=pose[:, 24],
                left_hand_pose=pose[:, 25:40].reshape(b, 45),
                right_hand_pose=pose[:, 40:55].reshape(b, 45),
                transl=np.zeros((b, 3)),
            )
            size = np.array([[im.get("width", 0), im.get("height", 0)] for _, im, _ in chunk])
            cams = cameras(
                np.broadcast_to(K, (b, 3, 3)), np.broadcast_to(RT[:, :3], (b, 3, 3)),
                np.broadcast_to(RT[:, 3], (b, 3)), size,
            )  # fmt: skip
            files = [f"infinity/{unit}/{f:06d}.png" for f, _, _ in chunk]
            yield FrameBatch(
                spec, params, cams, files, [f for f, _, _ in chunk], torch.as_tensor(target)
            )

    def export_images(self, unit: str, frames: list[int], image_dir: Path) -> None:
        import cv2

        video = (self.root.parent if self.root.is_file() else self.root / unit) / "video.mp4"
        if not video.is_file():
            return
        wanted = set(frames)
        cap = cv2.VideoCapture(str(video))
        try:
            i = 0
            while wanted:
                ok, img = cap.read()
                if not ok:
                    break
                if i in wanted:
                    out = image_dir / "infinity" / unit / f"{i:06d}.png"
                    if not out.exists():
                        with atomic_path(out) as tmp:
                            cv2.imwrite(str(tmp), img)
                    wanted.discard(i)
                i += 1
        finally:
            cap.release()
