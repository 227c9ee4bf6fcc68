"""The pinhole-plus-distortion camera shared by calibration I/O, triangulation and projection."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from opencapbench.errors import OCBError

__all__ = ["Camera", "ImageSizeMismatchError", "check_image_size"]

log = logging.getLogger(__name__)


@dataclass
class Camera:
    """One calibrated camera (OpenCV conventions).

    Attributes:
        name: camera identifier, e.g. ``"Cam0"``.
        K: intrinsic matrix, (3, 3), pixels.
        dist: OpenCV distortion coefficients ``(k1, k2, p1, p2, k3)``, (5,).
        R: world→camera rotation matrix, (3, 3).
        t: world→camera translation, (3,), **metres**.
        image_size: ``(width, height)`` in pixels.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.dist = np.zeros(5) if self.dist is None else np.asarray(self.dist, np.float64).ravel()
        self.R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(3)
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @property
    def projection_matrix(self) -> np.ndarray:
        """``P = K [R | t]``, (3, 4); maps homogeneous world points (metres) to pixels."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,), metres."""
        return -self.R.T @ self.t


class ImageSizeMismatchError(OCBError, ValueError):
    """A calibration was made for another image size than the keypoints' or video's."""


def _principal_point_fits(K: np.ndarray, size: tuple[int, int], tolerance: float) -> bool:
    w, h = size
    return abs(K[0, 2] - w / 2) <= tolerance * w and abs(K[1, 2] - h / 2) <= tolerance * h


def check_image_size(
    camera: Camera,
    image_size: tuple[int, int],
    source: str = "",
    tolerance: float = 0.1,
) -> Camera:
    """Check a calibration against the size of the images its keypoints come from.

    OpenCap pickles may store the image size transposed (a stale landscape size for portrait
    videos); the principal point tells which orientation the intrinsics were made for.

    Args:
        camera: the calibration.
        image_size: ``(width, height)`` of the video / keypoint store, pixels.
        source: names the trial or file in the error message.
        tolerance: how far the principal point may sit from the image centre, as a fraction
            of the width / height.

    Returns:
        ``camera`` when its size matches; a copy with ``image_size`` set to ``image_size``
        when the stored size is the same one transposed and the principal point lies near
        the centre of ``image_size`` (trusted over the stored size).

    Raises:
        ImageSizeMismatchError: any other difference, e.g. keypoints at half the
            calibration's resolution or a landscape video with portrait intrinsics.
    """
    W, H = int(image_size[0]), int(image_size[1])
    w, h = camera.image_size
    if (w, h) == (W, H):
        return camera
    cx, cy = camera.K[0, 2], camera.K[1, 2]
    if (h, w) == (W, H) and _principal_point_fits(camera.K, (W, H), tolerance):
        log.info(
            "%s: camera %s stores image size %dx%d transposed; its principal point (%.0f, %.0f) "
            "fits the %dx%d images, so that size is used",
            source or "calibration", camera.name, w, h, cx, cy, W, H,
        )  # fmt: skip
        return replace(camera, image_size=(W, H))
    fits = "fits" if _principal_point_fits(camera.K, (w, h), tolerance) else "does not fit"
    raise ImageSizeMismatchError(
        f"{source or 'calibration'}: camera {camera.name!r} is calibrated for {w}x{h} px "
        f"(principal point ({cx:.0f}, {cy:.0f}) {fits} that size) but its keypoints/video are "
        f"{W}x{H} px; re-run the pose stage on the calibrated videos or use the calibration "
        f"of this resolution"
    )
