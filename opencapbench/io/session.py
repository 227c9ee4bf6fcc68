"""OpenCap ``sessionMetadata.yaml``: subject anthropometrics, checkerboard, phone models.

An OpenCap file looks like::

    checkerBoard:
      black2BlackCornersHeight_n: 8
      black2BlackCornersWidth_n: 11
      placement: ground            # or backWall, ...
      squareSideLength_mm: 60
      upsideDown: false            # optional extra key written by this toolkit
    gender_mf: m
    height_m: 1.89
    iphoneModel: {Cam0: iphone13,3, Cam1: iphone13,3}
    mass_kg: 83.2
    openSimModel: LaiUhlrich2022
    subjectID: defaultSubject

Keys this module does not model (``calibrationSettings``, ``markerAugmentationSettings``, ...)
are kept in :attr:`SessionMetadata.extra` and written back unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opencapbench.errors import OCBError
from opencapbench.geometry.frames import PLACEMENTS
from opencapbench.io.atomic import atomic_write

__all__ = [
    "SessionMetadata",
    "SessionMetadataError",
    "read_session_metadata",
    "write_session_metadata",
    "KNOWN_PLACEMENTS",
]

#: Checkerboard placements OpenCap / OpenCapBench know how to rotate into OpenSim's frame
#: (``backWall_upsideDown`` is chosen by ``checkerBoard.upsideDown``, not named in the file).
KNOWN_PLACEMENTS = tuple(k for k in PLACEMENTS if k != "backWall_upsideDown")

_MODELLED_TOP = {
    "checkerBoard",
    "gender_mf",
    "height_m",
    "mass_kg",
    "iphoneModel",
    "openSimModel",
    "subjectID",
}
_MODELLED_BOARD = {
    "placement",
    "squareSideLength_mm",
    "black2BlackCornersWidth_n",
    "black2BlackCornersHeight_n",
    "upsideDown",
}


class SessionMetadataError(OCBError, ValueError):
    """A session metadata file is missing, unreadable or invalid; the message names it."""


@dataclass
class SessionMetadata:
    """The parts of an OpenCap ``sessionMetadata.yaml`` the toolkit uses.

    Attributes:
        placement: ``checkerBoard.placement`` (``ground``, ``backWall``, ...).
        square_side_length_mm: ``checkerBoard.squareSideLength_mm``.
        corners_width / corners_height: ``checkerBoard.black2BlackCorners{Width,Height}_n``
            (inner corners).
        upside_down: ``checkerBoard.upsideDown`` (extra key; OpenCap detects an upside-down
            board at calibration time), default False.
        height_m, mass_kg: subject height and mass (None when absent).
        gender_mf: ``"m"`` / ``"f"`` (None when absent).
        iphone_models: camera name → device model (``{"Cam0": "iphone13,3"}``).
        opensim_model: generic model name (``openSimModel``).
        subject_id: ``subjectID``.
        extra: all other top-level keys, and ``extra["checkerBoard"]`` for other board keys;
            written back unchanged.
    """

    placement: str
    square_side_length_mm: float = 60.0
    corners_width: int = 11
    corners_height: int = 8
    upside_down: bool = False
    height_m: float | None = None
    mass_kg: float | None = None
    gender_mf: str | None = None
    iphone_models: dict[str, str] = field(default_factory=dict)
    opensim_model: str = "LaiUhlrich2022"
    subject_id: str = "defaultSubject"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping, OpenCap key names, extra keys included."""
        extra = dict(self.extra)
        board_extra = dict(extra.pop("checkerBoard", {}) or {})
        board = {
            "black2BlackCornersHeight_n": int(self.corners_height),
            "black2BlackCornersWidth_n": int(self.corners_width),
            "placement": str(self.placement),
            "squareSideLength_mm": _plain_number(self.square_side_length_mm),
            "upsideDown": bool(self.upside_down),
            **board_extra,
        }
        out: dict[str, Any] = {}
        for key, value in extra.items():
            out[key] = value
        out["checkerBoard"] = board
        if self.gender_mf is not None:
            out["gender_mf"] = self.gender_mf
        if self.height_m is not None:
            out["height_m"] = float(self.height_m)
        out["iphoneModel"] = {str(k): str(v) for k, v in self.iphone_models.items()}
        if self.mass_kg is not None:
            out["mass_kg"] = float(self.mass_kg)
        out["openSimModel"] = self.opensim_model
        out["subjectID"] = self.subject_id
        return out


def _plain_number(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else x


def _positive(value: Any, key: str, source: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SessionMetadataError(f"{source}: {key} must be a number, got {value!r}") from None
    if not x > 0 or x != x or x == float("inf"):
        raise SessionMetadataError(f"{source}: {key} must be positive, got {value!r}")
    return x


def _as_bool(value: Any, key: str, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise SessionMetadataError(f"{source}: {key} must be true or false, got {value!r}")


def session_metadata_from_dict(doc: Any, source: str = "<dict>") -> SessionMetadata:
    """Build :class:`SessionMetadata` from a parsed YAML mapping (see :func:`read_session_metadata`)."""
    if not isinstance(doc, dict):
        raise SessionMetadataError(f"{source}: expected a YAML mapping, got {type(doc).__name__}")
    board = doc.get("checkerBoard")
    if not isinstance(board, dict):
        raise SessionMetadataError(
            f"{source}: missing 'checkerBoard' section (needs checkerBoard.placement, one of "
            f"{', '.join(KNOWN_PLACEMENTS)})"
        )
    placement = board.get("placement")
    if not isinstance(placement, str) or not placement.strip():
        raise SessionMetadataError(
            f"{source}: missing checkerBoard.placement (one of {', '.join(KNOWN_PLACEMENTS)}); "
            "it fixes how the calibration frame is rotated into OpenSim's frame"
        )
    if placement.strip() not in KNOWN_PLACEMENTS:
        raise SessionMetadataError(
            f"{source}: unknown checkerBoard.placement {placement.strip()!r} (one of "
            f"{', '.join(KNOWN_PLACEMENTS)})"
        )
    models = doc.get("iphoneModel") or {}
    if not isinstance(models, dict):
        raise SessionMetadataError(f"{source}: iphoneModel must map camera names to models")
    meta = SessionMetadata(
        placement=placement.strip(),
        square_side_length_mm=_positive(
            board.get("squareSideLength_mm", 60), "checkerBoard.squareSideLength_mm", source
        ),
        corners_width=int(
            _positive(
                board.get("black2BlackCornersWidth_n", 11),
                "checkerBoard.black2BlackCornersWidth_n",
                source,
            )
        ),
        corners_height=int(
            _positive(
                board.get("black2BlackCornersHeight_n", 8),
                "checkerBoard.black2BlackCornersHeight_n",
                source,
            )
        ),
        upside_down=_as_bool(board.get("upsideDown", False), "checkerBoard.upsideDown", source),
        height_m=_positive(doc["height_m"], "height_m", source)
        if doc.get("height_m") is not None
        else None,
        mass_kg=_positive(doc["mass_kg"], "mass_kg", source)
        if doc.get("mass_kg") is not None
        else None,
        gender_mf=str(doc["gender_mf"]) if doc.get("gender_mf") is not None else None,
        iphone_models={str(k): str(v) for k, v in models.items()},
        opensim_model=str(doc.get("openSimModel") or "LaiUhlrich2022"),
        subject_id=str(doc.get("subjectID") or "defaultSubject"),
    )
    extra = {k: v for k, v in doc.items() if k not in _MODELLED_TOP}
    board_extra = {k: v for k, v in board.items() if k not in _MODELLED_BOARD}
    if board_extra:
        extra["checkerBoard"] = board_extra
    meta.extra = extra
    return meta


def read_session_metadata(path: str | os.PathLike) -> SessionMetadata:
    """Read an OpenCap ``sessionMetadata.yaml``.

    Raises:
        SessionMetadataError: missing file, invalid YAML, missing ``checkerBoard.placement``,
            non-positive height / mass / square size.
    """
    path = Path(path)
    if not path.is_file():
        raise SessionMetadataError(f"{path}: session metadata file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise SessionMetadataError(f"{path}: invalid YAML ({exc})") from None
    return session_metadata_from_dict(doc, str(path))


def write_session_metadata(meta: SessionMetadata, path: str | os.PathLike) -> Path:
    """Write ``meta`` as an OpenCap ``sessionMetadata.yaml`` (atomic); returns the path."""
    path = Path(path)
    session_metadata_from_dict(meta.to_dict(), f"session metadata for {path}")  # validate
    with atomic_write(path) as fh:
        yaml.safe_dump(meta.to_dict(), fh, sort_keys=True, default_flow_style=False)
    return path
