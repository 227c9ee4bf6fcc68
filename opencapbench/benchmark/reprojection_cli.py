"""``ocb overlay-markers``: the diagnostic overlay of one benchmark trial."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("overlay-markers")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("trial")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder (default: RUN_DIR/overlays/SUBJECT/TRIAL).")  # fmt: skip
@click.option("--labels", is_flag=True, help="Write the marker names.")
def overlay_markers(run_dir: Path, trial: str, out: Path | None, labels: bool) -> None:
    """Reproject the triangulated markers of TRIAL (SUBJECT/TRIAL) of the benchmark run in
    RUN_DIR into every camera's video (black frames when there is no video).

    Discs: the 3D markers (TRC) reprojected (left blue, right orange, midline yellow); white
    dots: the tracked 2D keypoints they were triangulated from; red lines: the reprojection
    errors. One H.264 .mp4 per camera.
    """
    from opencapbench.benchmark.reprojection import write_trial_reprojection

    for path in write_trial_reprojection(run_dir, trial, out, labels):
        click.echo(str(path))
