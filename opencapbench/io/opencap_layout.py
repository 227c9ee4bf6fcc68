"""The OpenCap "LabValidation" dataset layout: the one place that spells its paths.

```
<data>/subjectN/sessionMetadata.yaml
<data>/subjectN/VideoData/Session{S}/calibration.toml                  (optional, Pose2Sim/AniPose)
<data>/subjectN/VideoData/Session{S}/Cam{k}/cameraIntrinsicsExtrinsics.pickle
<data>/subjectN/VideoData/Session{S}/Cam{k}/<trial>/<trial>.{avi,mp4,mov,mkv}
<data>/subjectN/OpenSimData/Mocap/IK/<trial>.mot                       ground-truth angles
<data>/subjectN/OpenSimData/Mocap/MarkerData/<trial>.trc               mocap markers
<data>/subjectN/OpenSimData/Mocap/Model/<name>.osim                    mocap-scaled model
```

Readers (:func:`list_subjects`, :func:`discover_trials`) and writers (the path methods of
:class:`Subject`, used by the synthetic generator and the import commands) share these
definitions; no other module builds these paths. Trials of one subject may live in different
sessions with their own calibrations: every :class:`Trial` names its session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from opencapbench.errors import OCBError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv")
CALIBRATION_FILE = "cameraIntrinsicsExtrinsics.pickle"
#: Pose2Sim/AniPose calibration accepted in a session folder instead of per-camera pickles.
SESSION_TOML = "calibration.toml"
METADATA_FILE = "sessionMetadata.yaml"
#: trials that are not movements to score
NON_MOTION_TRIALS = ("extrinsics", "calibration")


class DatasetLayoutError(OCBError):
    """The dataset folder does not have the OpenCap LabValidation layout."""


def natural_key(text: str) -> list:
    """Sort key that orders ``Cam2`` before ``Cam10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Subject:
    """One subject folder; its path methods serve readers and writers alike."""

    name: str
    root: Path

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA_FILE

    @property
    def video_root(self) -> Path:
        return self.root / "VideoData"

    @property
    def model_dir(self) -> Path:
        return self.root / "OpenSimData" / "Mocap" / "Model"

    def session_dir(self, session: str) -> Path:
        return self.video_root / session

    def camera_dir(self, session: str, camera: str) -> Path:
        return self.session_dir(session) / camera

    def calibration_path(self, session: str, camera: str) -> Path:
        return self.camera_dir(session, camera) / CALIBRATION_FILE

    def trial_video_dir(self, session: str, camera: str, trial: str) -> Path:
        return self.camera_dir(session, camera) / trial

    def gt_mot_path(self, trial: str) -> Path:
        return self.root / "OpenSimData" / "Mocap" / "IK" / f"{trial}.mot"

    def gt_trc_path(self, trial: str) -> Path:
        return self.root / "OpenSimData" / "Mocap" / "MarkerData" / f"{trial}.trc"

    @property
    def mocap_model(self) -> Path | None:
        """The motion-capture-scaled OpenSim model, or None if the folder holds none."""
        models = sorted(self.model_dir.glob("*.osim"))
        return models[0] if models else None

    def gt_mot(self, trial: str) -> Path | None:
        path = self.gt_mot_path(trial)
        return path if path.is_file() else None

    def sessions(self) -> list[str]:
        """Session folder names under ``VideoData``, naturally sorted."""
        if not self.video_root.is_dir():
            return []
        return sorted(
            (p.name for p in self.video_root.glob("Session*") if p.is_dir()), key=natural_key
        )


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

    @property
    def subject_dir(self) -> Path:
        return self.session_dir.parents[1]

    @property
    def metadata_path(self) -> Path:
        return self.subject_dir / METADATA_FILE

    @property
    def calibration_toml(self) -> Path:
        return self.session_dir / SESSION_TOML

    def calibration_path(self, camera: str) -> Path:
        return self.session_dir / camera / CALIBRATION_FILE


def subject(data_dir: str | Path, name: str) -> Subject:
    """The :class:`Subject` ``name`` of a dataset root (for writing: need not exist yet)."""
    return Subject(name, Path(data_dir) / name)


def list_subjects(data_dir: str | Path, only: tuple[str, ...] = ()) -> list[Subject]:
    """Subject folders of ``data_dir`` (those holding ``VideoData`` or ``OpenSimData``)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetLayoutError(f"dataset folder {data_dir} does not exist")
    subjects = [
        Subject(p.name, p)
        for p in sorted(data_dir.iterdir(), key=lambda p: natural_key(p.name))
        if p.is_dir() and ((p / "VideoData").is_dir() or (p / "OpenSimData").is_dir())
    ]
    if only:
        missing = sorted(set(only) - {s.name for s in subjects})
        if missing:
            raise DatasetLayoutError(
                f"subjects {missing} not found in {data_dir}; "
                f"found {[s.name for s in subjects] or 'none'}"
            )
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
        key=natural_key,
    )


def _find_video(trial_dir: Path) -> Path | None:
    videos = sorted(p for p in trial_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return videos[0] if videos else None


def discover_trials(
    data_dir: str | Path,
    subjects: tuple[str, ...] = (),
    trials: tuple[str, ...] = (),
    keypoint_store: Path | None = None,
    include_static: bool = False,
) -> list[Trial]:
    """List the trials of a LabValidation-layout dataset.

    Args:
        data_dir: dataset root holding ``subjectN`` folders.
        subjects: restrict to these subject names (all when empty).
        trials: restrict to these trial names (all when empty).
        keypoint_store: optional keypoint store root; trials present there count too.
        include_static: also list ``static*`` trials (used for scaling, not scored).

    Returns:
        Trials sorted by subject, then trial name.
    """
    found: dict[tuple[str, str], Trial] = {}
    for subj in list_subjects(Path(data_dir), subjects):
        for session in subj.sessions():
            session_dir = subj.session_dir(session)
            names: dict[str, dict[str, Path]] = {}
            for cam in session_cameras(session_dir):
                for trial_dir in (session_dir / cam).iterdir():
                    if trial_dir.is_dir():
                        video = _find_video(trial_dir)
                        videos = names.setdefault(trial_dir.name, {})
                        if video is not None:
                            videos[cam] = video
            if keypoint_store is not None:
                store_session = Path(keypoint_store) / subj.name / session
                if store_session.is_dir():
                    for trial_dir in store_session.iterdir():
                        if trial_dir.is_dir():
                            names.setdefault(trial_dir.name, {})
            for name, videos in names.items():
                if name.lower() in NON_MOTION_TRIALS or (trials and name not in trials):
                    continue
                if not include_static and name.lower().startswith("static"):
                    continue
                found[(subj.name, name)] = Trial(
                    subject=subj.name,
                    session=session,
                    name=name,
                    session_dir=session_dir,
                    gt_mot=subj.gt_mot(name),
                    videos=videos,
                )
    if trials:
        missing = sorted(set(trials) - {name for _, name in found})
        if missing:
            raise DatasetLayoutError(
                f"trials {missing} not found in {data_dir}; "
                f"found {sorted({n for _, n in found}) or 'none'}"
            )
    return [found[k] for k in sorted(found, key=lambda k: (natural_key(k[0]), natural_key(k[1])))]


def map_camera_names(names: list[str], folders: list[str], source: str = "") -> dict[str, str]:
    """Match calibration camera names (Pose2Sim's ``cam01``, ``cam_00``, ``int_cam01_img``…)
    to a session's camera folders (``Cam0``…): by name when equal (case-insensitive); else, as
    many names as folders, in sorted order (Pose2Sim's own rule); else by the number in the
    name, counting from 0 when some name has number 0, else from 1 (Pose2Sim's ``cam01`` is the
    first camera).

    Returns:
        calibration name → folder name.

    Raises:
        DatasetLayoutError: the names cannot be matched; the message lists both.
    """
    by_lower = {f.lower(): f for f in folders}
    if all(n.lower() in by_lower for n in names):
        return {n: by_lower[n.lower()] for n in names}

    def number(text: str) -> int | None:
        digits = re.findall(r"\d+", text)
        return int(digits[0]) if digits else None

    if len(names) == len(folders):  # Pose2Sim's own rule: tables in order = sorted folders
        return dict(
            zip(sorted(names, key=natural_key), sorted(folders, key=natural_key), strict=True)
        )
    folder_no = {number(f): f for f in folders}
    name_no = {n: number(n) for n in names}
    if None not in name_no.values() and len(set(name_no.values())) == len(names):
        offset = 0 if 0 in name_no.values() else -1  # no camera 0: counted from 1, as Pose2Sim
        if all(k + offset in folder_no for k in name_no.values()):
            return {n: folder_no[k + offset] for n, k in name_no.items()}
    raise DatasetLayoutError(
        f"{source}: camera names {names} match none of the camera folders {folders} "
        "(by name, by sorted order, or by number counting from 0 or 1)"
    )
