"""The model families of the OpenCapBench table in the benchmark: which keypoint set a run
scores, its marker recipe, and the early refusal (OpenCap's augmenter is the
:class:`~opencapbench.benchmark.stages.AugmenterStage`).

| family (paper row)                          | keypoint set                | markers → IK              |
|---------------------------------------------|-----------------------------|---------------------------|
| SynthPose (HRNet-W48, ViTPose-B/H)          | ``synthpose52``             | SynthPose anatomical set  |
| COCO-WholeBody 2D models (HRNet-W48, RTMW-X)| ``coco_wholebody``          | OpenPose-style set        |
| HALPE-26 models (RTMPose body + feet)       | ``halpe26``                 | OpenPose-style set        |
| SMPL mesh methods (CLIFF, Virtual Markers)  | ``markers35``               | SynthPose anatomical set  |
| OpenCap (HRNet-W48 + LSTM augmenter)        | ``halpe26``/``coco_wholebody`` + ``--augmenter`` | augmenter's 43 markers |
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.io.opencap_layout import Subject, Trial
from opencapbench.recipes import MarkerRecipe, RecipeError, get_recipe

__all__ = ["check_run", "run_keypoint_set", "run_recipe", "trial_recipe"]

log = logging.getLogger(__name__)

#: The set assumed when neither the configuration nor the keypoint store tells (a run whose
#: pose stage has not written anything yet).
FALLBACK_SET = "synthpose52"


def _stored_set(store: Path) -> str | None:
    for path in store.rglob("*.npz"):
        try:
            with np.load(path, allow_pickle=False) as npz:
                return str(npz["keypoint_set"].item())
        except Exception:  # noqa: BLE001 - a bad file is reported by the markers stage
            continue
    return None


def run_keypoint_set(cfg: BenchmarkConfig) -> str:
    """The keypoint set of a run: ``cfg.keypoint_set``, else the set of the keypoint store's
    files, else the set the registered pose model outputs, else SynthPose's."""
    if cfg.keypoint_set:
        return cfg.keypoint_set
    found = _stored_set(cfg.keypoint_store) if cfg.keypoint_store.is_dir() else None
    if found is None and cfg.pose.model:
        from opencapbench.inference.catalog import model_keypoint_set

        found = model_keypoint_set(str(cfg.pose.model))
    return found or FALLBACK_SET


def run_recipe(cfg: BenchmarkConfig) -> MarkerRecipe:
    """The marker recipe of a run (its keypoint set, followed by the augmenter if asked).

    Raises:
        RecipeError: the set has no recipe, or cannot feed the augmenter.
    """
    return get_recipe(run_keypoint_set(cfg), cfg.augmenter.version)


def check_run(cfg: BenchmarkConfig, subjects: Iterable[Subject] = ()) -> MarkerRecipe:
    """The early refusal, before any work: the run's keypoint set has a recipe (and can feed
    the augmenter when one is asked for), and its markers land on every subject's model.

    Raises:
        RecipeError: no recipe; the message lists the keypoint sets that have one.
        MarkerSetError: a subject model lacks the bodies of some markers.
    """
    recipe = run_recipe(cfg)
    models = [s.mocap_model for s in subjects if s.mocap_model is not None]
    if models:
        from opencapbench.osim.markers import check_recipe

        for model in models:
            check_recipe(recipe.keypoint_set, model, cfg.augmenter.version)
    return recipe


def trial_recipe(trial: Trial, keypoint_set: str, cfg: BenchmarkConfig) -> MarkerRecipe:
    """The run's recipe, checked against the set a trial's keypoints are stored in."""
    recipe = run_recipe(cfg)
    if keypoint_set != recipe.keypoint_set:
        raise RecipeError(
            f"{trial.key}: keypoints are {keypoint_set!r} but the run scores "
            f"{recipe.keypoint_set!r} (one keypoint set per run; pass --keypoint-set)"
        )
    return recipe
