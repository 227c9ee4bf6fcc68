"""Marker definition files: keypoint name -> SMPL-X vertex, face point or joint.

A marker file fixes the keypoint order of everything ``ocb generate-dataset`` writes (COCO
annotations, dataset metainfo with flip pairs and sigmas).  Two formats are read:

* YAML (the shipped ``synthpose_markers_v1.yaml``), see that file's header for the fields;
* the two-column CSV of OpenCapBench (``Name,Index``; UTF-8 BOM allowed): every row a vertex,
  swap partners derived from ``l_``/``r_``/``left_``/``right_`` name prefixes.

Structural errors (duplicate names, unknown or non-mutual swap partners, a keypoint with zero
or two definitions, bad barycentric weights, unknown joint names, negative indices) raise
:class:`MarkerFileError` naming the file and the keypoint.  Checks that need a body model
(index range, left/right symmetry) live in :mod:`synthpose.markers.validate`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from opencapbench.errors import OCBError
from opencapbench.io.paths import UnsafePathError, safe_component
from opencapbench.keypoints import MARKER_SIGMA, KeypointSet, _mirror_name

#: the 55 SMPL-X kinematic joints, in model order (smplx.joint_names.JOINT_NAMES[:55]).
SMPLX_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3", "right_index1", "right_index2", "right_index3",
    "right_middle1", "right_middle2", "right_middle3", "right_pinky1", "right_pinky2",
    "right_pinky3", "right_ring1", "right_ring2", "right_ring3", "right_thumb1", "right_thumb2",
    "right_thumb3",
)  # fmt: skip
_JOINT_ALIASES = {"left_eye": 23, "right_eye": 24}

DEFAULT_MARKER_FILE = "synthpose_markers_v1.yaml"

Kind = Literal["vertex", "face", "joint"]


class MarkerFileError(OCBError, ValueError):
    """A marker definition file is malformed; the message names the file and the keypoint."""


@dataclass(frozen=True)
class MarkerDef:
    """One keypoint defined on the SMPL-X body.

    Attributes:
        name: keypoint name.
        kind: ``"vertex"``, ``"face"`` or ``"joint"``.
        index: vertex index, face index or joint index (per ``kind``).
        bary: barycentric weights (3,) for ``kind == "face"``, else ``None``.
        swap: name of the left/right partner (the keypoint itself for midline points).
        part: body segment label (documentation, grouping).
        upper: True for MMPose's "upper" half-body type.
        sigma: OKS sigma.
        weight: training loss weight.
    """

    name: str
    kind: Kind
    index: int
    bary: tuple[float, float, float] | None = None
    swap: str = ""
    part: str = ""
    upper: bool = True
    sigma: float = MARKER_SIGMA
    weight: float = 1.0


@dataclass(frozen=True)
class MarkerSet:
    """An ordered list of :class:`MarkerDef` plus drawing links.

    Attributes:
        name: set name (used as keypoint-set / dataset name).
        markers: definitions in keypoint order, length K.
        skeleton: links as keypoint-name pairs.
        source: file it was read from (``None`` if built in memory).
        version: ``format_version`` of the file.
    """

    name: str
    markers: tuple[MarkerDef, ...]
    skeleton: tuple[tuple[str, str], ...] = ()
    source: Path | None = None
    version: int = 1
    _pos: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._pos.update({m.name: i for i, m in enumerate(self.markers)})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.markers)

    @property
    def num_keypoints(self) -> int:
        return len(self.markers)

    @property
    def flip_indices(self) -> tuple[int, ...]:
        """``flip_indices[i]``: index of keypoint i's swap partner (i for midline)."""
        return tuple(self._pos[m.swap] if m.swap else i for i, m in enumerate(self.markers))

    @property
    def skeleton_indices(self) -> tuple[tuple[int, int], ...]:
        return tuple((self._pos[a], self._pos[b]) for a, b in self.skeleton)

    def index(self, name: str) -> int:
        if name not in self._pos:
            raise KeyError(f"{name!r} is not in marker set {self.name!r}")
        return self._pos[name]

    def keypoint_set(self) -> KeypointSet:
        """This set as an :class:`opencapbench.keypoints.KeypointSet` (not registered)."""
        return KeypointSet(
            name=self.name,
            names=self.names,
            flip_indices=self.flip_indices,
            upper_body=tuple(m.upper for m in self.markers),
            sigmas=tuple(m.sigma for m in self.markers),
            joint_weights=tuple(m.weight for m in self.markers),
            skeleton=self.skeleton_indices,
        )

    def select(self, kind: Kind) -> np.ndarray:
        """Keypoint positions (indices into ``markers``) of one definition kind, int (n,)."""
        return np.array([i for i, m in enumerate(self.markers) if m.kind == kind], dtype=int)


def _joint_index(value: object, where: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        idx = int(value)
    elif isinstance(value, str) and value in SMPLX_JOINT_NAMES:
        idx = SMPLX_JOINT_NAMES.index(value)
    elif isinstance(value, str) and value in _JOINT_ALIASES:
        idx = _JOINT_ALIASES[value]
    else:
        raise MarkerFileError(f"{where}: unknown SMPL-X joint {value!r}")
    if not 0 <= idx < len(SMPLX_JOINT_NAMES):
        raise MarkerFileError(f"{where}: joint index {idx} out of range 0..54")
    return idx


def _parse_entry(entry: dict, where: str) -> MarkerDef:
    if not isinstance(entry, dict) or "name" not in entry:
        raise MarkerFileError(f"{where}: each keypoint needs a `name`")
    name = str(entry["name"])
    where = f"{where} ({name})"
    kinds = [k for k in ("vertex", "face", "joint") if k in entry]
    if len(kinds) != 1:
        raise MarkerFileError(f"{where}: give exactly one of vertex/face/joint, got {kinds}")
    kind = kinds[0]
    bary = None
    if kind == "joint":
        index = _joint_index(entry["joint"], where)
    else:
        try:
            index = int(entry[kind])
        except (TypeError, ValueError):
            raise MarkerFileError(f"{where}: {kind} must be an integer index") from None
        if index < 0:
            raise MarkerFileError(f"{where}: negative {kind} index {index}")
    if kind == "face":
        b = np.asarray(entry.get("bary", ()), dtype=float)
        if b.shape != (3,) or np.any(b < -1e-9) or abs(b.sum() - 1.0) > 1e-6:
            raise MarkerFileError(f"{where}: `bary` must be 3 non-negative weights summing to 1")
        bary = (float(b[0]), float(b[1]), float(b[2]))
    elif "bary" in entry:
        raise MarkerFileError(f"{where}: `bary` is only valid with `face`")
    typ = str(entry.get("type", "upper"))
    if typ not in ("upper", "lower"):
        raise MarkerFileError(f"{where}: type must be upper or lower, got {typ!r}")
    swap = str(entry.get("swap") or "")
    return MarkerDef(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        index=index,
        bary=bary,
        swap="" if swap == name else swap,
        part=str(entry.get("part", "")),
        upper=typ == "upper",
        sigma=float(entry.get("sigma", MARKER_SIGMA)),
        weight=float(entry.get("weight", 1.0)),
    )


def _check_structure(name: str, markers: Sequence[MarkerDef], skeleton, where: str) -> None:
    seen: dict[str, int] = {}
    for m in markers:
        if m.name in seen:
            raise MarkerFileError(f"{where}: duplicate keypoint name {m.name!r}")
        seen[m.name] = 1
    by_name = {m.name: m for m in markers}
    for m in markers:
        if not m.swap:
            continue
        if m.swap not in by_name:
            raise MarkerFileError(
                f"{where}: {m.name!r} swaps with {m.swap!r}, which does not exist"
            )
        if by_name[m.swap].swap != m.name:
            raise MarkerFileError(
                f"{where}: swap is not mutual: {m.name!r} -> {m.swap!r} -> "
                f"{by_name[m.swap].swap or m.swap!r}"
            )
    for a, b in skeleton:
        for n in (a, b):
            if n not in by_name:
                raise MarkerFileError(f"{where}: skeleton link {a!r}-{b!r} names unknown {n!r}")


def marker_set_from_defs(
    name: str,
    markers: Sequence[MarkerDef],
    skeleton: Sequence[tuple[str, str]] = (),
    source: Path | None = None,
) -> MarkerSet:
    """Build and structurally check a :class:`MarkerSet` from definitions."""
    where = str(source) if source else f"marker set {name!r}"
    skeleton = tuple((str(a), str(b)) for a, b in skeleton)
    _check_structure(name, markers, skeleton, where)
    return MarkerSet(name=name, markers=tuple(markers), skeleton=skeleton, source=source)


def _load_yaml(path: Path) -> MarkerSet:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise MarkerFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keypoints"), list):
        raise MarkerFileError(f"{path}: expected a mapping with a `keypoints` list")
    version = int(doc.get("format_version", 1))
    if version != 1:
        raise MarkerFileError(f"{path}: unsupported format_version {version}")
    defs = [_parse_entry(e, f"{path}: keypoint {i}") for i, e in enumerate(doc["keypoints"])]
    skeleton = [tuple(link) for link in doc.get("skeleton") or []]
    if any(len(link) != 2 for link in skeleton):
        raise MarkerFileError(f"{path}: each skeleton link must be a pair of names")
    name = str(doc.get("name", path.stem))
    try:  # the name becomes part of output file names (<name>_metainfo.json)
        safe_component(name, f"marker set name in {path}")
    except UnsafePathError as exc:
        raise MarkerFileError(str(exc)) from None
    ms = marker_set_from_defs(name, defs, skeleton, source=path)
    # the file may declare the mesh it was made for: check the ranges already on load
    limits = {"vertex": doc.get("num_vertices"), "face": doc.get("num_faces")}
    for m in ms.markers:
        limit = limits.get(m.kind)
        if limit is not None and m.index >= int(limit):
            raise MarkerFileError(
                f"{path}: {m.name!r} uses {m.kind} {m.index}, but the file declares "
                f"num_{m.kind if m.kind == 'face' else 'vertice'}s: {limit}"
            )
    return ms


def _load_csv(path: Path) -> MarkerSet:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["name", "index"]:
        raise MarkerFileError(f"{path}: expected a `Name,Index` header")
    names = [r[0].strip() for r in rows[1:] if r]
    defs = []
    for r in rows[1:]:
        if not r:
            continue
        if len(r) < 2:
            raise MarkerFileError(f"{path}: row {r!r} has no index")
        name = r[0].strip()
        partner = _mirror_name(name)
        defs.append(
            _parse_entry(
                {"name": name, "vertex": r[1].strip(), "swap": partner if partner in names else ""},
                f"{path}: row {name}",
            )
        )
    return marker_set_from_defs(path.stem, defs, (), source=path)


def load_marker_set(path: str | os.PathLike | None = None) -> MarkerSet:
    """Read a marker file (``.yaml``/``.yml`` or OpenCapBench ``.csv``).

    Args:
        path: marker file; ``None`` loads the shipped ``synthpose_markers_v1.yaml``.

    Raises:
        MarkerFileError: the file is missing or malformed.
    """
    if path is None:
        path = Path(str(resources.files("synthpose.markers") / DEFAULT_MARKER_FILE))
    path = Path(path)
    if not path.is_file():
        raise MarkerFileError(f"marker file {path} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        return _load_yaml(path)
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    raise MarkerFileError(f"{path}: unknown marker file type (use .yaml or .csv)")
