"""A keypoint set as a Pose2Sim custom skeleton: the ``[pose.CUSTOM]`` entry of Pose2Sim's
``Config.toml``, so that Pose2Sim can triangulate the keypoints that ``ocb infer`` writes.

Pose2Sim describes a skeleton as an anytree tree read with ``DictImporter`` from nested tables:
each node has a ``name``, an ``id`` (the keypoint's index in the OpenPose JSON
``pose_keypoints_2d``, i.e. its index in the keypoint set) and ``children``; a node whose ``id``
is the string ``"None"`` is not a keypoint (here: the root). ``ocb infer`` writes its OpenPose
JSON in keypoint-set order, so node ids are keypoint-set indices.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opencapbench.io.atomic import atomic_write
from opencapbench.keypoints import KeypointSet

__all__ = ["skeleton_parents", "skeleton_tree", "pose2sim_skeleton_toml", "write_pose2sim_skeleton"]

#: Anatomical markers of the SynthPose set → the keypoint they hang from (for any set that
#: has both names); the spine chain hangs from the root.
MARKER_PARENTS: dict[str, str] = {
    "L2": "",  # "" = the root
    "T11": "L2",
    "T6": "T11",
    "C7": "T6",
    "sternum": "C7",
    "rshoulder": "right_shoulder",
    "lshoulder": "left_shoulder",
}
for _short, _long in (("r_", "right_"), ("l_", "left_")):
    MARKER_PARENTS.update({
        f"{_short}ASIS": f"{_long}hip", f"{_short}PSIS": f"{_long}hip",
        f"{_short}knee": f"{_long}knee", f"{_short}mknee": f"{_long}knee",
        f"{_short}ankle": f"{_long}ankle", f"{_short}mankle": f"{_long}ankle",
        f"{_short}calc": f"{_long}ankle", f"{_short}5meta": f"{_long}ankle",
        f"{_short}big_toe": f"{_long}ankle", f"{_short}toe": f"{_short}big_toe",
        f"{_short}lelbow": f"{_long}elbow", f"{_short}melbow": f"{_long}elbow",
        f"{_short}lwrist": f"{_long}wrist", f"{_short}mwrist": f"{_long}wrist",
    })  # fmt: skip


def skeleton_parents(
    kps: KeypointSet, extra_parents: Mapping[str, str] | None = None
) -> dict[int, int | None]:
    """The parent of every keypoint in a tree over the set (None = the virtual root).

    The hips (``left_hip``, ``right_hip``, when the set has them) hang from the root and the
    set's drawn skeleton is walked breadth-first from them (neighbours in index order); the
    keypoints it does not reach hang from the keypoint named in ``extra_parents`` (default
    :data:`MARKER_PARENTS`) once that one is in the tree, and any left over from the root.

    Returns:
        keypoint index → parent index or None, for every index of the set.
    """
    table = dict(MARKER_PARENTS if extra_parents is None else extra_parents)
    k = kps.num_keypoints
    neighbours: list[list[int]] = [[] for _ in range(k)]
    for i, j in kps.skeleton:
        neighbours[i].append(j)
        neighbours[j].append(i)
    parents: dict[int, int | None] = {}
    starts = [kps.names.index(n) for n in ("left_hip", "right_hip") if n in kps.names]
    queue = deque(starts)
    for s in starts:
        parents[s] = None
    while queue:
        node = queue.popleft()
        for nb in sorted(neighbours[node]):
            if nb not in parents:
                parents[nb] = node
                queue.append(nb)
    index = {n: i for i, n in enumerate(kps.names)}
    changed = True
    while changed:  # markers whose parent is a marker wait for it
        changed = False
        for i, name in enumerate(kps.names):
            if i in parents or name not in table:
                continue
            parent = table[name]
            if parent == "":
                parents[i] = None
                changed = True
            elif parent in index and index[parent] in parents:
                parents[i] = index[parent]
                changed = True
    for i in range(k):
        parents.setdefault(i, None)
    return parents


def skeleton_tree(
    kps: KeypointSet, root_name: str = "Hip", extra_parents: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The keypoint set as Pose2Sim's nested skeleton: ``{"name", "id", "children"}`` nodes.

    Args:
        kps: the keypoint set; node ``id`` = keypoint index, ``name`` = keypoint name.
        root_name: name of the virtual root (``id = "None"``); it must not be a keypoint name.
        extra_parents: see :func:`skeleton_parents`.
    """
    if root_name in kps.names:
        raise ValueError(f"root name {root_name!r} is a keypoint of {kps.name!r}")
    parents = skeleton_parents(kps, extra_parents)
    children: dict[int | None, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)

    def node(i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"name": kps.names[i], "id": i}
        if children.get(i):
            out["children"] = [node(c) for c in sorted(children[i])]
        return out

    return {"name": root_name, "id": "None", "children": [node(c) for c in children.get(None, [])]}


def _emit(node: Mapping[str, Any], table: str, depth: int, lines: list[str], array: bool) -> None:
    indent = "  " * depth
    lines.append(f"{indent}[[{table}]]" if array else f"{indent}[{table}]")
    lines.append(f"{indent}name = {json.dumps(node['name'])}")
    ident = node["id"]
    lines.append(f"{indent}id = {json.dumps(ident) if isinstance(ident, str) else int(ident)}")
    for child in node.get("children", []):
        _emit(child, f"{table}.children", depth + 1, lines, array=True)


def pose2sim_skeleton_toml(kps: KeypointSet, model_name: str = "CUSTOM") -> str:
    """TOML text of the ``[pose.<model_name>]`` skeleton entry (Pose2Sim's layout: one
    ``[[pose.NAME.children...]]`` table per node, indented by depth)."""
    if not model_name.isidentifier():
        raise ValueError(f"model name must be a bare TOML key like CUSTOM, not {model_name!r}")
    lines = [
        f"# Pose2Sim skeleton of the {kps.name!r} keypoint set ({kps.num_keypoints} keypoints),",
        "# written by opencapbench. Append it to Pose2Sim's Config.toml and set",
        f"# [pose] pose_model = '{model_name}'. Node ids are indices in pose_keypoints_2d.",
        "# Single-person association tracks one keypoint by name: set [personAssociation]",
        "# tracked_keypoint to one of the names below (Pose2Sim's default 'Neck' is not one).",
    ]
    _emit(skeleton_tree(kps), f"pose.{model_name}", 0, lines, array=False)
    return "\n".join(lines) + "\n"


def write_pose2sim_skeleton(
    kps: KeypointSet, path: str | os.PathLike, model_name: str = "CUSTOM"
) -> Path:
    """Write :func:`pose2sim_skeleton_toml` to ``path`` (atomically)."""
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(pose2sim_skeleton_toml(kps, model_name))
    return path
