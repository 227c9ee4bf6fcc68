"""``ocb pose2sim-skeleton``: a keypoint set as a Pose2Sim ``Config.toml`` skeleton entry."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pose2sim-skeleton")
@click.argument("keypoint_set", default="synthpose52")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Output TOML file (default: print to stdout).")  # fmt: skip
@click.option("--name", "model_name", default="CUSTOM", show_default=True,
              help="Key of the entry: [pose.NAME], used as Pose2Sim's pose_model.")  # fmt: skip
def pose2sim_skeleton(keypoint_set: str, out: Path | None, model_name: str) -> None:
    """Write the Pose2Sim skeleton of KEYPOINT_SET (default synthpose52).

    Append the file to Pose2Sim's Config.toml and set pose_model = 'CUSTOM' there: Pose2Sim
    then triangulates the OpenPose JSON that `ocb infer` writes (<name>_json/).
    """
    from opencapbench.io.pose2sim_config import pose2sim_skeleton_toml, write_pose2sim_skeleton
    from opencapbench.keypoints import get_keypoint_set, list_keypoint_sets

    try:
        kps = get_keypoint_set(keypoint_set)
    except KeyError:
        raise click.BadParameter(
            f"unknown keypoint set {keypoint_set!r}; registered: {', '.join(list_keypoint_sets())}",
            param_hint="KEYPOINT_SET",
        ) from None
    if not model_name.isidentifier():
        raise click.BadParameter(f"{model_name!r} is not a bare TOML key", param_hint="--name")
    if out is None:
        click.echo(pose2sim_skeleton_toml(kps, model_name), nl=False)
        return
    write_pose2sim_skeleton(kps, out, model_name)
    click.echo(f"Pose2Sim skeleton [pose.{model_name}] ({kps.num_keypoints} keypoints): {out}")
