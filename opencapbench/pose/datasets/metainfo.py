"""Dataset metainfo in MMPose's ``dataset_info`` format, parsed into ``dataset_meta``.

``ocb generate-dataset`` writes ``<set>_metainfo.json`` holding ``dataset_info`` (``keypoint_info``,
``skeleton_info``, ``joint_weights``, ``sigmas``).  MMPose's own metainfo python files
(``dataset_info = dict(...)``) are read too, as literals: nothing in a data file is executed.
Datasets, augmentations (flip partners, half-body ids), metrics (OKS sigmas) and checkpoints
(``meta.dataset_meta``) all use the parsed form returned by :func:`parse_metainfo`, with the key
names MMPose uses.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.errors import OCBError
from opencapbench.keypoints import KeypointSet, get_keypoint_set


class MetainfoError(OCBError, ValueError):
    """A metainfo file or dict is malformed (names the source and the problem)."""


def _literal(node: ast.AST, path: Path) -> Any:
    """A python literal, where ``dict(k=v, ...)`` counts as one (MMPose's metainfo style)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args or any(k.arg is None for k in node.keywords):
            raise MetainfoError(f"{path}: line {node.lineno}: dict() takes keyword arguments only")
        return {k.arg: _literal(k.value, path) for k in node.keywords}
    if isinstance(node, ast.Dict):
        return {
            _literal(k, path): _literal(v, path)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.List | ast.Tuple):
        items = [_literal(e, path) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise MetainfoError(
            f"{path}: line {node.lineno}: `dataset_info` must be made of literals "
            f"(dict, list, str, numbers); found {ast.unparse(node)[:60]!r}. The file is never "
            "executed: write it as JSON (ocb generate-dataset writes <set>_metainfo.json)"
        ) from None


def load_dataset_info(path: str | os.PathLike) -> dict[str, Any]:
    """The ``dataset_info`` dict of a metainfo file, without executing anything.

    ``.json``: the dict itself.  ``.py`` (MMPose's format): the literal assigned to
    ``dataset_info``; the file's other statements are ignored, never run.
    """
    path = Path(path)
    if not path.is_file():
        raise MetainfoError(f"metainfo file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            info = json.loads(text)
        except json.JSONDecodeError as err:
            raise MetainfoError(f"{path}: not valid JSON ({err})") from None
    else:
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as err:
            raise MetainfoError(f"{path}: not valid python ({err})") from None
        values = [
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "dataset_info" for t in node.targets)
        ]
        if not values:
            raise MetainfoError(f"metainfo file {path} defines no `dataset_info` dict")
        info = _literal(values[-1], path)
    if not isinstance(info, dict):
        raise MetainfoError(f"{path}: `dataset_info` is a {type(info).__name__}, not a dict")
    return info


def dataset_info_from_keypoint_set(kps: KeypointSet, dataset_name: str | None = None) -> dict:
    """Build an MMPose ``dataset_info`` dict from a registered :class:`KeypointSet`."""
    names = kps.names
    keypoint_info = {
        i: dict(
            name=n,
            id=i,
            color=[255, 128, 0] if kps.upper_body[i] else [0, 128, 255],
            type="upper" if kps.upper_body[i] else "lower",
            swap=names[kps.flip_indices[i]] if kps.flip_indices[i] != i else "",
        )
        for i, n in enumerate(names)
    }
    skeleton_info = {
        j: dict(link=(names[a], names[b]), id=j, color=[0, 255, 0])
        for j, (a, b) in enumerate(kps.skeleton)
    }
    return dict(
        dataset_name=dataset_name or kps.name,
        paper_info=dict(),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=list(kps.joint_weights),
        sigmas=list(kps.sigmas),
    )


def parse_metainfo(info: Mapping[str, Any], source: str = "metainfo") -> dict[str, Any]:
    """Parse an MMPose ``dataset_info`` dict into the ``dataset_meta`` that models keep.

    Args:
        info: dict with ``keypoint_info`` ({id: {name, id, color, type, swap}}),
            ``skeleton_info``, ``joint_weights`` (K,) and ``sigmas`` (K,).
        source: where ``info`` came from, for error messages.

    Returns:
        dict with ``dataset_name``, ``num_keypoints`` K, ``keypoint_id2name``,
        ``keypoint_name2id``, ``upper_body_ids``, ``lower_body_ids``, ``flip_indices`` (K,),
        ``flip_pairs``, ``keypoint_colors`` (K,3) uint8, ``num_skeleton_links``,
        ``skeleton_links``, ``skeleton_link_colors`` (L,3) uint8,
        ``dataset_keypoint_weights`` (K,) float32 and ``sigmas`` (K,) float32.
    """
    if "keypoint_info" not in info:
        raise MetainfoError(f"{source}: no `keypoint_info`")
    kinfo = {int(k): v for k, v in info["keypoint_info"].items()}
    num = len(kinfo)
    if sorted(kinfo) != list(range(num)):
        raise MetainfoError(f"{source}: keypoint_info ids must be 0..{num - 1}")
    id2name = {i: kinfo[i]["name"] for i in range(num)}
    name2id = {n: i for i, n in id2name.items()}
    if len(name2id) != num:
        raise MetainfoError(f"{source}: duplicate keypoint names in keypoint_info")

    flip = []
    for i in range(num):
        swap = kinfo[i].get("swap", "") or ""
        if swap and swap not in name2id:
            raise MetainfoError(f"{source}: keypoint {id2name[i]!r} swaps with unknown {swap!r}")
        flip.append(name2id[swap] if swap else i)
    for i, j in enumerate(flip):
        if flip[j] != i:
            raise MetainfoError(
                f"{source}: swap partners are not symmetric ({id2name[i]} -> {id2name[j]})"
            )
    upper = [i for i in range(num) if kinfo[i].get("type", "") == "upper"]
    lower = [i for i in range(num) if kinfo[i].get("type", "") == "lower"]

    sinfo = {int(k): v for k, v in (info.get("skeleton_info") or {}).items()}
    links = []
    for j in sorted(sinfo):
        a, b = sinfo[j]["link"]
        if a not in name2id or b not in name2id:
            raise MetainfoError(f"{source}: skeleton link {a!r}-{b!r} names unknown keypoints")
        links.append((name2id[a], name2id[b]))

    def _vector(key: str, default: float) -> np.ndarray:
        vals = info.get(key)
        arr = np.full(num, default, np.float32) if vals is None else np.asarray(vals, np.float32)
        if arr.shape != (num,):
            raise MetainfoError(f"{source}: `{key}` has {arr.size} entries, expected {num}")
        return arr

    colors = np.array([kinfo[i].get("color", [255, 255, 255]) for i in range(num)], np.uint8)
    link_colors = np.array(
        [sinfo[j].get("color", [255, 255, 255]) for j in sorted(sinfo)], np.uint8
    ).reshape(-1, 3)
    return dict(
        dataset_name=info.get("dataset_name", "custom"),
        num_keypoints=num,
        keypoint_id2name=id2name,
        keypoint_name2id=name2id,
        upper_body_ids=upper,
        lower_body_ids=lower,
        flip_indices=flip,
        flip_pairs=[(i, j) for i, j in enumerate(flip) if i < j],
        keypoint_colors=colors,
        num_skeleton_links=len(links),
        skeleton_links=links,
        skeleton_link_colors=link_colors,
        dataset_keypoint_weights=_vector("joint_weights", 1.0),
        sigmas=_vector("sigmas", 0.05),
    )


def resolve_metainfo(metainfo: Any) -> dict[str, Any]:
    """Turn any accepted metainfo spec into a parsed ``dataset_meta``.

    Accepts an already parsed dict (has ``num_keypoints``), a ``dataset_info`` dict, a
    ``dict(from_file=path)`` (MMPose's config form), a path to a metainfo file, or the name of a
    registered keypoint set (``"synthpose52"``, ``"coco17"``).
    """
    if isinstance(metainfo, Mapping):
        if "num_keypoints" in metainfo and "flip_indices" in metainfo:
            return dict(metainfo)
        if "from_file" in metainfo:
            path = metainfo["from_file"]
            return parse_metainfo(load_dataset_info(path), source=str(path))
        return parse_metainfo(metainfo)
    if isinstance(metainfo, (str, os.PathLike)):
        text = str(metainfo)
        if text.endswith((".py", ".json")) or os.path.sep in text or Path(text).is_file():
            return parse_metainfo(load_dataset_info(text), source=text)
        kps = get_keypoint_set(text)
        return parse_metainfo(dataset_info_from_keypoint_set(kps), source=text)
    raise MetainfoError(f"cannot interpret metainfo of type {type(metainfo).__name__}")
