"""One run configuration: every setting of ``ocb benchmark``, readable from and written to TOML.

:class:`BenchmarkConfig` holds the whole run, the pose model's settings included, as nested
dataclasses. ``ocb benchmark --config run.toml`` reads any option from a TOML file (flags given
on the command line override it); every run writes the fully resolved configuration to
``results/config.toml``, and passing that file back reproduces the run.

This module imports no numerics, so ``ocb benchmark --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opencapbench.errors import OCBError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: OpenCapBench camera set-ups (Cam0 −70°, Cam1 −45°, Cam2 0°, Cam3 +45°, Cam4 +70°).
CAMERA_SETUPS: dict[str, tuple[str, ...]] = {
    "2-cameras": ("Cam1", "Cam3"),
    "3-cameras": ("Cam1", "Cam2", "Cam3"),
    "5-cameras": ("Cam0", "Cam1", "Cam2", "Cam3", "Cam4"),
}


#: ``sync`` choices: ``none`` reproduces OpenCapBench; ``auto`` estimates camera offsets.
SYNC_MODES = ("none", "auto")
#: ``scale`` choices: the dataset's mocap-scaled model, or scaling from the static trial.
SCALE_MODES = ("mocap", "static")


class ConfigError(OCBError):
    """A run configuration (TOML file or option) names an unknown key or holds a bad value."""


def resolve_cameras(setup: str, available: list[str]) -> list[str]:
    """Camera names to use: a preset (``2-cameras``…), ``all``, or a comma list (``Cam1,Cam3``)."""
    if setup == "all":
        return list(available)
    names = CAMERA_SETUPS.get(setup) or tuple(c.strip() for c in setup.split(",") if c.strip())
    return list(names)


@dataclass(frozen=True)
class MarkerSettings:
    """Options of the 2D → 3D stage.

    Attributes:
        filter_hz: 2D zero-phase Butterworth cut-off in Hz, or ``"auto"`` (the default): per
            trial and keypoint, the cut-off within ``filter_auto_hz`` of least estimated error
            (:func:`~opencapbench.geometry.filtering.auto_cutoff`). 0 disables filtering.
            OpenCap uses 12 Hz for gait; OpenCapBench's 30 Hz at 60 fps is in effect no
            filtering. See docs/geometry.md for the measurements behind the default.
        filter_auto_hz: (lowest, highest) cut-off ``"auto"`` may choose, in 0.5 Hz steps.
        filter_order: effective (zero-phase) filter order.
        max_gap_fill_frames: before the 2D filter, gaps of a keypoint's track up to this many
            frames are bridged (PCHIP) so the detections on both sides are filtered as one run,
            and the bridged points are triangulated with their neighbours' interpolated
            confidence; longer gaps stay missing. 0: each unbroken run is filtered on its own
            (the behaviour before). See docs/geometry.md for the measurements.
        min_confidence: 2D detections below this score are ignored.
        reproj_threshold_px: per point, cameras whose reprojection error exceeds this are
            excluded and the point re-triangulated; 0 disables exclusion.
        min_cameras: fewest cameras that must see a keypoint to triangulate it.
        max_gap_s: interior gaps up to this long are filled (PCHIP); OpenCap uses fps/5.
        trc_rate_hz: output marker rate (OpenCap writes 100 Hz).
    """

    filter_hz: float | str = "auto"
    filter_auto_hz: tuple[float, float] = (3.0, 12.0)
    filter_order: int = 4
    max_gap_fill_frames: int = 6
    min_confidence: float = 0.3
    reproj_threshold_px: float = 15.0
    min_cameras: int = 2
    max_gap_s: float = 0.2
    trc_rate_hz: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter_hz", parse_cutoff(self.filter_hz, "markers.filter_hz"))
        lo_hi = tuple(self.filter_auto_hz)
        if len(lo_hi) != 2 or not all(isinstance(v, int | float) for v in lo_hi):
            raise ConfigError(f"markers.filter_auto_hz must be [lowest, highest] Hz, got {lo_hi!r}")
        object.__setattr__(self, "filter_auto_hz", (float(lo_hi[0]), float(lo_hi[1])))
        _check_range("markers.filter_auto_hz[0]", lo_hi[0], 0.5, lo_hi[1])
        _check_range("markers.min_confidence", self.min_confidence, 0.0, 1.0)
        _check_range("markers.max_gap_fill_frames", self.max_gap_fill_frames, 0, None)
        _check_range("markers.min_cameras", self.min_cameras, 2, None)
        _check_range("markers.max_gap_s", self.max_gap_s, 0.0, None)
        _check_range("markers.trc_rate_hz", self.trc_rate_hz, 1e-6, None)
        _check_range("markers.reproj_threshold_px", self.reproj_threshold_px, 0.0, None)


@dataclass(frozen=True)
class PoseSettings:
    """The pose stage (``--model``): videos → 2D keypoints. ``model=None`` skips the stage.

    Attributes:
        model: registered model name, MMPose config or model folder; None when the keypoint
            store is filled by other means.
        checkpoint: checkpoint for a local config.
        detector: RT-DETR hub id or local folder (None: the catalog's default detector).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``…
        amp: mixed precision, ``none``, ``bf16`` or ``fp16``.
        det_threshold: person-detector score threshold.
    """

    model: str | None = None
    checkpoint: str | None = None
    detector: str | None = None
    device: str = "auto"
    amp: str = "none"
    det_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.amp not in ("none", "bf16", "fp16"):
            raise ConfigError(f"pose.amp must be none, bf16 or fp16, not {self.amp!r}")
        _check_range("pose.det_threshold", self.det_threshold, 0.0, 1.0)


@dataclass(frozen=True)
class AugmenterSettings:
    """OpenCap's LSTM marker augmenter between the 3D markers and IK (``--augmenter``).

    Attributes:
        version: ``v0.1`` (OpenCap paper), ``v0.2`` or ``v0.3`` (OpenCap's default, the
            marker enhancer); None runs no augmenter.
        model_dir: local copy of opencap-core's ``MarkerAugmenter/LSTM`` folders; None
            downloads the files once (SHA-256 checked) into ``~/.cache/opencapbench``.
        rate_hz: rate the networks see (OpenCap feeds its 60 fps video rate; they were
            trained on 60 Hz); the predictions are interpolated back onto the TRC's times.
        vertical_offset: OpenCap's floor offset (lowest predicted marker at y = 0.01 m).
    """

    version: str | None = None
    model_dir: str | None = None
    rate_hz: float = 60.0
    vertical_offset: bool = True

    def __post_init__(self) -> None:
        if self.version is not None and self.version not in ("v0.1", "v0.2", "v0.3"):
            raise ConfigError(f"augmenter.version must be v0.1, v0.2 or v0.3, not {self.version!r}")
        _check_range("augmenter.rate_hz", self.rate_hz, 1e-6, None)


@dataclass
class BenchmarkConfig:
    """Everything ``ocb benchmark`` needs.

    Attributes:
        data_dir: dataset root in the LabValidation layout.
        out_dir: output root (keypoints, trc, ik, models, status, results).
        keypoint_store: keypoint store root; defaults to ``<out_dir>/keypoints``.
        subjects, trials: restrict the run (all when empty).
        cameras: ``all``, an OpenCapBench preset (``2-cameras``…) or ``Cam1,Cam3``.
        pose: the pose stage (videos → keypoints); skipped when ``pose.model`` is None.
        keypoint_set: the keypoint set of the run (its marker recipe, see
            :mod:`opencapbench.recipes`); None reads it from the keypoint store.
        markers: options of the 2D → 3D stage.
        augmenter: OpenCap's marker augmenter between markers and IK (off by default).
        ik_weights: marker → IK weight; None for the keypoint set's defaults.
        workers: parallel worker processes (IK, plots); 1 runs everything in this process.
        force: redo finished stages.
        max_shift_s: time-alignment search window for scoring.
        plots: draw per-trial curve plots.
        sync: camera synchronisation before triangulation: ``none`` (the videos are taken as
            synchronous, as OpenCapBench does) or ``auto`` (per-camera frame offsets
            estimated from the 2D keypoints, see :mod:`opencapbench.geometry.sync`).
        sync_max_offset_s: largest offset ``auto`` searches, seconds.
        scale: the subject model: ``mocap`` (the dataset's mocap-scaled model) or ``static``
            (the generic model scaled from the subject's ``static1`` trial).
        generic_model: the generic ``.osim`` of ``scale = "static"`` (e.g. LaiUhlrich2022);
            None for the built-in model.
        name: the run's name in figure titles and comparisons (default: the output folder's).
        toml_frame: world frame of a session's ``calibration.toml`` (``pose2sim`` or
            ``checkerboard``) when the file does not state it; empty: the file must.
    """

    data_dir: Path
    out_dir: Path
    keypoint_store: Path | None = None
    subjects: tuple[str, ...] = ()
    trials: tuple[str, ...] = ()
    cameras: str = "all"
    pose: PoseSettings = field(default_factory=PoseSettings)
    keypoint_set: str | None = None
    markers: MarkerSettings = field(default_factory=MarkerSettings)
    augmenter: AugmenterSettings = field(default_factory=AugmenterSettings)
    ik_weights: dict[str, float] | None = None
    workers: int = 2
    force: bool = False
    max_shift_s: float = 0.4
    plots: bool = True
    sync: str = "auto"
    sync_max_offset_s: float = 0.5
    scale: str = "mocap"
    generic_model: Path | None = None
    name: str = ""
    toml_frame: str = ""

    @property
    def run_name(self) -> str:
        return self.name or self.out_dir.name

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.out_dir = Path(self.out_dir)
        self.keypoint_store = Path(self.keypoint_store or self.out_dir / "keypoints")
        self.subjects = tuple(self.subjects)
        self.trials = tuple(self.trials)
        _check_range("workers", self.workers, 1, None)
        self.toml_frame = self.toml_frame or ""
        if self.toml_frame not in ("", "pose2sim", "checkerboard"):
            raise ConfigError(
                f"toml_frame must be pose2sim or checkerboard, not {self.toml_frame!r}"
            )
        if self.keypoint_set is not None or self.augmenter.version is not None:
            self._check_recipe()
        _check_range("max_shift_s", self.max_shift_s, 0.0, None)
        _check_range("sync_max_offset_s", self.sync_max_offset_s, 0.0, 10.0)
        if self.sync not in SYNC_MODES:
            raise ConfigError(f"sync must be one of {list(SYNC_MODES)}, not {self.sync!r}")
        if self.scale not in SCALE_MODES:
            raise ConfigError(f"scale must be one of {list(SCALE_MODES)}, not {self.scale!r}")
        if self.generic_model is not None:
            self.generic_model = Path(self.generic_model)
        if self.cameras != "all" and self.cameras not in CAMERA_SETUPS:
            names = [c.strip() for c in self.cameras.split(",") if c.strip()]
            if len(names) < 2:
                raise ConfigError(
                    f"cameras must be 'all', one of {sorted(CAMERA_SETUPS)} or a list of at "
                    f"least two camera names like 'Cam1,Cam3', not {self.cameras!r}"
                )

    def _check_recipe(self) -> None:
        """Refuse at once a keypoint set without a marker recipe, or one that cannot feed the
        augmenter (the store-read set is checked by the model stage)."""
        from opencapbench.recipes import RecipeError, get_recipe

        if self.keypoint_set is None:
            return
        try:
            get_recipe(self.keypoint_set, self.augmenter.version)
        except RecipeError as err:
            raise ConfigError(str(err)) from None

    # ------------------------------------------------------------------ TOML round trip

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as TOML-ready data (paths as strings, None omitted)."""
        return _to_plain(self)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkConfig:
        """Build from TOML data; unknown keys and wrong types are a :class:`ConfigError`."""
        return _from_plain(cls, data, "")

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> BenchmarkConfig:
        """Read a TOML run configuration; ``overrides`` (top-level keys or dotted
        ``markers.filter_hz``) replace its values, as command-line flags do."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the run configuration: {err}") from err
        for key, value in overrides.items():
            *parents, leaf = key.split(".")
            node = data
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = _to_plain(value)
        for key in ("data_dir", "out_dir"):
            if key not in data:
                raise ConfigError(f"{path}: '{key}' is missing (give it in the file or as option)")
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err


# ---------------------------------------------------------------------- helpers


def parse_cutoff(value: Any, name: str = "filter_hz") -> float | str:
    """A cut-off setting as the run uses it: ``"auto"`` or a float >= 0 (0: no filter)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        if isinstance(value, bool):
            raise TypeError
        hz = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must be 'auto' or a cut-off in Hz (0: no filter), got {value!r}"
        ) from None
    _check_range(name, hz, 0.0, None)
    return hz


def _check_range(name: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ConfigError(f"{name} must be in {bounds}, got {value!r}")


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None:
                out[f.name] = _to_plain(v)
        return out
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items() if v is not None}
    return value


def _strip_optional(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a table")
        return _from_plain(tp, value, where + ".")
    if tp is Path:
        return Path(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a table")
        key_t, val_t = typing.get_args(tp)
        return {key_t(k): val_t(v) for k, v in value.items()}
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"'{where}' must be {tp.__name__}, got {value!r}")
    return value


def _from_plain(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {[prefix + u for u in unknown]}; known: "
            f"{sorted(prefix + n for n in names)}"
        )
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{prefix or 'configuration'}: {err}") from err
