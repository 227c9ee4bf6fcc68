"""mmengine registries under MMPose's scope name (``'mmpose'``), without MMPose installed.

Every registry here is a child of the matching mmengine root registry with ``scope='mmpose'``,
so configs written for MMPose (``default_scope='mmpose'``) and mmengine's ``Runner`` find the
toolkit's implementations under MMPose's type names (``TopdownPoseEstimator``, ``HRNet``,
``MSRAHeatmap``, ``TopdownAffine``, ``CocoDataset``, ``PCKAccuracy``, ...).  Other packages
may register their own types into these same objects::

    from opencapbench.pose.registry import TRANSFORMS

    @TRANSFORMS.register_module()
    class RandomFlip: ...

Installing the real MMPose next to the toolkit is not supported in the same process: both
would claim the ``'mmpose'`` scope under mmengine's root registries.
"""

from __future__ import annotations

import importlib

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = "mmpose"

#: Modules whose import registers the toolkit's own implementations.
_OWN_MODULES = (
    "opencapbench.pose.codecs",
    "opencapbench.pose.models",
    "opencapbench.pose.transforms",
    "opencapbench.pose.datasets",
    "opencapbench.pose.evaluation",
    "opencapbench.pose.engine",
)
_LOCATION = "opencapbench.pose.registry_all"


def _child(name: str, parent: Registry) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=[_LOCATION])


RUNNERS = _child("runner", MMENGINE_RUNNERS)
RUNNER_CONSTRUCTORS = _child("runner constructor", MMENGINE_RUNNER_CONSTRUCTORS)
LOOPS = _child("loop", MMENGINE_LOOPS)
HOOKS = _child("hook", MMENGINE_HOOKS)
DATASETS = _child("dataset", MMENGINE_DATASETS)
DATA_SAMPLERS = _child("data sampler", MMENGINE_DATA_SAMPLERS)
TRANSFORMS = _child("transform", MMENGINE_TRANSFORMS)
MODELS = _child("model", MMENGINE_MODELS)
MODEL_WRAPPERS = _child("model_wrapper", MMENGINE_MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child("weight initializer", MMENGINE_WEIGHT_INITIALIZERS)
OPTIMIZERS = _child("optimizer", MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = _child("optim_wrapper", MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    "optimizer wrapper constructor", MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
)
PARAM_SCHEDULERS = _child("parameter scheduler", MMENGINE_PARAM_SCHEDULERS)
METRICS = _child("metric", MMENGINE_METRICS)
EVALUATORS = _child("evaluator", MMENGINE_EVALUATOR)
TASK_UTILS = _child("task util", MMENGINE_TASK_UTILS)
VISUALIZERS = _child("visualizer", MMENGINE_VISUALIZERS)
VISBACKENDS = _child("vis_backend", MMENGINE_VISBACKENDS)
LOG_PROCESSORS = _child("log_processor", MMENGINE_LOG_PROCESSORS)
INFERENCERS = _child("inferencer", MMENGINE_INFERENCERS)
FUNCTIONS = _child("function", MMENGINE_FUNCTIONS)

#: Keypoint codecs (``MSRAHeatmap``, ``UDPHeatmap``); MMPose keeps these in a root registry.
KEYPOINT_CODECS = Registry("KEYPOINT_CODECS", scope=SCOPE, locations=[_LOCATION])

#: MMPose's name for the evaluator registry.
EVALUATOR = EVALUATORS


def register_all_modules() -> None:
    """Import every module of :mod:`opencapbench.pose` that registers into these registries.

    Called lazily by mmengine on the first build (the registries' ``locations``).
    """
    for name in _OWN_MODULES:
        importlib.import_module(name)


def build_module(registry: Registry, cfg, what: str = "module"):
    """Build ``cfg`` (a dict with ``type``) from ``registry``, whatever mmengine scope is active.

    Unlike ``registry.build`` this does not consult mmengine's ``DefaultScope`` (a Runner of
    another scope in the same process would otherwise hide these registries).  Unknown types
    raise :class:`opencapbench.pose.errors.PoseConfigError` naming the registered ones.
    Non-dict values (already-built objects, None) are returned unchanged.
    """
    from opencapbench.pose.errors import PoseConfigError

    if cfg is None or not isinstance(cfg, dict):
        return cfg
    args = dict(cfg)
    obj_type = args.pop("type", None)
    if obj_type is None:
        raise PoseConfigError(f"{what}: config has no 'type': {cfg!r}")
    if isinstance(obj_type, str):
        name = obj_type.split(".", 1)[1] if obj_type.startswith(f"{SCOPE}.") else obj_type
        cls = registry.get(name)
        if cls is None:
            available = sorted(registry.module_dict)
            raise PoseConfigError(
                f"{what}: unknown type {obj_type!r}; opencapbench.pose implements {available}"
            )
    else:
        cls = obj_type
    return cls(**args)


class _ScopeWarningFilter:
    """Drops mmengine's per-build warnings about the ``mmpose`` package not being installed."""

    _PATTERNS = (
        "`None.registry`",
        "registry.py exists in",
        "mmpose is not installed",
        f"Failed to import `{SCOPE}.registry`",
    )

    def filter(self, record) -> bool:
        msg = record.getMessage()
        return not any(p in msg for p in self._PATTERNS)


def quiet_scope_warnings(logger=None) -> None:
    """Silence mmengine's "failed to import mmpose.registry" warnings on ``logger``.

    Under ``default_scope='mmpose'`` mmengine tries ``import mmpose.registry`` before every
    build and logs a warning when MMPose is absent, which is the normal case here.  Pass the
    Runner's logger (``runner.logger``); default: mmengine's current logger.
    """
    if logger is None:
        from mmengine.logging import MMLogger

        logger = MMLogger.get_current_instance()
    if not any(isinstance(f, _ScopeWarningFilter) for f in logger.filters):
        logger.addFilter(_ScopeWarningFilter())
