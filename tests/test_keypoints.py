"""The keypoint registry reproduces the published SynthPose order and flip indices."""

import pytest

from opencapbench.keypoints import get_keypoint_set, keypoint_set_from_names

# flip_indices of the published 52-keypoint SynthPose metainfo
PUBLISHED_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 17, 19, 18, 21, 20,
                  23, 22, 25, 24, 27, 26, 29, 28, 31, 30, 33, 32, 35, 34, 37, 36, 39, 38, 41, 40,
                  43, 42, 45, 44, 47, 46, 48, 49, 50, 51]  # fmt: skip


def test_synthpose52_order_and_flip() -> None:
    kps = get_keypoint_set("synthpose52")
    assert kps.num_keypoints == 52
    assert kps.names[17] == "sternum" and kps.names[46] == "l_calc" and kps.names[51] == "T6"
    assert list(kps.flip_indices) == PUBLISHED_FLIP
    assert kps.sigmas[0] == 0.026 and kps.sigmas[20] == 0.05


def test_coco17_is_prefix_of_synthpose52() -> None:
    assert get_keypoint_set("coco17").names == get_keypoint_set("synthpose52").names[:17]


def test_unknown_set_and_bad_set_are_errors() -> None:
    with pytest.raises(KeyError, match="registered"):
        get_keypoint_set("nope")
    with pytest.raises(ValueError, match="duplicate"):
        keypoint_set_from_names("dup", ["a", "a"])


# ---------------------------------------------------------------- whole-body and foot sets


def _check_flip(kps, pairs_by_name) -> None:
    for a, b in pairs_by_name:
        i, j = kps.index(a), kps.index(b)
        assert kps.flip_indices[i] == j and kps.flip_indices[j] == i, (a, b)


def test_halpe26_order_and_flip() -> None:
    kps = get_keypoint_set("halpe26")
    assert kps.num_keypoints == 26
    # MMPose halpe26.py / Pose2Sim HALPE_26: feet interleaved left/right by type
    assert kps.names[17:] == (
        "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_heel", "right_heel",
    )  # fmt: skip
    assert kps.names[:17] == get_keypoint_set("coco17").names
    assert [kps.flip_indices[i] for i in range(17, 26)] == [17, 18, 19, 21, 20, 23, 22, 25, 24]
    assert kps.sigmas[19] == 0.066 and kps.sigmas[25] == 0.079


def test_coco_wholebody_order_and_flip() -> None:
    kps = get_keypoint_set("coco_wholebody")
    assert kps.num_keypoints == 133
    assert kps.names[17:23] == (
        "left_big_toe", "left_small_toe", "left_heel",
        "right_big_toe", "right_small_toe", "right_heel",
    )  # fmt: skip
    assert kps.names[23] == "face-0" and kps.names[90] == "face-67"
    assert kps.names[91] == "left_hand_root" and kps.names[112] == "right_hand_root"
    assert kps.names[132] == "right_pinky_finger4"
    # OpenCap's mmpose_constants flip pairs of the feet, and iBUG-68 face pairs
    assert [kps.flip_indices[i] for i in (17, 18, 19)] == [20, 21, 22]
    _check_flip(kps, [("face-0", "face-16"), ("face-36", "face-45"), ("face-40", "face-47"),
                      ("face-48", "face-54"), ("face-65", "face-67"),
                      ("left_thumb4", "right_thumb4")])  # fmt: skip
    for midline in ("face-8", "face-27", "face-30", "face-33", "face-51", "face-57", "face-66"):
        assert kps.flip_indices[kps.index(midline)] == kps.index(midline)
    assert len(kps.flip_pairs) == 8 + 3 + 29 + 21
    assert kps.sigmas[17] == 0.068 and kps.sigmas[132] == 0.031


def test_body25_and_markers35() -> None:
    b25 = get_keypoint_set("body25")
    assert b25.names[8] == "midHip" and b25.names[19] == "LBigToe" and b25.names[24] == "RHeel"
    _check_flip(b25, [("RShoulder", "LShoulder"), ("REye", "LEye"), ("RHeel", "LHeel")])
    assert b25.flip_indices[1] == 1 and b25.flip_indices[8] == 8
    m35 = get_keypoint_set("markers35")
    assert m35.names == get_keypoint_set("synthpose52").names[17:]
    _check_flip(m35, [("l_calc", "r_calc"), ("rshoulder", "lshoulder")])
    assert m35.flip_indices[m35.index("C7")] == m35.index("C7")
