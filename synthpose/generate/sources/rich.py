"""RICH: per-frame SMPL-X ``.pkl`` bodies seen by calibrated static cameras.

Layout (``INPUT`` = the RICH root)::

    bodies/<split>/<seq>/<frame:05d>/<subject:03d>.pkl     SMPL-X parameters of one body
    scan_calibration/<scene>/calibration/<cam:03d>.xml     OpenCV-style calibration
    images/<split>/<seq>/cam_<cam:02d>/<frame:05d>_<cam:02d>.jpeg
    gender.json  (optional)                                {"<subject>": "male"|"female"}

``<seq>`` is ``<scene>_<subject>_<action>`` (e.g. ``ParkingLot1_002_burpee3``).  One unit =
one sequence seen by one camera (``<split>/<seq>/cam_<cam:02d>``; the cameras are those with a
calibration file).  Bodies: ``betas`` (1, 10), ``global_orient``, ``body_pose`` (1, 63),
``jaw_pose``, ``leye_pose``, ``reye_pose``, ``left_hand_pose``/``right_hand_pose`` (1, 12:
PCA, ``flat_hand_mean=False``), ``expression`` (1, 10), ``transl``, in the world frame of the
calibration files (RICH's multi-camera frame).
Body pickles are read with the restricted unpickler of :mod:`opencapbench.io.pickles` (numpy
arrays only; ``trust_pickles`` / ``--trust-pickles`` admits anything, with a warning).
The calibration XML holds ``CameraMatrix`` (3x4 or 4x4 world->camera ``[R|t]``, metres),
``Intrinsics`` (3x3) and ``Distortion`` (5); distortion is applied (the original ignored it).
Images are 4112x3008.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from opencapbench.io.pickles import load_pickle
from synthpose.generate.body_model import BodyModelSpec, BodyParams
from synthpose.generate.sources.base import (
    PARAM_WIDTH,
    FrameBatch,
    Source,
    SourceError,
    cameras,
)

IMAGE_SIZE = (4112, 3008)
PARAM_KEYS = (
    "betas", "global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose",
    "left_hand_pose", "right_hand_pose", "expression", "transl",
)  # fmt: skip


def read_calibration(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """K (3,3), dist (5,), R (3,3), t (3,) metres from a RICH calibration XML."""

    def matrix(root, tag: str) -> np.ndarray:
        node = root.find(f".//{tag}")
        if node is None or node.find("data") is None:
            raise SourceError(f"{path}: no <{tag}> matrix")
        vals = np.array([float(x) for x in node.find("data").text.split()])
        rows, cols = node.find("rows"), node.find("cols")
        if rows is not None and cols is not None:
            vals = vals.reshape(int(rows.text), int(cols.text))
        return vals

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SourceError(f"{path}: cannot parse calibration XML ({exc})") from None
    ext = matrix(root, "CameraMatrix").reshape(-1, 4)[:3]
    K = matrix(root, "Intrinsics").reshape(3, 3)
    dist = np.zeros(5)
    if root.find(".//Distortion") is not None:
        d = matrix(root, "Distortion").ravel()
        dist[: min(5, d.size)] = d[:5]
    return K, dist, ext[:, :3], ext[:, 3]


class RichSource(Source):
    kind = "rich"

    def __init__(
        self,
        root,
        every_n: int = 1,
        batch_size: int = 256,
        gender: str | None = None,
        trust_pickles: bool | None = None,
    ):
        super().__init__(root, every_n, batch_size)
        self.trust_pickles = trust_pickles
        self.genders: dict[str, str] = {}
        if (self.root / "gender.json").is_file():
            self.genders = json.loads((self.root / "gender.json").read_text())
        self.default_gender = gender or "neutral"

    def units(self) -> list[str]:
        out = []
        for seq in sorted((self.root / "bodies").glob("*/*")):
            if not seq.is_dir():
                continue
            scene = seq.name.split("_")[0]
            calib = self.root / "scan_calibration" / scene / "calibration"
            for xml in sorted(calib.glob("*.xml")):
                if xml.stem.isdigit():
                    out.append(f"{seq.parent.name}/{seq.name}/cam_{int(xml.stem):02d}")
        return out

    def read(self, unit: str) -> Iterator[FrameBatch]:
        split, seq, cam = unit.split("/")
        cam_id = int(cam.split("_")[1])
        scene, subject = seq.split("_")[0], seq.split("_")[1] if "_" in seq else ""
        calib = self.root / "scan_calibration" / scene / "calibration" / f"{cam_id:03d}.xml"
        K, dist, R, t = read_calibration(calib)
        gender = self.genders.get(subject, self.default_gender)
        spec = BodyModelSpec(
            gender=gender, num_betas=10, use_pca=True, num_pca_comps=12, flat_hand_mean=False
        )
        frame_dirs = sorted(p for p in (self.root / "bodies" / split / seq).iterdir() if p.is_dir())
        items = []
        for fd in frame_dirs:
            if not fd.name.isdigit() or int(fd.name) % self.every_n:
                continue
            for pkl in sorted(fd.glob("*.pkl")):
                items.append((int(fd.name), pkl))
        for s in range(0, len(items), self.batch_size):
            chunk = items[s : s + self.batch_size]
            rows = [self._load(p, self.trust_pickles) for _, p in chunk]
            arrays = {k: np.concatenate([r[k] for r in rows]) for k in PARAM_KEYS}
            b = len(chunk)
            params = BodyParams.from_numpy(**arrays)
            cams = cameras(
                np.broadcast_to(K, (b, 3, 3)), np.broadcast_to(R, (b, 3, 3)),
                np.broadcast_to(t, (b, 3)), np.broadcast_to(np.array(IMAGE_SIZE), (b, 2)),
                np.broadcast_to(dist, (b, 5)),
            )  # fmt: skip
            files = [
                f"images/{split}/{seq}/cam_{cam_id:02d}/{f:05d}_{cam_id:02d}.jpeg" for f, _ in chunk
            ]
            yield FrameBatch(spec, params, cams, files, [f for f, _ in chunk])

    @staticmethod
    def _load(path: Path, trust: bool | None = None) -> dict[str, np.ndarray]:
        d = load_pickle(path, SourceError, "body pickle", trust=trust)
        if not isinstance(d, dict):
            raise SourceError(
                f"{path}: expected a dict of SMPL-X parameters, got {type(d).__name__}"
            )
        out = {}
        for k in PARAM_KEYS:
            if k not in d:
                if k in ("jaw_pose", "leye_pose", "reye_pose"):
                    out[k] = np.zeros((1, 3))
                    continue
                if k == "expression":
                    out[k] = np.zeros((1, 10))
                    continue
                raise SourceError(f"{path}: missing {k!r}")
            v = d[k]
            v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
            try:
                out[k] = v.reshape(1, -1).astype(np.float64)
            except (TypeError, ValueError):
                raise SourceError(f"{path}: key {k!r} is not numeric") from None
            width = PARAM_WIDTH.get(k)
            if width is not None and out[k].shape[1] != width:
                raise SourceError(
                    f"{path}: key {k!r} has shape {v.shape}, expected (1, {width}) for one body"
                )
        return out
