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
