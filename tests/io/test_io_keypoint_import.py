"""`ocb import-keypoints` on a whole tree in one call equals the per-camera imports; image
sizes come from the dataset's calibrations, camera names keep its case, a swapped size is
caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from opencapbench.cli import main
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.io.openpose_json import export_openpose_json
from opencapbench.synthetic import generate_synthetic_dataset

TRIALS = ("walking1", "squats1")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("bulk")
    data = root / "data"
    info = generate_synthetic_dataset(
        data, trials=TRIALS, n_cameras=2, duration_s=0.2, noise_px=1.0, progress=False
    )
    tree = root / "tree"
    originals = {}
    for trial in TRIALS:
        for cam in info.cameras:
            kp = Keypoints2D.load(
                store_path(data / "keypoints", "subject1", "Session0", trial, cam)
            )
            # Pose2Sim-style lower-case folder names
            export_openpose_json(
                kp, tree / "subject1/Session0" / trial / f"{cam.lower()}_json", cam
            )
            originals[(trial, cam)] = kp
    return data, tree, originals


def test_bulk_import_equals_per_camera_imports(tree, tmp_path) -> None:
    data, root, originals = tree
    bulk = tmp_path / "bulk"
    args = ["import-keypoints", str(root), "--format", "openpose", "-o", str(bulk),
            "--dataset", str(data), "--fps", "60"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{len(originals)} camera(s) imported" in result.output
    for (trial, cam), kp in originals.items():
        single = tmp_path / "single"
        one = ["import-keypoints", str(root / "subject1/Session0" / trial / f"{cam.lower()}_json"),
               "--format", "openpose", "-o", str(single), "--subject", "subject1",
               "--trial", trial, "--camera", cam, "--fps", "60",
               "--image-size", *map(str, kp.image_size)]  # fmt: skip
        assert CliRunner().invoke(main, one).exit_code == 0
        a = Keypoints2D.load(store_path(bulk, "subject1", "Session0", trial, cam))  # "Cam1" case
        b = Keypoints2D.load(store_path(single, "subject1", "Session0", trial, cam))
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.image_size == b.image_size == kp.image_size and a.fps == b.fps == 60.0
        np.testing.assert_allclose(a.keypoints, kp.keypoints, atol=1e-3)


def test_a_swapped_image_size_is_caught(tree, tmp_path) -> None:
    data, root, originals = tree
    (trial, cam), kp = next(iter(originals.items()))
    w, h = kp.image_size
    source = root / "subject1/Session0" / trial / f"{cam.lower()}_json"
    base = ["import-keypoints", str(source), "--format", "openpose", "-o", str(tmp_path / "s"),
            "--subject", "subject1", "--trial", trial, "--camera", cam, "--fps", "60"]  # fmt: skip
    alone = CliRunner().invoke(main, [*base, "--image-size", str(h), str(w)])
    assert alone.exit_code == 1 and "looks swapped" in alone.output, alone.output
    with_data = CliRunner().invoke(
        main, [*base, "--image-size", str(h), str(w), "--dataset", str(data)]
    )
    assert with_data.exit_code == 1 and "calibration size swapped" in with_data.output
