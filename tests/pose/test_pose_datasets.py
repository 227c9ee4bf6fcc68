"""Finetune data: metainfo parsing, annotation checks, bad-sample skipping, source mixing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import opencapbench.pose.registry_all  # noqa: F401  (registers)
from opencapbench.pose.datasets.coco import AnnotationError, CombinedDataset, SynthPoseDataset
from opencapbench.pose.datasets.metainfo import MetainfoError, parse_metainfo, resolve_metainfo
from opencapbench.pose.datasets.samplers import MultiSourceSampler, batch_composition
from synthpose.finetune.toy_data import toy_dataset_info, write_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), num_train=8, num_val=2, seed=1)


def _dataset(toy, ann=None, **kw) -> SynthPoseDataset:
    return SynthPoseDataset(
        ann_file=str(ann or toy.train_ann),
        metainfo=dict(from_file=str(toy.metainfo)),
        data_prefix=dict(img=str(toy.image_dir)),
        **kw,
    )


def test_metainfo_from_generated_file(toy):
    meta = resolve_metainfo(dict(from_file=str(toy.metainfo)))
    assert meta["num_keypoints"] == 5
    assert meta["flip_indices"] == [0, 2, 1, 4, 3]
    assert meta["flip_pairs"] == [(1, 2), (3, 4)]
    assert meta["upper_body_ids"] == [0, 1, 2] and meta["lower_body_ids"] == [3, 4]
    assert meta["sigmas"].dtype == np.float32 and meta["sigmas"].shape == (5,)


def test_mmpose_style_metainfo_py_is_read_as_literals_never_executed(toy, tmp_path):
    info = json.loads(toy.metainfo.read_text())
    marker = tmp_path / "payload_ran"
    payload = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('pwned')\n"
    # MMPose's own style (dict(...) calls), with code around it that must not run
    mmpose_style = tmp_path / "metainfo.py"
    mmpose_style.write_text(payload + f"dataset_info = {info!r}\n")
    meta = resolve_metainfo(dict(from_file=str(mmpose_style)))
    assert meta["flip_indices"] == [0, 2, 1, 4, 3] and not marker.exists()
    # a payload inside the dict itself is refused, still without running it
    evil = tmp_path / "evil_metainfo.py"
    evil.write_text(
        f"dataset_info = dict(sigmas=__import__('pathlib').Path({str(marker)!r}).write_text('x'))\n"
    )
    with pytest.raises(MetainfoError, match="evil_metainfo.py: line 1: .*literals"):
        resolve_metainfo(dict(from_file=str(evil)))
    assert not marker.exists()
    mmpose_dict = tmp_path / "coco_like.py"
    mmpose_dict.write_text(
        "dataset_info = dict(dataset_name='two', keypoint_info={0: dict(name='l', id=0, swap='r'),"
        " 1: dict(name='r', id=1, swap='l')}, skeleton_info={0: dict(link=('l', 'r'), id=0)},"
        " joint_weights=[1.0, 1.5], sigmas=[0.025, -0.5 + 0.55])\n"
    )
    with pytest.raises(MetainfoError, match="literals"):  # arithmetic is not a literal
        resolve_metainfo(str(mmpose_dict))
    mmpose_dict.write_text(mmpose_dict.read_text().replace("-0.5 + 0.55", "0.05"))
    meta = resolve_metainfo(str(mmpose_dict))
    assert meta["flip_indices"] == [1, 0] and meta["skeleton_links"] == [(0, 1)]
    np.testing.assert_allclose(meta["dataset_keypoint_weights"], [1.0, 1.5])


def test_metainfo_of_synthpose52_matches_published_flip_indices():
    meta = resolve_metainfo("synthpose52")
    assert meta["num_keypoints"] == 52
    # the 17 COCO keypoints swap as in COCO; the first markers are sternum (midline) then
    # rshoulder/lshoulder
    assert meta["flip_indices"][:20] == [
        0,
        2,
        1,
        4,
        3,
        6,
        5,
        8,
        7,
        10,
        9,
        12,
        11,
        14,
        13,
        16,
        15,
        17,
        19,
        18,
    ]
    np.testing.assert_allclose(meta["sigmas"][17:], 0.05)
    np.testing.assert_allclose(meta["sigmas"][0], 0.026)


def test_metainfo_errors_name_the_problem():
    info = toy_dataset_info(5)
    info["keypoint_info"][1]["swap"] = "nose"  # nose does not swap back
    with pytest.raises(MetainfoError, match="not symmetric"):
        parse_metainfo(info)
    info = toy_dataset_info(5)
    info["sigmas"] = [0.05] * 4
    with pytest.raises(MetainfoError, match="sigmas.*4 entries, expected 5"):
        parse_metainfo(info)


def test_samples_have_coco_geometry(toy):
    ds = _dataset(toy)
    assert len(ds) == 8
    coco = json.loads(toy.train_ann.read_text())
    ann = coco["annotations"][0]
    info = ds.get_data_info(0)
    x, y, w, h = ann["bbox"]
    np.testing.assert_allclose(info["bbox"], [[x, y, x + w, y + h]], rtol=1e-6)
    kp = np.asarray(ann["keypoints"]).reshape(-1, 3)
    np.testing.assert_allclose(info["keypoints"][0], kp[:, :2], rtol=1e-6)
    assert info["flip_indices"] == [0, 2, 1, 4, 3]


def test_wrong_keypoint_count_is_a_clear_error(toy, tmp_path):
    coco = json.loads(toy.train_ann.read_text())
    coco["categories"][0]["keypoints"] = coco["categories"][0]["keypoints"][:4]
    bad = tmp_path / "bad_cat.json"
    bad.write_text(json.dumps(coco))
    with pytest.raises(AnnotationError, match="lists 4 keypoints but the metainfo .* has 5"):
        _dataset(toy, ann=bad)
    coco = json.loads(toy.train_ann.read_text())
    coco["annotations"][3]["keypoints"] = coco["annotations"][3]["keypoints"][:12]
    bad = tmp_path / "bad_ann.json"
    bad.write_text(json.dumps(coco))
    with pytest.raises(AnnotationError, match=r"annotation id=4 .* has 4 \(12 values\) keypoints"):
        _dataset(toy, ann=bad)


def test_zero_area_boxes_and_missing_images_are_skipped_and_counted(toy, tmp_path):
    coco = json.loads(toy.train_ann.read_text())
    coco["annotations"][0]["bbox"] = [10, 10, 0, 30]
    coco["annotations"][1]["bbox"] = [10, 10, 20, 0]
    coco["images"][2]["file_name"] = "does_not_exist.png"
    ann = tmp_path / "mixed.json"
    ann.write_text(json.dumps(coco))
    ds = _dataset(toy, ann=ann)
    assert len(ds) == 5
    assert ds.skipped["zero-area box"] == 2
    assert ds.skipped["missing image"] == 1
    assert "does_not_exist.png" in ds.skipped_examples["missing image"][0]


def test_unreadable_image_is_skipped_during_training(toy, tmp_path):
    coco = json.loads(toy.train_ann.read_text())
    broken = toy.image_dir / "broken.png"
    broken.write_bytes(b"not a png")
    coco["images"][0]["file_name"] = "broken.png"
    ann = tmp_path / "broken.json"
    ann.write_text(json.dumps(coco))
    pipeline = [
        dict(type="LoadImage"),
        dict(type="GetBBoxCenterScale"),
        dict(type="TopdownAffine", input_size=(64, 64)),
    ]
    ds = _dataset(toy, ann=ann, pipeline=pipeline)
    np.random.seed(0)  # noqa: NPY002  (mmengine's refetch uses the global generator)
    out = ds[0]
    assert out["img"].shape == (64, 64, 3)
    assert out["img_path"] != str(broken)
    assert ds.failed_samples == 1
    val = _dataset(toy, ann=ann, pipeline=pipeline, test_mode=True)
    with pytest.raises(OSError, match="broken.png"):
        val[0]


@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "a/../../b.png"])
def test_file_name_outside_the_data_root_is_refused(toy, tmp_path, name):
    from opencapbench.io.paths import UnsafePathError

    coco = json.loads(toy.train_ann.read_text())
    coco["images"][0]["file_name"] = name
    ann = tmp_path / "escape.json"
    ann.write_text(json.dumps(coco))
    with pytest.raises(UnsafePathError, match="file_name of image"):
        _dataset(toy, ann=ann)


def test_batch_composition_follows_ratios():
    np.testing.assert_array_equal(batch_composition(32, [1, 1, 1, 1]), [8, 8, 8, 8])
    np.testing.assert_array_equal(batch_composition(10, [2, 1, 1]), [5, 3, 2])
    assert batch_composition(7, [1, 1, 1]).sum() == 7
    with pytest.raises(ValueError):
        batch_composition(4, [0, 0])


def test_combined_dataset_maps_sources_and_sampler_mixes_them(tmp_path):
    big = write_toy_dataset(tmp_path / "big", num_train=12, num_val=1, num_keypoints=6, seed=2)
    small = write_toy_dataset(tmp_path / "small", num_train=3, num_val=1, num_keypoints=4, seed=3)
    combined = CombinedDataset(
        metainfo=dict(from_file=str(big.metainfo)),
        datasets=[
            dict(
                type="SynthPoseDataset",
                ann_file=str(big.train_ann),
                metainfo=dict(from_file=str(big.metainfo)),
                data_prefix=dict(img=str(big.image_dir)),
            ),
            dict(
                type="SynthPoseDataset",
                ann_file=str(small.train_ann),
                metainfo=dict(from_file=str(small.metainfo)),
                data_prefix=dict(img=str(small.image_dir)),
                pipeline=[
                    dict(
                        type="KeypointConverter",
                        num_keypoints=6,
                        mapping=[(i, i) for i in range(4)],
                    )
                ],
            ),
        ],
        pipeline=[],
    )
    assert len(combined) == 15 and combined.cumulative_sizes == [12, 15]
    info = combined[13]
    assert info["keypoints"].shape == (1, 6, 2)
    np.testing.assert_array_equal(info["keypoints_visible"][0], [1, 1, 1, 1, 0, 0])
    assert info["flip_indices"] == combined.metainfo["flip_indices"]

    sampler = MultiSourceSampler(combined, batch_size=4, source_ratio=[1, 1], seed=0, num_batches=6)
    idx = np.array(list(sampler)).reshape(6, 4)
    # every batch: 2 from the 12-image source, 2 from the 3-image source (cycled)
    np.testing.assert_array_equal((idx >= 12).sum(axis=1), 2)
    small_seen = idx[idx >= 12]
    assert set(small_seen.tolist()) == {12, 13, 14}
    # each pass through the small source is a permutation: counts differ by at most one
    counts = np.bincount(small_seen - 12)
    assert counts.max() - counts.min() <= 1
    sampler.set_epoch(1)
    assert list(sampler) != idx.reshape(-1).tolist()


def test_multi_source_sampler_splits_batches_between_processes(tmp_path, monkeypatch):
    big = write_toy_dataset(tmp_path / "big", num_train=12, num_val=1, seed=5)
    small = write_toy_dataset(tmp_path / "small", num_train=4, num_val=1, seed=6)
    src = [dict(type="SynthPoseDataset", ann_file=str(t.train_ann),
                metainfo=dict(from_file=str(t.metainfo)), data_prefix=dict(img=str(t.image_dir)))
           for t in (big, small)]  # fmt: skip
    combined = CombinedDataset(metainfo=dict(from_file=str(big.metainfo)), datasets=src)
    per_rank = []
    for rank in (0, 1):
        monkeypatch.setattr(
            "opencapbench.pose.datasets.samplers.get_dist_info", lambda r=rank: (r, 2)
        )
        s = MultiSourceSampler(combined, batch_size=4, source_ratio=[3, 1], shuffle=False, seed=0)
        assert len(s) == 8  # 16 samples / (4 x 2 processes) = 2 batches each
        per_rank.append(np.array(list(s)).reshape(-1, 4))
    for batches in per_rank:
        np.testing.assert_array_equal((batches >= 12).sum(axis=1), 1)  # ratio 3:1 in every batch
    both = np.concatenate(per_rank)
    assert len(np.unique(both)) == both.size  # no sample shared within the epoch


def test_metainfo_defaults_to_the_files_categories(toy):
    ds = SynthPoseDataset(ann_file=str(toy.train_ann), data_prefix=dict(img=str(toy.image_dir)))
    meta = ds.metainfo
    assert meta["num_keypoints"] == 5
    assert [meta["keypoint_id2name"][i] for i in range(5)][:3] == [
        "nose",
        "right_hand",
        "left_hand",
    ]
    assert meta["flip_indices"] == [0, 2, 1, 4, 3]  # from the left_/right_ name prefixes
