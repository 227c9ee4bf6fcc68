"""Keypoint store: npz round trip, validation, OpenPose JSON and OpenCap pickle import/export."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from opencapbench.io.keypoint_store import Keypoints2D, KeypointStoreError, store_path
from opencapbench.io.opencap_pose import import_opencap_pickle
from opencapbench.io.openpose_json import export_openpose_json, import_openpose_json

K = 17  # coco17


def _kp(frames: int = 4, persons: int = 2, seed: int = 0, bboxes: bool = True) -> Keypoints2D:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 700, size=(frames, persons, K, 2)).astype(np.float32)
    sc = rng.uniform(0.1, 1, size=(frames, persons, K)).astype(np.float32)
    xy[1, 1] = np.nan  # person 1 absent in frame 1
    bb = rng.uniform(0, 700, size=(frames, persons, 5)).astype(np.float32) if bboxes else None
    return Keypoints2D(xy, sc, 60.0, "coco17", (720, 1280), bb)


def test_missing_data_normalisation() -> None:
    xy = np.ones((2, 1, K, 2), np.float32)
    sc = np.ones((2, 1, K), np.float32)
    xy[0, 0, 3, 1] = np.nan  # one NaN coordinate → both NaN, score 0
    sc[1, 0, 5] = np.nan  # NaN score → 0
    kp = Keypoints2D(xy, sc, 30, "coco17", (640, 480))
    assert np.isnan(kp.keypoints[0, 0, 3]).all() and kp.scores[0, 0, 3] == 0
    assert kp.scores[1, 0, 5] == 0 and not np.isnan(kp.keypoints[1, 0, 5]).any()
    assert not np.isnan(xy[0, 0, 3, 0])  # the caller's array is not modified
    assert kp.keypoints.dtype == np.float32 and kp.scores.dtype == np.float32
    assert kp.num_frames == 2 and kp.num_persons == 1 and kp.num_keypoints == K
    np.testing.assert_allclose(kp.times, [0, 1 / 30])


def test_save_load_round_trip(tmp_path) -> None:
    kp = _kp()
    path = store_path(tmp_path / "store", "subject2", "Session0", "walking1", "Cam1")
    assert path == tmp_path / "store" / "subject2" / "Session0" / "walking1" / "Cam1.npz"
    kp.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["Cam1.npz"]  # no temp file left
    back = Keypoints2D.load(path)
    np.testing.assert_array_equal(back.keypoints, kp.keypoints)
    np.testing.assert_array_equal(back.scores, kp.scores)
    np.testing.assert_array_equal(back.bboxes, kp.bboxes)
    assert (back.fps, back.keypoint_set, back.image_size) == (60.0, "coco17", (720, 1280))
    with np.load(path) as npz:
        assert int(npz["format_version"]) == 1 and npz["image_size"].dtype == np.int64
    kp2 = _kp(bboxes=False)
    kp2.save(path)
    assert Keypoints2D.load(path).bboxes is None


def test_store_path_rejects_bad_names(tmp_path) -> None:
    with pytest.raises(ValueError, match="trial"):
        store_path(tmp_path, "s", "S0", "../x", "Cam0")
    with pytest.raises(ValueError, match="camera"):
        store_path(tmp_path, "s", "S0", "t", "")


def _save_raw(path, **arrays) -> None:
    base = {
        "keypoints": np.zeros((3, 1, K, 2), np.float32),
        "scores": np.ones((3, 1, K), np.float32),
        "fps": np.array(60.0),
        "keypoint_set": np.array("coco17"),
        "image_size": np.array([720, 1280]),
        "format_version": np.array(1),
    }
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"keypoints": np.zeros((3, 1, 52, 2), np.float32)}, "K=52"),
        ({"keypoint_set": np.array("nope")}, "unknown keypoint set"),
        ({"scores": np.ones((3, 2, K), np.float32)}, "scores shape"),
        ({"bboxes": np.zeros((3, 1, 4), np.float32)}, "bboxes shape"),
        ({"keypoints": np.zeros((3, K, 2), np.float32)}, r"\(F, P, K, 2\)"),
        ({"fps": np.array(0.0)}, "fps"),
        ({"scores": None}, "missing keys"),
        ({"format_version": np.array(99)}, "format_version"),
    ],
)
def test_load_validation_names_the_file(tmp_path, override, message) -> None:
    path = tmp_path / "Cam0.npz"
    _save_raw(path, **override)
    with pytest.raises(KeypointStoreError, match=message) as info:
        Keypoints2D.load(path)
    assert "Cam0.npz" in str(info.value)


def test_load_garbage_and_missing(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    with pytest.raises(KeypointStoreError, match="bad.npz"):
        Keypoints2D.load(bad)
    with pytest.raises(KeypointStoreError, match="not found"):
        Keypoints2D.load(tmp_path / "none.npz")


def test_load_nan_keypoints_get_zero_score(tmp_path) -> None:
    kp = np.zeros((3, 1, K, 2), np.float32)
    kp[0, 0, 0] = np.nan
    sc = np.ones((3, 1, K), np.float32)
    sc[2, 0, 1] = np.nan
    path = tmp_path / "c.npz"
    _save_raw(path, keypoints=kp, scores=sc)
    back = Keypoints2D.load(path)
    assert back.scores[0, 0, 0] == 0 and back.scores[2, 0, 1] == 0 and back.scores[1, 0, 0] == 1


def _write_frame(path, people) -> None:
    path.write_text(json.dumps({"version": 1.3, "people": people}))


def test_openpose_json_import_gaps_padding_and_missing(tmp_path) -> None:
    flat = np.arange(3 * K, dtype=float) + 1.0
    zeros_first = flat.copy()
    zeros_first[:3] = 0.0  # keypoint 0 missing
    _write_frame(
        tmp_path / "vid_000010.json", [{"person_id": [-1], "pose_keypoints_2d": list(flat)}]
    )
    # frame 11 absent → all-missing frame
    _write_frame(
        tmp_path / "vid_000012.json",
        [
            {"person_id": [-1], "pose_keypoints_2d": list(zeros_first)},
            {"person_id": [-1], "pose_keypoints_2d": list(flat * 2)},
        ],
    )
    _write_frame(tmp_path / "vid_000013.json", [])
    kp = import_openpose_json(tmp_path, "coco17", 30.0, (720, 1280))
    assert kp.keypoints.shape == (4, 2, K, 2)
    np.testing.assert_allclose(kp.keypoints[0, 0, 1], [4.0, 5.0])
    assert kp.scores[0, 0, 1] == 6.0
    assert np.isnan(kp.keypoints[0, 1]).all() and (kp.scores[0, 1] == 0).all()  # padded slot
    assert np.isnan(kp.keypoints[1]).all() and (kp.scores[1] == 0).all()  # missing file
    assert np.isnan(kp.keypoints[2, 0, 0]).all() and kp.scores[2, 0, 0] == 0  # x=y=c=0
    np.testing.assert_allclose(kp.keypoints[2, 1, 0], [2.0, 4.0])
    assert np.isnan(kp.keypoints[3]).all()  # no people


def test_openpose_json_sorted_by_number_not_name(tmp_path) -> None:
    for n in (2, 10, 1):
        flat = np.full(3 * K, float(n))
        _write_frame(tmp_path / f"v_{n}_keypoints.json", [{"pose_keypoints_2d": list(flat)}])
    kp = import_openpose_json(sorted(tmp_path.glob("*.json")), "coco17", 30.0, (10, 10))
    assert kp.num_frames == 10
    assert kp.keypoints[0, 0, 0, 0] == 1 and kp.keypoints[1, 0, 0, 0] == 2
    assert kp.keypoints[9, 0, 0, 0] == 10 and np.isnan(kp.keypoints[5]).all()


def test_openpose_json_wrong_length_names_file(tmp_path) -> None:
    _write_frame(tmp_path / "v_000000.json", [{"pose_keypoints_2d": [1.0] * 30}])
    with pytest.raises(KeypointStoreError, match=r"v_000000\.json.*30 values"):
        import_openpose_json(tmp_path, "coco17", 30.0, (10, 10))
    with pytest.raises(KeypointStoreError, match="no such folder"):
        import_openpose_json(tmp_path / "absent", "coco17", 30.0, (10, 10))
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeypointStoreError, match="no .json"):
        import_openpose_json(tmp_path / "empty", "coco17", 30.0, (10, 10))


def test_openpose_export_import_round_trip(tmp_path) -> None:
    kp = _kp(frames=3, persons=3, bboxes=False)
    kp.keypoints[:, 0] = np.nan  # slot 0 always empty: ids keep slots in place
    kp = Keypoints2D(kp.keypoints, kp.scores, kp.fps, kp.keypoint_set, kp.image_size)
    paths = export_openpose_json(kp, tmp_path / "json", "trial_Cam0")
    assert [p.name for p in paths] == [f"trial_Cam0_{i:06d}.json" for i in range(3)]
    doc = json.loads(paths[1].read_text())
    assert [p["person_id"] for p in doc["people"]] == [[2]]  # person 1 absent in frame 1
    back = import_openpose_json(tmp_path / "json", "coco17", kp.fps, kp.image_size)
    np.testing.assert_array_equal(back.keypoints, kp.keypoints)
    np.testing.assert_array_equal(back.scores, kp.scores)


def test_opencap_pickle_import_list_and_arrays(tmp_path) -> None:
    flat = list(np.arange(3 * K, dtype=float) + 1)
    frames = [
        [{"person_id": [0], "pose_keypoints_2d": flat}],
        [],
        [{"person_id": [-1], "pose_keypoints_2d": flat}, {"pose_keypoints_2d": [0.0] * 3 * K}],
    ]
    path = tmp_path / "pose.pkl"
    path.write_bytes(pickle.dumps(frames))
    kp = import_opencap_pickle(path, "coco17", 60.0, (720, 1280))
    assert kp.keypoints.shape == (3, 2, K, 2)
    np.testing.assert_allclose(kp.keypoints[0, 0, 0], [1, 2])
    assert np.isnan(kp.keypoints[1]).all() and np.isnan(kp.keypoints[2, 1]).all()

    arr = np.tile(np.asarray(flat), (5, 1))
    path.write_bytes(pickle.dumps(arr))
    kp = import_opencap_pickle(path, "coco17", 60.0, (720, 1280))
    assert kp.keypoints.shape == (5, 1, K, 2) and kp.scores[4, 0, 0] == 3
    path.write_bytes(pickle.dumps(np.stack([arr, arr], axis=1)))
    assert import_opencap_pickle(path, "coco17", 60.0, (720, 1280)).num_persons == 2
    path.write_bytes(pickle.dumps(np.zeros((5, 7))))
    with pytest.raises(KeypointStoreError, match=r"pose\.pkl"):
        import_opencap_pickle(path, "coco17", 60.0, (720, 1280))
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(KeypointStoreError, match="list of frames"):
        import_opencap_pickle(path, "coco17", 60.0, (720, 1280))


# ---------------------------------------------------------------- keypoint-set inference


def _write_json_frames(folder, sizes_per_frame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f, sizes in enumerate(sizes_per_frame):
        people = [{"pose_keypoints_2d": [float(1 + i % 3) for i in range(n)]} for n in sizes]
        (folder / f"vid_{f:06d}.json").write_text(json.dumps({"people": people}))


def _import_cli(args):
    from click.testing import CliRunner

    from opencapbench.cli import main

    return CliRunner().invoke(main, ["import-keypoints", *args])


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (26, "halpe26"),
        (133, "coco_wholebody"),
        (17, "coco17"),
        (25, "body25"),
        (35, "markers35"),
        (52, "synthpose52"),
    ],  # fmt: skip
)
def test_import_infers_the_keypoint_set(tmp_path, k, expected) -> None:
    _write_json_frames(tmp_path / "json", [[3 * k], [], [3 * k, 3 * k]])
    result = _import_cli(
        [
            str(tmp_path / "json"),
            "--format",
            "openpose",
            "--store",
            str(tmp_path / "store"),
            "--subject",
            "s1",
            "--trial",
            "t1",
            "--camera",
            "Cam0",
            "--fps",
            "60",
            "--image-size",
            "720",
            "1280",
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert f"({expected}, inferred" in result.output
    kp = Keypoints2D.load(store_path(tmp_path / "store", "s1", "Session0", "t1", "Cam0"))
    assert kp.keypoint_set == expected and kp.keypoints.shape == (3, 2, k, 2)


def test_import_pickle_infers_body25(tmp_path) -> None:
    # OpenCap's pose pickles hold OpenPose BODY_25: 75 values per person
    path = tmp_path / "cam.pkl"
    with open(path, "wb") as fh:
        pickle.dump(np.ones((5, 75)), fh)
    assert import_opencap_pickle(path, None, 60.0, (720, 1280)).keypoint_set == "body25"
    frames = [[{"person_id": [0], "pose_keypoints_2d": [1.0] * 78}] for _ in range(3)]
    with open(path, "wb") as fh:
        pickle.dump(frames, fh)
    assert import_opencap_pickle(path, None, 60.0, (720, 1280)).keypoint_set == "halpe26"


def test_import_refuses_what_it_cannot_infer(tmp_path, monkeypatch) -> None:
    from opencapbench import keypoints

    # people of different sizes
    _write_json_frames(tmp_path / "mixed", [[78], [51]])
    with pytest.raises(KeypointStoreError, match="different sizes .*51 values.*78 values"):
        import_openpose_json(tmp_path / "mixed", None, 30.0, (10, 10))
    # a size no registered set has: the message lists the known sets
    _write_json_frames(tmp_path / "odd", [[60]])
    with pytest.raises(
        KeypointStoreError, match="20 keypoints .*matches no known.*halpe26 \\(26\\)"
    ):
        import_openpose_json(tmp_path / "odd", None, 30.0, (10, 10))
    # no person at all
    _write_json_frames(tmp_path / "empty", [[], []])
    with pytest.raises(KeypointStoreError, match="no person"):
        import_openpose_json(tmp_path / "empty", None, 30.0, (10, 10))
    # two registered sets of 26 keypoints: ambiguous, unless the set is given
    other = keypoints.keypoint_set_from_names("other26", [f"k{i}" for i in range(26)])
    monkeypatch.setitem(keypoints._REGISTRY, "other26", other)
    _write_json_frames(tmp_path / "amb", [[78]])
    with pytest.raises(KeypointStoreError, match="several keypoint sets \\(.*halpe26.*other26"):
        import_openpose_json(tmp_path / "amb", None, 30.0, (10, 10))
    assert import_openpose_json(tmp_path / "amb", "halpe26", 30.0, (10, 10)).num_keypoints == 26
    # through the CLI: one line, exit 1
    result = _import_cli(
        [
            str(tmp_path / "mixed"),
            "--format",
            "openpose",
            "--store",
            str(tmp_path / "store"),
            "--subject",
            "s1",
            "--trial",
            "t1",
            "--camera",
            "Cam0",
            "--fps",
            "60",
            "--image-size",
            "720",
            "1280",
        ]  # fmt: skip
    )
    assert result.exit_code == 1 and "different sizes" in result.output


def test_a_custom_keypoint_set_travels_with_its_store(tmp_path) -> None:
    import subprocess
    import sys

    from opencapbench.keypoints import keypoint_set_from_names, register_keypoint_set

    names = ("left_heel_x", "right_heel_x", "chin_x")
    kps = register_keypoint_set(keypoint_set_from_names("my_finetuned3", names), overwrite=True)
    rng = np.random.default_rng(0)
    kp = Keypoints2D(rng.uniform(0, 100, (4, 1, 3, 2)), np.ones((4, 1, 3)), 30.0, kps.name,
                     (640, 480))  # fmt: skip
    path = kp.save(tmp_path / "cam.npz")
    # a fresh process has never heard of "my_finetuned3": the file carries its names and flips
    code = (
        "import sys; from opencapbench.io.keypoint_store import Keypoints2D; "
        "k = Keypoints2D.load(sys.argv[1]); "
        "print(k.keypoint_set, ','.join(k.kpset.names), list(k.kpset.flip_indices))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    assert out[0] == "my_finetuned3" and out[1] == ",".join(names)
    assert " ".join(out[2:]) == "[1, 0, 2]"  # left/right heels swap, the chin stays
    # a file whose names contradict a registered set of that name is refused
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["keypoint_set"] = np.array("coco17")
    np.savez(tmp_path / "lie.npz", **arrays)
    with pytest.raises(KeypointStoreError, match="differ from the registered set 'coco17'"):
        Keypoints2D.load(tmp_path / "lie.npz")
