"""The Pose2Sim skeleton entry: valid TOML in Pose2Sim's nested layout, every keypoint exactly
once with its keypoint-set index as id, one tree connected from the root."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from opencapbench.io.pose2sim_config import pose2sim_skeleton_toml, skeleton_parents
from opencapbench.keypoints import get_keypoint_set, keypoint_set_from_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _walk(node: dict, parent: str | None, seen: list[tuple[str, object, str | None]]) -> None:
    """Every node reachable from ``node``, as Pose2Sim's RenderTree visits them."""
    seen.append((node["name"], node["id"], parent))
    for child in node.get("children", []):
        _walk(child, node["name"], seen)


@pytest.mark.parametrize("name", ["synthpose52", "coco17"])
def test_skeleton_holds_every_keypoint_once_in_set_order(name: str) -> None:
    kps = get_keypoint_set(name)
    text = pose2sim_skeleton_toml(kps)
    assert "[pose.CUSTOM]" in text and "[[pose.CUSTOM.children.children]]" in text
    root = tomllib.loads(text)["pose"]["CUSTOM"]
    assert (root["name"], root["id"]) == ("Hip", "None")  # Pose2Sim's marker of a non-keypoint
    nodes: list[tuple[str, object, str | None]] = []
    _walk(root, None, nodes)
    keypoints = [(n, i) for n, i, _ in nodes if i != "None"]
    assert len(nodes) == kps.num_keypoints + 1  # the root reaches every node: one tree
    assert sorted(i for _, i in keypoints) == list(range(kps.num_keypoints))
    assert all(kps.names[i] == n for n, i in keypoints)


def test_synthpose_markers_hang_from_their_joints() -> None:
    kps = get_keypoint_set("synthpose52")
    root = tomllib.loads(pose2sim_skeleton_toml(kps, "SYNTHPOSE"))["pose"]["SYNTHPOSE"]
    nodes: list[tuple[str, object, str | None]] = []
    _walk(root, None, nodes)
    parent = {n: p for n, _, p in nodes}
    expected = {"left_hip": "Hip", "right_hip": "Hip", "right_knee": "right_hip",
                "right_ankle": "right_knee", "r_mknee": "right_knee", "l_ASIS": "left_hip",
                "r_toe": "r_big_toe", "r_big_toe": "right_ankle", "L2": "Hip", "C7": "T6",
                "sternum": "C7", "lshoulder": "left_shoulder", "l_mwrist": "left_wrist"}  # fmt: skip
    assert {n: parent[n] for n in expected} == expected


def test_a_set_without_a_skeleton_hangs_from_the_root() -> None:
    kps = keypoint_set_from_names("dots3", ["a", "left_b", "right_b"])
    assert skeleton_parents(kps) == {0: None, 1: None, 2: None}
    root = tomllib.loads(pose2sim_skeleton_toml(kps))["pose"]["CUSTOM"]
    assert [(c["name"], c["id"]) for c in root["children"]] == [("a", 0), ("left_b", 1),
                                                                ("right_b", 2)]  # fmt: skip


def test_names_needing_escapes_stay_valid_toml() -> None:
    kps = keypoint_set_from_names("odd", ['quote"d', "back\\slash"])
    root = tomllib.loads(pose2sim_skeleton_toml(kps))["pose"]["CUSTOM"]
    assert [c["name"] for c in root["children"]] == ['quote"d', "back\\slash"]


def test_command_writes_the_file_and_names_unknown_sets(tmp_path: Path) -> None:
    from opencapbench.io.pose2sim_cli import pose2sim_skeleton

    runner = CliRunner()
    out = tmp_path / "skeleton.toml"
    result = runner.invoke(pose2sim_skeleton, ["synthpose52", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == pose2sim_skeleton_toml(get_keypoint_set("synthpose52"))
    bad = runner.invoke(pose2sim_skeleton, ["nosuchset"])
    assert bad.exit_code == 2 and "synthpose52" in bad.output and "nosuchset" in bad.output
