"""The pinhole-plus-distortion camera shared by calibration I/O, triangulation and projection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
