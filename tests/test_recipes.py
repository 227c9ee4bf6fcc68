"""Marker recipes: derived keypoints, confidence rule, marker sets and IK weights against the
OpenCapBench / OpenCap reference files."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from opencapbench.keypoints import get_keypoint_set
from opencapbench.recipes import (
    AUGMENTER_INPUT_MARKERS,
    RecipeError,
    derive_keypoints2d,
    get_recipe,
    list_recipes,
    load_marker_set,
)


def _ref_markers(path) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for m in ET.parse(path).getroot().iter("Marker"):
        body = m.find("socket_parent_frame").text.rsplit("/", 1)[-1]
        out[m.get("name")] = (body, np.array([float(x) for x in m.find("location").text.split()]))
    return out


def _ref_weights(path) -> dict[str, float]:
    return {
        t.get("name"): float(t.find("weight").text)
        for t in ET.parse(path).getroot().iter("IKMarkerTask")
        if t.find("apply").text.strip() == "true"
    }


def test_every_benchmark_set_has_a_recipe() -> None:
    assert {"halpe26", "coco_wholebody", "coco17", "synthpose52", "markers35"} <= set(
        list_recipes()
    )
    with pytest.raises(RecipeError, match="sets with one: body25, coco17, coco_wholebody"):
        get_recipe("openpose_hands")


@pytest.mark.parametrize("name", ["halpe26", "coco_wholebody"])
def test_coco_family_to_body25(name: str) -> None:
    recipe = get_recipe(name)
    src = get_keypoint_set(name)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 700, (3, 2, src.num_keypoints, 2))
    sc = rng.uniform(0.3, 1.0, (3, 2, src.num_keypoints))
    sc[0, 0, src.index("left_shoulder")] = 0.1
    pts[1, 1, src.index("right_hip")] = np.nan
    out, conf = recipe.derive(pts, sc)
    b25 = get_keypoint_set("body25")
    assert out.shape == (3, 2, 25, 2) and conf.shape == (3, 2, 25)
    # copies by name (the note's mapping table)
    for b, s in [("RShoulder", "right_shoulder"), ("LHeel", "left_heel"),
                 ("RBigToe", "right_big_toe"), ("LSmallToe", "left_small_toe"),
                 ("REye", "right_eye"), ("LAnkle", "left_ankle")]:  # fmt: skip
        np.testing.assert_array_equal(out[..., b25.index(b), :], pts[..., src.index(s), :])
        np.testing.assert_array_equal(conf[..., b25.index(b)], sc[..., src.index(s)])
    # Neck = shoulder midpoint, midHip = hip midpoint, confidence = min of the two
    ls, rs = src.index("left_shoulder"), src.index("right_shoulder")
    neck = b25.index("Neck")
    np.testing.assert_allclose(out[0, 0, neck], (pts[0, 0, ls] + pts[0, 0, rs]) / 2)
    assert conf[0, 0, neck] == pytest.approx(0.1)
    np.testing.assert_allclose(conf[..., neck], np.minimum(sc[..., ls], sc[..., rs]))
    # a midpoint with a missing source is missing
    mid = b25.index("midHip")
    assert np.isnan(out[1, 1, mid]).all() and conf[1, 1, mid] == 0
    assert np.isfinite(out[1, 0, mid]).all()


def test_halpe26_foot_indices() -> None:
    # HALPE-26 interleaves the feet by type; COCO-WholeBody groups them by side
    for name, left_heel in (("halpe26", 24), ("coco_wholebody", 19)):
        r = get_recipe(name)
        pts = np.zeros((get_keypoint_set(name).num_keypoints, 2))
        pts[left_heel] = (7.0, 9.0)
        out, _ = r.derive(pts, np.ones(len(pts)))
        np.testing.assert_array_equal(out[get_keypoint_set("body25").index("LHeel")], (7.0, 9.0))


def test_coco17_has_no_feet_and_cannot_feed_the_augmenter() -> None:
    r = get_recipe("coco17")
    out, conf = r.derive(np.ones((17, 3)), np.ones(17))
    b25 = get_keypoint_set("body25")
    for foot in ("LHeel", "RBigToe", "RSmallToe"):
        assert np.isnan(out[b25.index(foot)]).all() and conf[b25.index(foot)] == 0
        assert foot not in r.marker_names
    assert len(r.marker_names) == 14
    with pytest.raises(RecipeError, match="cannot feed .* RHeel"):
        get_recipe("coco17", augmenter="v0.3")
    aug = get_recipe("halpe26", augmenter="v0.3")
    assert len(aug.marker_names) == 43 and aug.augmenter == "v0.3"
    assert set(AUGMENTER_INPUT_MARKERS) <= set(aug.triangulated_names)


def test_derive_keypoints2d_store() -> None:
    from opencapbench.io.keypoint_store import Keypoints2D

    k = get_keypoint_set("halpe26").num_keypoints
    kp = Keypoints2D(np.ones((4, 1, k, 2)), np.full((4, 1, k), 0.8), 60.0, "halpe26", (720, 1280))
    out = derive_keypoints2d(kp, get_recipe("halpe26"))
    assert out.keypoint_set == "body25" and out.keypoints.shape == (4, 1, 25, 2)
    assert out.fps == 60.0 and out.image_size == (720, 1280)
    with pytest.raises(RecipeError, match="given to the recipe"):
        derive_keypoints2d(kp, get_recipe("coco17"))


@pytest.mark.shared
def test_openpose_marker_set_matches_opencapbench(shared_dir) -> None:
    ref_dir = shared_dir / "reference" / "opensim"
    ref = _ref_markers(ref_dir / "RajagopalModified2016_markers_openpose.xml")
    ours = load_marker_set("openpose_markers.yaml")
    assert list(ours.markers) == list(ref)
    for name, (body, loc) in ref.items():
        assert ours.markers[name].body == body
        np.testing.assert_allclose(ours.markers[name].location, loc, atol=1e-9)
    # IK weights of OpenCapBench's Setup_IK_openpose.xml, for every marker of the recipes
    weights = _ref_weights(ref_dir / "Setup_IK_openpose.xml")
    assert get_recipe("halpe26").ik_weights == weights
    assert get_recipe("coco_wholebody").ik_weights == weights
    assert get_recipe("coco17").ik_weights == {
        k: v for k, v in weights.items() if "Toe" not in k and "Heel" not in k
    }
    # in that marker set Neck and midHip are exactly the midpoints the recipe derives
    for mid, (a, b) in (("Neck", ("RShoulder", "LShoulder")), ("midHip", ("RHip", "LHip"))):
        np.testing.assert_allclose(ref[mid][1], (ref[a][1] + ref[b][1]) / 2, atol=1e-12)


@pytest.mark.shared
def test_augmenter_and_synthpose_marker_sets_match_references(shared_dir) -> None:
    ref_dir = shared_dir / "reference" / "opensim"
    ref = _ref_markers(ref_dir / "LaiUhlrich2022_markers_augmenter.xml")
    ours = load_marker_set("augmenter_markers.yaml")
    assert list(ours.markers) == list(ref) and len(ref) == 43
    for name, (body, loc) in ref.items():
        assert ours.markers[name].body == body
        np.testing.assert_allclose(ours.markers[name].location, loc, atol=1e-9)
    assert get_recipe("halpe26", "v0.3").ik_weights == _ref_weights(ref_dir / "Setup_IK.xml")
    sp = _ref_weights(ref_dir / "Setup_IK_mmpose_final_adjusted.xml")
    ours_sp = get_recipe("synthpose52").ik_weights
    assert ours_sp == {k: v for k, v in sp.items() if k in ours_sp}
    assert get_recipe("markers35").ik_weights == ours_sp and len(ours_sp) == 33
