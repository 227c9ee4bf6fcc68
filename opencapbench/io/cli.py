"""`ocb import-keypoints` and `ocb convert-calibration`: bring existing data into the toolkit."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from opencapbench.keypoints import list_keypoint_sets

_TRUST_HELP = (
    "Also load pickles that hold more than numpy data (they can run code: only files you made "
    "yourself). Default: refuse them unless OCB_TRUST_PICKLES=1."
)


@click.command("import-keypoints")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openpose", "opencap"]),
    required=True,
    help="openpose: folders of per-frame OpenPose/Pose2Sim JSON; opencap: pose .pkl files.",
)
@click.option(
    "-o",
    "--out",
    "--store",
    "store",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Keypoint store root (e.g. OUT/keypoints of `ocb benchmark`).",
)
@click.option("--subject", default=None, help="One camera's import: the subject.")
@click.option("--session", default="Session0", show_default=True)
@click.option("--trial", default=None, help="One camera's import: the trial.")
@click.option("--camera", default=None, help="One camera's import: the camera, e.g. Cam1.")
@click.option(
    "--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="The LabValidation-layout dataset: image sizes come from its calibrations, frame rates "
    "from its videos, and camera names keep its case.",
)  # fmt: skip
@click.option(
    "--keypoint-set",
    type=click.Choice(list_keypoint_sets()),
    default=None,
    help="Order of the keypoints in the source files (halpe26, coco_wholebody, coco17, body25, "
    "synthpose52, markers35). Default: inferred from the number of values per person; "
    "refused when no set or several sets match.",
)
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Video frame rate (when no --dataset video says it).")  # fmt: skip
@click.option("--image-size", nargs=2, type=click.IntRange(min=1), default=None, metavar="W H",
              help="Image width and height (when no --dataset calibration says it).")  # fmt: skip
@click.option("--trust-pickles", is_flag=True, help=_TRUST_HELP)
def import_keypoints(
    source: Path, fmt: str, store: Path, subject: str | None, session: str, trial: str | None,
    camera: str | None, dataset: Path | None, keypoint_set: str | None, fps: float | None,
    image_size: tuple[int, int] | None, trust_pickles: bool,
) -> None:  # fmt: skip
    """Import 2D keypoints into the keypoint store: one camera of one trial (with --subject,
    --trial and --camera), or a whole tree in one call.

    \b
    A tree is laid out as the store is: SOURCE/<subject>/<session>/<trial>/<camera>, where
    <camera> is a folder of OpenPose/Pose2Sim JSON (also <camera>_json) or a <camera>.pkl.
    """
    from opencapbench.io.keypoint_import import ImportJob, find_import_jobs, import_job
    from opencapbench.io.pickles import trusting_pickles

    single = (subject, trial, camera)
    if any(single) and not all(single):
        raise click.UsageError("one camera's import needs --subject, --trial and --camera")
    if all(single):
        jobs = [ImportJob(source, subject, session, trial, camera)]
    else:
        jobs = find_import_jobs(source, fmt)
    with trusting_pickles() if trust_pickles else contextlib.nullcontext():
        for job in jobs:
            path, kp = import_job(
                job, fmt, store, keypoint_set, fps, tuple(image_size) if image_size else None,
                dataset,
            )  # fmt: skip
            how = "" if keypoint_set else ", inferred from the values per person"
            click.echo(
                f"{path}: {kp.num_frames} frames at {kp.fps:g} fps, {kp.image_size[0]}x"
                f"{kp.image_size[1]} px, {kp.num_keypoints} keypoints ({kp.keypoint_set}{how})"
            )
    if len(jobs) > 1:
        click.echo(f"{len(jobs)} camera(s) imported into {store}")


@click.command("convert-calibration")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--world-frame", type=click.Choice(["pose2sim", "checkerboard"]), default=None,
    help="World frame of the TOML: written from pickles, pose2sim (Z up, the default, as "
    "Pose2Sim's own OpenCap converter) or checkerboard (OpenCap's board frame, unchanged); "
    "read, the frame of a TOML that does not state it.",
)  # fmt: skip
@click.option(
    "--metadata", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="sessionMetadata.yaml with the checkerboard placement (default: the subject folder's).",
)  # fmt: skip
@click.option("--trust-pickles", is_flag=True, help=_TRUST_HELP)
def convert_calibration(
    source: Path, dest: Path, world_frame: str | None, metadata: Path | None, trust_pickles: bool
) -> None:
    """Convert between OpenCap calibration pickles and Pose2Sim/AniPose TOML.

    SOURCE is a session folder (Cam*/cameraIntrinsicsExtrinsics.pickle) or a .toml file;
    DEST is a .toml file or a session folder to write <camera name>/ pickles into. OpenCap's
    pickles are in the checkerboard's frame; a Pose2Sim TOML is Z up. The conversion turns the
    cameras between the two with the session's checkerboard placement, and the TOML states its
    frame in [metadata] world_frame.
    """
    from dataclasses import replace

    from opencapbench.geometry.frames import POSE2SIM_TO_OPENSIM, change_world, placement_rotation
    from opencapbench.io.calibration import (
        read_opencap_calibration,
        read_toml_calibration,
        read_toml_world_frame,
        write_opencap_calibration,
        write_toml_calibration,
    )
    from opencapbench.io.opencap_layout import CALIBRATION_FILE, METADATA_FILE, session_cameras
    from opencapbench.io.paths import safe_component
    from opencapbench.io.session import read_session_metadata

    def board_to_opensim(session_dir: Path):
        meta_file = metadata or session_dir.resolve().parents[1] / METADATA_FILE
        if not meta_file.is_file():
            raise click.UsageError(
                f"the checkerboard placement is needed: no {meta_file}; give --metadata"
            )
        meta = read_session_metadata(meta_file)
        return placement_rotation(meta.placement, meta.upside_down)

    def moved(cameras, A):
        return [replace(c, R=change_world(c.R, c.t, A)[0]) for c in cameras]

    trust = True if trust_pickles else None  # None: OCB_TRUST_PICKLES decides
    if source.suffix.lower() == ".toml":
        cameras = read_toml_calibration(source)
        frame = read_toml_world_frame(source) or world_frame
        if frame is None:
            raise click.UsageError(
                f"{source} does not state its world frame ([metadata] world_frame): give "
                "--world-frame pose2sim (Z up) or checkerboard (OpenCap's board frame)"
            )
        if dest.suffix.lower() != ".toml" and frame == "pose2sim":
            cameras = moved(cameras, board_to_opensim(dest).T @ POSE2SIM_TO_OPENSIM)
    else:
        names = [c for c in session_cameras(source) if (source / c / CALIBRATION_FILE).is_file()]
        if not names:
            raise click.UsageError(f"no Cam*/{CALIBRATION_FILE} found in {source}")
        cameras = [
            read_opencap_calibration(source / c / CALIBRATION_FILE, name=c, trust=trust)
            for c in names
        ]
        frame = world_frame or "pose2sim"
        if frame == "pose2sim":
            cameras = moved(cameras, POSE2SIM_TO_OPENSIM.T @ board_to_opensim(source))
    if dest.suffix.lower() == ".toml":
        write_toml_calibration(cameras, dest, world_frame=frame)
    else:
        # camera names come from the TOML: each must stay one folder under DEST
        folders = [safe_component(cam.name, f"camera name in {source}") for cam in cameras]
        for cam, folder in zip(cameras, folders, strict=True):
            write_opencap_calibration(cam, dest / folder / CALIBRATION_FILE)
    click.echo(f"{len(cameras)} camera(s) written to {dest}: {', '.join(c.name for c in cameras)}")
