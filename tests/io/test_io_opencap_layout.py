"""Discovery of the LabValidation layout."""

from pathlib import Path

import pytest

from opencapbench.benchmark.config import resolve_cameras
from opencapbench.io.opencap_layout import DatasetLayoutError, discover_trials, session_cameras


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _layout(root: Path) -> None:
    for subject in ("subject10", "subject2"):
        s = root / subject
        _touch(s / "sessionMetadata.yaml")
        for cam in ("Cam0", "Cam1", "Cam10"):
            _touch(s / "VideoData/Session0" / cam / "cameraIntrinsicsExtrinsics.pickle")
            for trial in ("walking1", "extrinsics", "DJ1"):
                _touch(s / "VideoData/Session0" / cam / trial / f"{trial}.avi")
        _touch(s / "OpenSimData/Mocap/IK/walking1.mot")
    (root / "keypoints").mkdir()  # not a subject: no VideoData/OpenSimData


def test_discovery_sorts_naturally_and_pairs_ground_truth(tmp_path: Path) -> None:
    _layout(tmp_path)
    trials = discover_trials(tmp_path)
    assert [t.key for t in trials] == [
        "subject2/DJ1", "subject2/walking1", "subject10/DJ1", "subject10/walking1",
    ]  # fmt: skip
    walking = trials[1]
    assert walking.gt_mot == tmp_path / "subject2/OpenSimData/Mocap/IK/walking1.mot"
    assert trials[0].gt_mot is None  # DJ1 has no ground truth, but is still listed
    assert sorted(walking.videos) == ["Cam0", "Cam1", "Cam10"]
    assert session_cameras(walking.session_dir) == ["Cam0", "Cam1", "Cam10"]


def test_filters_and_errors(tmp_path: Path) -> None:
    _layout(tmp_path)
    only = discover_trials(tmp_path, subjects=("subject10",), trials=("DJ1",))
    assert [t.key for t in only] == ["subject10/DJ1"]
    with pytest.raises(DatasetLayoutError, match="subject3"):
        discover_trials(tmp_path, subjects=("subject3",))
    with pytest.raises(DatasetLayoutError, match="no subject folders"):
        discover_trials(tmp_path / "keypoints")


def test_camera_setups() -> None:
    cams = ["Cam0", "Cam1", "Cam2", "Cam3", "Cam4"]
    assert resolve_cameras("2-cameras", cams) == ["Cam1", "Cam3"]
    assert resolve_cameras("all", cams) == cams
    assert resolve_cameras("Cam0, Cam4", cams) == ["Cam0", "Cam4"]
