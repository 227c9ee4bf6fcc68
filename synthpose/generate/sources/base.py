"""The interface every data source adapter implements.

A source is a folder of *units* (one source file each: a BEDLAM ``.npz``, an Infinity
``labels.json``, a RICH sequence x camera, a plain ``.npz``).  A unit is read into
:class:`FrameBatch` es of SMPL-X parameters + per-frame cameras; the unit is also the
resume/skip granularity of the pipeline (one shard per unit, a corrupt unit is skipped).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from opencapbench.errors import OCBError
from synthpose.generate.annotate import CameraBatch
from synthpose.generate.body_model import BodyModelSpec, BodyParams

#: SMPL-X parameters with a fixed number of values per body (axis-angle, metres)
PARAM_WIDTH = {"global_orient": 3, "body_pose": 63, "transl": 3, "jaw_pose": 3,
               "leye_pose": 3, "reye_pose": 3}  # fmt: skip


class SourceError(OCBError, ValueError):
    """A source file is missing, corrupt or not in the expected layout (names the file)."""


@dataclass
class FrameBatch:
    """B frames of one unit, all read with the same body-model spec.

    Attributes:
        spec: how to read the parameters (gender, betas, hand layout).
        params: SMPL-X parameters.
        cams: per-frame cameras.
        file_names: (B,) image paths relative to the output image root.
        frames: (B,) frame numbers within the unit.
        align_to: (B, 55, 3) world joints to align the bodies to (Infinity), or None.
    """

    spec: BodyModelSpec
    params: BodyParams
    cams: CameraBatch
    file_names: list[str]
    frames: list[int]
    align_to: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.file_names)

    def nonfinite(self) -> dict[int, list[str]]:
        """Frames (batch index) whose parameters or camera hold NaN/inf -> the keys at fault.

        Such a frame cannot be annotated; the pipeline reports it instead of dropping it as
        if the body were out of view.
        """
        fields = {**vars(self.params), **{f"camera {k}": v for k, v in vars(self.cams).items()}}
        if self.align_to is not None:
            fields["align_to"] = self.align_to
        bad: dict[int, list[str]] = {}
        for key, value in fields.items():
            if value is None or not torch.is_floating_point(value):
                continue
            rows = (~torch.isfinite(value.reshape(len(self), -1)).all(dim=1)).nonzero()
            for i in rows.flatten().tolist():
                bad.setdefault(i, []).append(key)
        return bad


class Source(ABC):
    """A folder of units of one dataset layout.

    Args:
        root: dataset folder (or a single file where the layout allows).
        every_n: keep frames whose frame number is a multiple of ``every_n``.
        batch_size: maximum frames per :class:`FrameBatch`.
    """

    kind: str = ""

    def __init__(self, root: str | Path, every_n: int = 1, batch_size: int = 256) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise SourceError(f"{self.kind} input {self.root} does not exist")
        self.every_n = max(1, int(every_n))
        self.batch_size = int(batch_size)

    @abstractmethod
    def units(self) -> list[str]:
        """Unit ids (paths relative to ``root``), sorted."""

    @abstractmethod
    def read(self, unit: str) -> Iterator[FrameBatch]:
        """Frame batches of one unit; raises :class:`SourceError` on bad content."""

    def count_frames(self, unit: str) -> int | None:
        """Frames :meth:`read` will yield for ``unit`` (None if unknown without reading)."""
        return None

    def export_images(self, unit: str, frames: list[int], image_dir: Path) -> None:  # noqa: B027
        """Write the images of ``frames`` under ``image_dir`` (sources without image files)."""


def frame_number(name: str, default: int) -> int:
    """Trailing integer of a file stem (``seq_000123.png`` -> 123), else ``default``."""
    m = re.search(r"(\d+)$", Path(str(name)).stem)
    return int(m.group(1)) if m else default


def per_frame(value: np.ndarray, n: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Broadcast a constant or per-frame array to (n, *shape), float64, with a clear error."""
    a = np.asarray(value, dtype=np.float64)
    if a.shape == shape:
        a = np.broadcast_to(a, (n, *shape))
    a = a.reshape(a.shape[0], *shape) if a.ndim >= 1 and a.shape[0] == n else a
    if a.shape != (n, *shape):
        raise SourceError(
            f"{what}: expected shape {shape} or ({n}, {shape}), got {np.shape(value)}"
        )
    return np.ascontiguousarray(a)


def rotate90_ccw_affine(width: int, height: int) -> np.ndarray:
    """2x3 map of pixel coordinates when a ``width x height`` image is rotated 90 deg
    counter-clockwise (the inverse of ``cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)``).

    The rotated image is ``height x width``; ``(x, y) -> (y, width - x)`` (continuous pixel
    coordinates, origin at the top-left image corner).
    """
    return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, float(width)]])


def cameras(
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    image_size: np.ndarray,
    dist: np.ndarray | None = None,
    affine: np.ndarray | None = None,
    out_size: np.ndarray | None = None,
) -> CameraBatch:
    """A :class:`CameraBatch` from per-frame numpy arrays (float64)."""

    def f(x):
        return None if x is None else torch.tensor(np.array(x, dtype=np.float64))

    def i(x):
        return None if x is None else torch.tensor(np.array(x, dtype=np.int64))

    return CameraBatch(
        K=f(K), R=f(R), t=f(t), image_size=i(image_size), dist=f(dist), affine=f(affine),
        out_size=i(out_size),
    )  # fmt: skip
