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
    help="openpose: a folder of per-frame OpenPose/Pose2Sim JSON; opencap: a pose .pkl.",
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
@click.option("--subject", required=True)
@click.option("--session", default="Session0", show_default=True)
@click.option("--trial", required=True)
@click.option("--camera", required=True, help="Camera name, e.g. Cam1.")
@click.option(
    "--keypoint-set",
    type=click.Choice(list_keypoint_sets()),
    default=None,
    help="Order of the keypoints in the source files (halpe26, coco_wholebody, coco17, body25, "
    "synthpose52, markers35). Default: inferred from the number of values per person; "
    "refused when no set or several sets match.",
)
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), required=True,
              help="Video frame rate.")  # fmt: skip
@click.option("--image-size", nargs=2, type=click.IntRange(min=1), required=True, metavar="W H")
@click.option("--trust-pickles", is_flag=True, help=_TRUST_HELP)
def import_keypoints(source, fmt, store, subject, session, trial, camera, keypoint_set, fps,
                     image_size, trust_pickles) -> None:  # fmt: skip
    """Import one camera's 2D keypoints of one trial into the keypoint store."""
    from opencapbench.io.keypoint_store import store_path
    from opencapbench.io.opencap_pose import import_opencap_pickle
    from opencapbench.io.openpose_json import import_openpose_json
    from opencapbench.io.pickles import trusting_pickles

    reader = import_openpose_json if fmt == "openpose" else import_opencap_pickle
    with trusting_pickles() if trust_pickles else contextlib.nullcontext():
        kp = reader(source, keypoint_set, fps, tuple(image_size))
    path = kp.save(store_path(store, subject, session, trial, camera))
    how = "" if keypoint_set else ", inferred from the values per person"
    click.echo(
        f"{path}: {kp.num_frames} frames, {kp.num_persons} person slot(s), "
        f"{kp.num_keypoints} keypoints ({kp.keypoint_set}{how})"
    )


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
