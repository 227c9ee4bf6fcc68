"""Discovery of the OpenCap "LabValidation" dataset layout.

```
<data>/subjectN/sessionMetadata.yaml
<data>/subjectN/VideoData/Session{S}/Cam{k}/cameraIntrinsicsExtrinsics.pickle
<data>/subjectN/VideoData/Session{S}/Cam{k}/<trial>/<trial>.{avi,mp4,mov}
<data>/subjectN/OpenSimData/Mocap/IK/<trial>.mot             ground truth
<data>/subjectN/OpenSimData/Mocap/Model/<name>.osim           mocap-scaled model
```

Trials are found from the per-camera trial folders of each session (and, when a keypoint
store is given, from the store too). A trial without ground truth is still listed: it is
processed to a .mot, and the scoring step reports it as unscored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from opencapbench.benchmark.errors import DatasetLayoutError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv")
CALIBRATION_FILE = "cameraIntrinsicsExtrinsics.pickle"
#: trials that are not movements to score
NON_MOTION_TRIALS = ("extrinsics", "calibration")

#: OpenCapBench camera set-ups (Cam0 −70°, Cam1 −45°, Cam2 0°, Cam3 +45°, Cam4 +70°).
CAMERA_SETUPS: dict[str, tuple[str, ...]] = {
    "2-cameras": ("Cam1", "Cam3"),
    "3-cameras": ("Cam1", "Cam2", "Cam3"),
    "5-cameras": ("Cam0", "Cam1", "Cam2", "Cam3", "Cam4"),
}


def _natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Trial:
    """One recorded movement of one subject.

    Attributes:
        subject: subject folder name, e.g. ``"subject2"``.
        session: session folder name under ``VideoData``, e.g. ``"Session0"``.
        name: trial name, e.g. ``"walking1"``.
        session_dir: ``<data>/<subject>/VideoData/<session>``.
        gt_mot: ground-truth IK file, or None when the dataset has none for this trial.
        videos: camera name → video file, for the cameras that have one.
    """

    subject: str
    session: str
    name: str
    session_dir: Path
    gt_mot: Path | None
    videos: dict[str, Path] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.name}"


@dataclass(frozen=True)
class Subject:
    """A subject folder with its metadata and mocap-scaled model."""

    name: str
    root: Path

    @property
    def metadata_path(self) -> Path:
        return self.root / "sessionMetadata.yaml"

    @property
    def mocap_model(self) -> Path | None:
        """The motion-capture-scaled OpenSim model, or None if the folder holds none."""
        models = sorted((self.root / "OpenSimData" / "Mocap" / "Model").glob("*.osim"))
        return models[0] if models else None

    def gt_mot(self, trial: str) -> Path | None:
        path = self.root / "OpenSimData" / "Mocap" / "IK" / f"{trial}.mot"
        return path if path.is_file() else None


def list_subjects(data_dir: Path, only: tuple[str, ...] = ()) -> list[Subject]:
    """Subject folders of ``data_dir`` (those holding ``VideoData`` or ``OpenSimData``)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetLayoutError(f"dataset folder {data_dir} does not exist")
    subjects = [
        Subject(p.name, p)
        for p in sorted(data_dir.iterdir(), key=lambda p: _natural_key(p.name))
        if p.is_dir() and ((p / "VideoData").is_dir() or (p / "OpenSimData").is_dir())
    ]
    if only:
        missing = sorted(set(only) - {s.name for s in subjects})
        if missing:
            raise DatasetLayoutError(f"subjects {missing} not found in {data_dir}")
        subjects = [s for s in subjects if s.name in only]
    if not subjects:
        raise DatasetLayoutError(
            f"no subject folders (with VideoData/ or OpenSimData/) found in {data_dir}"
        )
    return subjects


def session_cameras(session_dir: Path) -> list[str]:
    """Camera folder names of a session, naturally sorted (Cam0, Cam1, ..., Cam10)."""
    return sorted(
        (p.name for p in session_dir.iterdir() if p.is_dir() and p.name.lower().startswith("cam")),
        key=_natural_key,
    )


def _find_video(trial_dir: Path) -> Path | None:
    videos = sorted(p for p in trial_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return videos[0] if videos else None


def discover_trials(
    data_dir: Path,
    subjects: tuple[str, ...] = (),
    trials: tuple[str, ...] = (),
    keypoint_store: Path | None = None,
) -> list[Trial]:
    """List the trials of a LabValidation-layout dataset.

    Args:
        data_dir: dataset root holding ``subjectN`` folders.
        subjects: restrict to these subject names (all when empty).
        trials: restrict to these trial names (all when empty).
        keypoint_store: optional keypoint store root; trials present there count too.

    Returns:
        Trials sorted by subject, then trial name.
    """
    found: dict[tuple[str, str], Trial] = {}
    for subject in list_subjects(Path(data_dir), subjects):
        video_root = subject.root / "VideoData"
        sessions = sorted(video_root.glob("Session*"), key=lambda p: _natural_key(p.name))
        for session_dir in sessions:
            names: dict[str, dict[str, Path]] = {}
            for cam in session_cameras(session_dir):
                for trial_dir in (session_dir / cam).iterdir():
                    if trial_dir.is_dir():
                        video = _find_video(trial_dir)
                        videos = names.setdefault(trial_dir.name, {})
                        if video is not None:
                            videos[cam] = video
            if keypoint_store is not None:
                store_session = Path(keypoint_store) / subject.name / session_dir.name
                if store_session.is_dir():
                    for trial_dir in store_session.iterdir():
                        if trial_dir.is_dir():
                            names.setdefault(trial_dir.name, {})
            for name, videos in names.items():
                if name.lower() in NON_MOTION_TRIALS or (trials and name not in trials):
                    continue
                found[(subject.name, name)] = Trial(
                    subject=subject.name,
                    session=session_dir.name,
                    name=name,
                    session_dir=session_dir,
                    gt_mot=subject.gt_mot(name),
                    videos=videos,
                )
    return [found[k] for k in sorted(found, key=lambda k: (_natural_key(k[0]), _natural_key(k[1])))]


def resolve_cameras(setup: str, available: list[str]) -> list[str]:
    """Camera names to use: a preset (``2-cameras``…), ``all``, or a comma list (``Cam1,Cam3``)."""
    if setup == "all":
        return list(available)
    names = CAMERA_SETUPS.get(setup) or tuple(c.strip() for c in setup.split(",") if c.strip())
    return list(names)
