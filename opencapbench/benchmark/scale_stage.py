"""The static-trial scaling stage (``--scale static``): the generic model scaled to each
subject from its ``static1`` trial, in place of the dataset's mocap-scaled model.

A subject-scope stage that produces ``model``: the static trial's keypoints (detected here
from its videos with ``--model`` when the store lacks them) are triangulated like any trial (``trc/<subject>/static1.trc``), then :func:`opencapbench.osim.scale.scale_model`
scales the generic model (``--generic-model``, default the built-in one) with the subject's
mass and height from ``sessionMetadata.yaml``. IK then runs on ``models/<subject>.osim``. The
scale factors per body go into the ledger's info (and the report).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.benchmark.stages import Stage, StageResult
from opencapbench.io.opencap_layout import Subject, Trial, discover_trials

__all__ = ["ScaleStage", "find_static_trial"]

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


class ScaleStage(Stage):
    """The generic model scaled from the subject's static trial; see the module docstring."""

    name = "scale"
    scope = "subject"
    produces = ("model",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {
            "generic_model": str(cfg.generic_model) if cfg.generic_model else "built-in",
            "markers": asdict(cfg.markers),
            "cameras": cfg.cameras,
        }

    def input_files(self, item: Subject, cfg: BenchmarkConfig) -> list[Path]:
        files = [item.metadata_path]
        if cfg.generic_model is not None:
            files.append(cfg.generic_model)
        store = cfg.keypoint_store / item.name
        files += sorted(store.glob("Session*/static*/*.npz"))
        files += sorted(item.video_root.glob("Session*/*/cameraIntrinsicsExtrinsics.pickle"))
        return files

    def run(self, item: Subject, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.stages import trc_path
        from opencapbench.benchmark.trial_inputs import build_trc
        from opencapbench.io.session import read_session_metadata
        from opencapbench.osim.scale import ScalingError, prepare_generic_model, scale_model

        static = find_static_trial(item, cfg)
        meta = read_session_metadata(item.metadata_path)
        if meta.mass_kg is None or meta.height_m is None:
            raise ScalingError(
                f"{item.name}: {item.metadata_path} lacks mass_kg or height_m, which scaling needs"
            )
        store = cfg.keypoint_store / static.subject / static.session / static.name
        if cfg.pose.model and static.videos and not any(store.glob("*.npz")):
            # subject stages run before the trials' pose stage: detect the static trial here
            from opencapbench.benchmark.stages import PoseStage

            PoseStage().run(static, {}, cfg)
        trc = trc_path(cfg, static)
        build_trc(static, cfg, trc)
        generic = prepare_generic_model(
            cfg.out_dir / "models" / "generic" / f"{item.name}.osim", cfg.generic_model
        )
        out = cfg.out_dir / "models" / f"{item.name}.osim"
        result = scale_model(
            generic, trc, out, meta.mass_kg, meta.height_m, name=item.name,
            log_path=out.with_suffix(".scale.log"),
        )  # fmt: skip
        return StageResult(
            {"model": out},
            {
                "static_trial": static.name,
                "generic_model": str(cfg.generic_model) if cfg.generic_model else "built-in",
                **result.info(),
            },
        )
