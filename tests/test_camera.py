"""The calibration image-size check (``opencapbench.camera.check_image_size``) on the real
OpenCap per-device intrinsics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from opencapbench.camera import Camera, ImageSizeMismatchError, check_image_size
from opencapbench.errors import OCBError
from opencapbench.io.calibration import read_opencap_intrinsics


def _cameras(shared_dir) -> list[Camera]:
    files = sorted((shared_dir / "reference" / "opencap-intrinsics").glob("*/*/*.pickle"))
    assert len(files) >= 50
    out = []
    for f in files:
        K, dist, size = read_opencap_intrinsics(f)
        out.append(
            Camera(f"{f.parent.parent.name}/{f.parent.name}", K, dist, np.eye(3), np.zeros(3), size)
        )
    return out


def test_real_intrinsics_match_their_portrait_videos(shared_dir) -> None:
    for cam in _cameras(shared_dir):
        w, h = cam.image_size
        assert h > w  # portrait: the pickles' (height, width) read the right way round
        assert check_image_size(cam, (w, h)) is cam


def test_transposed_stored_size_is_resolved_by_the_principal_point(shared_dir) -> None:
    for cam in _cameras(shared_dir):
        w, h = cam.image_size
        stale = replace(cam, image_size=(h, w))  # e.g. the stale landscape [1280, 720]
        fixed = check_image_size(stale, (w, h), source="subject2/Cam1")
        assert fixed.image_size == (w, h)
        np.testing.assert_array_equal(fixed.K, cam.K)


def test_half_resolution_and_wrong_orientation_are_named_errors(shared_dir) -> None:
    for cam in _cameras(shared_dir):
        w, h = cam.image_size
        with pytest.raises(ImageSizeMismatchError, match=rf"{w}x{h} px .* {w // 2}x{h // 2} px"):
            check_image_size(cam, (w // 2, h // 2), source="subject2/STS1")
        with pytest.raises(ImageSizeMismatchError, match="does not fit|fits"):
            check_image_size(cam, (h, w))  # landscape video, portrait intrinsics
    assert issubclass(ImageSizeMismatchError, OCBError)


def test_message_names_the_trial_and_camera() -> None:
    cam = Camera(
        "Cam3", [[900, 0, 360], [0, 900, 640], [0, 0, 1]], None, np.eye(3), np.zeros(3), (720, 1280)
    )
    with pytest.raises(ImageSizeMismatchError) as exc:
        check_image_size(cam, (360, 640), source="subject4/walking1")
    assert "subject4/walking1" in str(exc.value) and "'Cam3'" in str(exc.value)
