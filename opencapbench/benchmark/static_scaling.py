"""The work of the ``scale`` stage (``--scale static``, :class:`~opencapbench.benchmark.stages.
ScaleStage`): the generic model scaled to each subject from its ``static1`` trial, in place of
the dataset's mocap-scaled model.

A subject-scope stage that produces ``model``: the static trial's keypoints (detected here
from its videos with ``--model`` when the store lacks them) are triangulated like any trial
(``trc/<subject>/static1.trc``), then :func:`opencapbench.osim.scale.scale_model` scales the
generic model (``--generic-model``, default the built-in one) with the subject's
mass and height from ``sessionMetadata.yaml``. IK then runs on ``models/<subject>.osim``. The
scale factors per body go into the ledger's info (and the report).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.io.opencap_layout import Subject, Trial, discover_trials

__all__ = ["find_static_trial", "scale_subject"]

log = logging.getLogger(__name__)


def find_static_trial(subject: Subject, cfg: BenchmarkConfig) -> Trial:
    """The subject's static trial (``static1``, else the first ``static*``).

    Raises:
        StaticTrialError: the subject has none (in the videos or the keypoint store).
    """
    from opencapbench.osim.scale import StaticTrialError

    statics = [
        t
        for t in discover_trials(
            cfg.data_dir, (subject.name,), keypoint_store=cfg.keypoint_store, include_static=True
        )
        if t.name.lower().startswith("static")
    ]
    if not statics:
        raise StaticTrialError(
            f"{subject.name}: no static trial (static1) in {subject.video_root} or in the "
            f"keypoint store {cfg.keypoint_store / subject.name}; --scale static needs one"
        )
    return next((t for t in statics if t.name == "static1"), statics[0])


def scale_subject(
    subject: Subject, cfg: BenchmarkConfig, static_trc: Path, pose_stage=None
) -> tuple[Path, dict[str, Any]]:
    """Scale the generic model to one subject from its static trial.

    Args:
        subject: the subject.
        cfg: the run configuration (markers, cameras, generic model, pose model).
        static_trc: where to write the static trial's triangulated markers.
        pose_stage: a stage whose ``run(trial, {}, cfg)`` fills the keypoint store from the
            static trial's videos when the store lacks them (with ``--model``).

    Returns:
        ``(models/<subject>.osim, info)`` with ``static_trial``, ``generic_model``,
        ``time_range_s`` and ``scale_factors`` (body → [x, y, z]).

    Raises:
        StaticTrialError, ScalingError: see :mod:`opencapbench.osim.scale`.
    """
    from opencapbench.benchmark.trial_inputs import build_trc
    from opencapbench.io.session import read_session_metadata
    from opencapbench.osim.scale import ScalingError, prepare_generic_model, scale_model

    item = subject
    static = find_static_trial(subject, cfg)
    meta = read_session_metadata(item.metadata_path)
    if meta.mass_kg is None or meta.height_m is None:
        raise ScalingError(
            f"{item.name}: {item.metadata_path} lacks mass_kg or height_m, which scaling needs"
        )
    store = cfg.keypoint_store / static.subject / static.session / static.name
    if pose_stage is not None and static.videos and not any(store.glob("*.npz")):
        # subject stages run before the trials' pose stage: detect the static trial here
        pose_stage.run(static, {}, cfg)
    build_trc(static, cfg, static_trc)
    generic = prepare_generic_model(
        cfg.out_dir / "models" / "generic" / f"{item.name}.osim", cfg.generic_model
    )
    out = cfg.out_dir / "models" / f"{item.name}.osim"
    result = scale_model(
        generic, static_trc, out, meta.mass_kg, meta.height_m, name=item.name,
        log_path=out.with_suffix(".scale.log"),
    )  # fmt: skip
    info = {
        "static_trial": static.name,
        "generic_model": str(cfg.generic_model) if cfg.generic_model else "built-in",
        **result.info(),
    }
    return out, info
