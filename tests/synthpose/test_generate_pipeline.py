"""`ocb generate-dataset` end to end: COCO output, metainfo, resume, corrupt files, sources."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from helpers_smplx import synthetic_model, synthetic_smplx_dir
from pycocotools.coco import COCO
from scipy.spatial.transform import Rotation

from synthpose.generate.annotate import Annotator, CameraBatch
from synthpose.generate.body_model import BodyModelSpec, BodyParams, SkinnedSMPLX
from synthpose.generate.cli import generate_dataset
from synthpose.generate.sources import BedlamSource, InfinitySource, NpzSource, RichSource
from synthpose.markers import load_marker_set

N = 6
K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
R_FRONT = np.diag([-1.0, -1.0, 1.0]) @ np.diag([1.0, 1.0, -1.0])  # camera on +z facing the body
T_FRONT = np.array([0.0, 0.1, 3.2])
DIST = np.array([-0.05, 0.01, 0.001, -0.001, 0.0])


def _pose(rng, n=N) -> dict[str, np.ndarray]:
    return dict(
        global_orient=0.15 * rng.standard_normal((n, 3)),
        body_pose=0.25 * rng.standard_normal((n, 63)),
        betas=rng.standard_normal((n, 10)),
        transl=0.05 * rng.standard_normal((n, 3)),
    )


def _write_npz(path, seed: int) -> dict:
    d = dict(**_pose(np.random.default_rng(seed)), K=K, R=R_FRONT, t=T_FRONT,
             image_size=np.array([1280, 720]), dist=DIST)  # fmt: skip
    np.savez(path, **d)
    return d


def _annotate(spec: BodyModelSpec, params: BodyParams, cams: CameraBatch, occlusion=True):
    body = SkinnedSMPLX(synthetic_model(spec), dtype=torch.float32)
    return Annotator(body, load_marker_set(), occlusion=occlusion)(params, cams)


def _cams(n, R=R_FRONT, t=T_FRONT, dist=DIST, size=(1280, 720)) -> CameraBatch:
    return CameraBatch(
        K=torch.tensor(np.broadcast_to(K, (n, 3, 3)).copy()),
        R=torch.tensor(np.broadcast_to(R, (n, 3, 3)).copy()),
        t=torch.tensor(np.broadcast_to(t, (n, 3)).copy()),
        image_size=torch.tensor([size] * n),
        dist=None if dist is None else torch.tensor(np.broadcast_to(dist, (n, 5)).copy()),
    )


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    src = tmp_path_factory.mktemp("npz_src")
    raw = {name: _write_npz(src / f"{name}.npz", seed) for seed, name in enumerate(["a", "b"])}
    (src / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path_factory.mktemp("npz_out")
    args = ["npz", str(src), "--smplx-dir", str(synthetic_smplx_dir()), "--out", str(out),
            "--every-n", "2", "--device", "cpu", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(generate_dataset, args)
    return raw, out, args, result


def test_npz_run_writes_coco_that_pycocotools_reads(npz_run) -> None:
    raw, out, _, result = npz_run
    assert result.exit_code == 1, result.output  # one source failed: the rest is still written
    assert "FAILED corrupt.npz" in result.output
    failed = pd.read_csv(out / "failures.csv")
    assert list(failed["item"]) == ["corrupt.npz"] and list(failed["step"]) == ["annotate"]
    coco = COCO(str(out / "annotations" / "train.json"))
    ms = load_marker_set()
    assert coco.loadCats(1)[0]["keypoints"] == list(ms.names)
    assert len(coco.getImgIds()) == 2 * (N // 2)  # frames 0, 2, 4 of two sequences
    # round trip: the JSON holds what the annotator computes (3 decimals)
    a = raw["a"]
    keep = np.arange(0, N, 2)
    params = BodyParams.from_numpy(**{k: np.asarray(a[k])[keep] for k in ("global_orient", "body_pose", "betas", "transl")})  # fmt: skip
    ann = _annotate(BodyModelSpec(num_betas=10), params, _cams(len(keep)))
    imgs = {im["file_name"]: im["id"] for im in coco.loadImgs(coco.getImgIds())}
    for row, frame in enumerate(keep):
        rec = coco.loadAnns(coco.getAnnIds(imgIds=imgs[f"a/{frame:06d}.png"]))[0]
        kp = np.array(rec["keypoints"]).reshape(-1, 3)
        expect = ann.keypoints[row].copy()
        expect[expect[:, 2] == 0, :2] = 0
        np.testing.assert_allclose(kp, expect, atol=6e-4)
        assert rec["num_keypoints"] == int((expect[:, 2] > 0).sum())
        x1, y1, x2, y2 = ann.bbox[row]
        np.testing.assert_allclose(rec["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=2e-3)
        # MMPose's OKS scale of a box without segmentation, so AP compares with MMPose's
        assert rec["area"] == pytest.approx(0.53 * (x2 - x1) * (y2 - y1), rel=1e-4)
        assert rec["iscrowd"] == 0 and rec["category_id"] == 1
    assert set(kp[:, 2]) <= {0, 1, 2} and (kp[:, 2] == 1).any()  # occlusion is on


def test_metainfo_file_is_mmpose_dataset_info(npz_run) -> None:
    from mmengine.config import Config

    _, out, _, _ = npz_run
    info = Config.fromfile(str(out / "synthpose52_metainfo.py"))["dataset_info"]
    ms = load_marker_set()
    names = [info["keypoint_info"][i]["name"] for i in range(ms.num_keypoints)]
    assert names == list(ms.names)
    swap = {info["keypoint_info"][i]["name"]: info["keypoint_info"][i]["swap"] for i in range(52)}
    assert swap["l_calc"] == "r_calc" and swap["left_eye"] == "right_eye" and swap["C7"] == ""
    assert list(info["sigmas"][:2]) == [0.026, 0.025] and info["sigmas"][-1] == 0.05
    assert len(info["joint_weights"]) == 52 and len(info["skeleton_info"]) == 19
    assert json.loads((out / "synthpose52_metainfo.json").read_text())["sigmas"] == list(
        info["sigmas"]
    )


def test_interrupted_run_resumes_per_source_file(npz_run) -> None:
    _, out, args, _ = npz_run
    shard = out / "shards" / "train" / "b.npz.json"
    before = (out / "annotations" / "train.json").read_text()
    shard.unlink()  # as if the run had stopped while processing b.npz
    again = CliRunner().invoke(generate_dataset, args)
    assert again.exit_code == 1, again.output  # corrupt.npz still fails
    assert "1 source files done, 1 resumed, 1 failed" in again.output
    assert (out / "annotations" / "train.json").read_text() == before


def test_custom_marker_file_drives_the_whole_output(tmp_path) -> None:
    markers = tmp_path / "three.yaml"
    markers.write_text(
        "format_version: 1\nname: mini3\nkeypoints:\n"
        "  - {name: l_knee, vertex: 3640, swap: r_knee, type: lower, sigma: 0.07}\n"
        "  - {name: r_knee, vertex: 6401, swap: l_knee, type: lower, sigma: 0.07}\n"
        "  - {name: neck, joint: neck, sigma: 0.03}\n"
        "skeleton:\n  - [l_knee, r_knee]\n"
    )
    _write_npz(tmp_path / "seq.npz", 5)
    out = tmp_path / "out"
    res = CliRunner().invoke(generate_dataset, [
        "npz", str(tmp_path / "seq.npz"), "--smplx-dir", str(synthetic_smplx_dir()), "--out",
        str(out), "--markers", str(markers), "--no-occlusion", "--val-fraction", "1", "--quiet",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "annotations" / "val.json").read_text())
    assert doc["categories"][0]["keypoints"] == ["l_knee", "r_knee", "neck"]
    assert doc["categories"][0]["skeleton"] == [[1, 2]]
    assert len(doc["images"]) == N and all(len(a["keypoints"]) == 9 for a in doc["annotations"])
    assert {a["keypoints"][2] for a in doc["annotations"]} == {2}  # no occlusion test
    meta = json.loads((out / "mini3_metainfo.json").read_text())
    assert meta["keypoint_info"]["0"]["swap"] == "r_knee" and meta["sigmas"] == [0.07, 0.07, 0.03]


def test_bedlam_source_pose_layout_and_closeup_rotation(tmp_path) -> None:
    rng = np.random.default_rng(7)
    n = 3
    pose = np.zeros((n, 165))
    pose[:, :3] = [np.pi, 0, 0]  # BEDLAM bodies stand upside down in OpenCV camera frames
    pose[:, 3:66] = 0.2 * rng.standard_normal((n, 63))
    pose[:, 75:] = 0.3 * rng.standard_normal((n, 90))
    ext = np.tile(np.eye(4), (n, 1, 1))
    ext[:, :3, 3] = [0.1, 0.2, 0.5]
    common = dict(pose_cam=pose, shape=rng.standard_normal((n, 11)),
                  trans_cam=np.tile([0.0, 0.0, 3.0], (n, 1)), cam_ext=ext)  # fmt: skip
    names = np.array([f"seq_000001/seq_000001_{i:04d}.png" for i in range(n)])
    portrait = np.array([[1000.0, 0, 360], [0, 1000.0, 640], [0, 0, 1]])
    np.savez(tmp_path / "scene.npz", imgname=names, cam_int=np.tile(K, (n, 1, 1)), **common)
    np.savez(tmp_path / "scene_closeup.npz", imgname=names, cam_int=np.tile(portrait, (n, 1, 1)), **common)  # fmt: skip
    src = BedlamSource(tmp_path)
    assert src.units() == ["scene.npz", "scene_closeup.npz"]
    plain = next(iter(src.read("scene.npz")))
    close = next(iter(src.read("scene_closeup.npz")))
    assert plain.spec == BodyModelSpec("neutral", 11, use_pca=False, flat_hand_mean=True)
    assert plain.file_names[1] == "scene/png/seq_000001/seq_000001_0001.png"
    np.testing.assert_allclose(plain.params.left_hand_pose.numpy(), pose[:, 75:120])
    np.testing.assert_allclose(plain.params.jaw_pose.numpy(), pose[:, 66:69])
    a = _annotate(plain.spec, plain.params, plain.cams, occlusion=False)
    # same body through an explicit camera: R = I, t = cam_ext translation
    ref = _annotate(plain.spec, plain.params, _cams(n, np.eye(3), [0.1, 0.2, 0.5], None), occlusion=False)  # fmt: skip
    np.testing.assert_allclose(a.keypoints, ref.keypoints, atol=1e-4)
    # closeup: projected in the 720x1280 upright frame; the stored PNG is that image rotated
    # 90 deg counter-clockwise (loaders rotate it back clockwise)
    c = _annotate(close.spec, close.params, close.cams, occlusion=False)
    portrait_cams = _cams(n, np.eye(3), [0.1, 0.2, 0.5], None, size=(720, 1280))
    portrait_cams.K = torch.tensor(np.tile(portrait, (n, 1, 1)))
    p = _annotate(close.spec, close.params, portrait_cams, occlusion=False)
    vis = p.keypoints[..., 2] > 0
    np.testing.assert_allclose(c.keypoints[..., 0][vis], p.keypoints[..., 1][vis], atol=1e-3)
    np.testing.assert_allclose(c.keypoints[..., 1][vis], 720 - p.keypoints[..., 0][vis], atol=1e-3)
    # a point at pixel (x, y) of the stored image lands on (720 - y, x) after cv2's clockwise
    # rotation, i.e. back on the upright projection
    img = np.zeros((720, 1280), np.uint8)
    x, y = (int(v) for v in c.keypoints[0, vis[0]][0, :2])
    img[y, x] = 255
    import cv2

    yy, xx = np.argwhere(cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE))[0]
    assert (xx, yy) == (719 - y, x)
    assert close.cams.out_size.tolist()[0] == [1280, 720]
    every3 = BedlamSource(tmp_path, every_n=3)
    assert next(iter(every3.read("scene.npz"))).frames == [0]


def test_infinity_source_aligns_the_body_to_the_armature(tmp_path) -> None:
    rng = np.random.default_rng(3)
    n = 2
    spec = BodyModelSpec("female", num_betas=10)
    model = synthetic_model(spec)
    body_pose = 0.25 * rng.standard_normal((n, 21, 3))
    betas = rng.standard_normal(10)
    z3 = torch.zeros(n, 3, dtype=torch.float64)
    with torch.no_grad():
        joints = model(betas=torch.tensor(np.tile(betas, (n, 1))), body_pose=torch.tensor(body_pose.reshape(n, -1)),
                       global_orient=z3, transl=z3, jaw_pose=z3, leye_pose=z3, reye_pose=z3,
                       left_hand_pose=torch.zeros(n, 45, dtype=torch.float64),
                       right_hand_pose=torch.zeros(n, 45, dtype=torch.float64),
                       expression=torch.zeros(n, 10, dtype=torch.float64)).joints[:, :55].numpy()  # fmt: skip
    Rw = Rotation.from_euler("xyz", [0.2, 1.0, -0.1]).as_matrix()
    tw = np.array([0.3, -0.2, 0.4])
    world = joints @ Rw.T + tw
    from synthpose.markers import SMPLX_JOINT_NAMES

    anns = []
    for i in range(n):
        quats = {SMPLX_JOINT_NAMES[j + 1]: np.roll(Rotation.from_rotvec(body_pose[i, j]).as_quat(), 1).tolist() for j in range(21)}  # fmt: skip
        arm = {SMPLX_JOINT_NAMES[j]: dict(x_global=w[0], y_global=w[1], z_global=w[2]) for j, w in enumerate(world[i].tolist())}  # fmt: skip
        anns.append(dict(image_id=i, quaternions=quats, armature_keypoints=arm))
    RT = np.hstack([R_FRONT, T_FRONT[:, None]])
    labels = dict(
        info=dict(camera_K_matrix=K.tolist(), camera_RT_matrix=RT.tolist(),
                  avatar_presenting_gender="female", avatar_betas=betas.tolist()),
        images=[dict(id=i, width=1280, height=720, frame_number=i) for i in range(n)],
        annotations=anns,
    )  # fmt: skip
    (tmp_path / "vid1").mkdir()
    (tmp_path / "vid1" / "labels.json").write_text(json.dumps(labels))
    batch = next(iter(InfinitySource(tmp_path).read("vid1")))
    assert batch.spec == spec and batch.file_names == ["infinity/vid1/000000.png", "infinity/vid1/000001.png"]  # fmt: skip
    got = Annotator(SkinnedSMPLX(model, dtype=torch.float32), load_marker_set(), occlusion=False)(
        batch.params, batch.cams, batch.align_to
    )
    # expected: the unaligned body seen through camera RT composed with the known world motion
    ref = _annotate(spec, batch.params, _cams(n, R_FRONT @ Rw, R_FRONT @ tw + T_FRONT, None), occlusion=False)  # fmt: skip
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=2e-3)


def test_rich_source_reads_pickles_and_calibration(tmp_path) -> None:
    rng = np.random.default_rng(11)
    seq = "Gym_013_pushup1"
    frames = [0, 5, 10]
    params = []
    for f in frames:
        d = dict(betas=rng.standard_normal((1, 10)), global_orient=0.1 * rng.standard_normal((1, 3)),
                 body_pose=0.2 * rng.standard_normal((1, 63)), transl=np.zeros((1, 3)),
                 left_hand_pose=0.5 * rng.standard_normal((1, 12)),
                 right_hand_pose=0.5 * rng.standard_normal((1, 12)),
                 jaw_pose=np.zeros((1, 3)), leye_pose=np.zeros((1, 3)), reye_pose=np.zeros((1, 3)),
                 expression=np.zeros((1, 10)))  # fmt: skip
        (tmp_path / "bodies" / "test" / seq / f"{f:05d}").mkdir(parents=True)
        with open(tmp_path / "bodies" / "test" / seq / f"{f:05d}" / "013.pkl", "wb") as fh:
            pickle.dump({k: v.astype(np.float32) for k, v in d.items()}, fh)
        params.append(d)
    calib = tmp_path / "scan_calibration" / "Gym" / "calibration"
    calib.mkdir(parents=True)

    def mat(tag, m):
        rows, cols = m.shape
        return (f"<{tag} type_id=\"opencv-matrix\"><rows>{rows}</rows><cols>{cols}</cols>"
                f"<dt>d</dt><data>{' '.join(map(str, m.ravel()))}</data></{tag}>")  # fmt: skip

    ext = np.hstack([R_FRONT, T_FRONT[:, None]])
    Kr = np.array([[3000.0, 0, 2056], [0, 3000.0, 1504], [0, 0, 1]])
    (calib / "003.xml").write_text(
        "<?xml version=\"1.0\"?><opencv_storage>" + mat("CameraMatrix", ext)
        + mat("Intrinsics", Kr) + mat("Distortion", DIST[None]) + "</opencv_storage>"
    )  # fmt: skip
    (tmp_path / "gender.json").write_text(json.dumps({"013": "male"}))
    src = RichSource(tmp_path, every_n=5)
    assert src.units() == [f"test/{seq}/cam_03"]
    batch = next(iter(src.read(src.units()[0])))
    assert batch.spec == BodyModelSpec(
        "male", 10, use_pca=True, num_pca_comps=12, flat_hand_mean=False
    )
    assert batch.frames == frames
    assert batch.file_names[1] == f"images/test/{seq}/cam_03/00005_03.jpeg"
    got = _annotate(batch.spec, batch.params, batch.cams, occlusion=False)
    # the same parameters written as a plain npz give the same annotations
    stacked = {k: np.concatenate([p[k] for p in params]) for k in params[0]}
    np.savez(tmp_path / "same.npz", **stacked, K=Kr, R=R_FRONT, t=T_FRONT, dist=DIST,
             image_size=np.array([4112, 3008]), gender="male", flat_hand_mean=False)  # fmt: skip
    nb = next(iter(NpzSource(tmp_path / "same.npz").read("same.npz")))
    assert nb.spec == batch.spec
    ref = _annotate(nb.spec, nb.params, nb.cams, occlusion=False)
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=2e-3)


def test_infinity_exports_the_sampled_video_frames(tmp_path) -> None:
    import cv2

    (tmp_path / "vid2").mkdir()
    (tmp_path / "vid2" / "labels.json").write_text(json.dumps({"info": {}, "images": [], "annotations": []}))  # fmt: skip
    writer = cv2.VideoWriter(str(tmp_path / "vid2" / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))  # fmt: skip
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    out = tmp_path / "images"
    InfinitySource(tmp_path).export_images("vid2", [1, 3], out)
    files = sorted(p.name for p in (out / "infinity" / "vid2").iterdir())
    assert files == ["000001.png", "000003.png"]
    img = cv2.imread(str(out / "infinity" / "vid2" / "000003.png"))
    assert img.shape == (48, 64, 3) and abs(img.mean() - 120) < 5


def test_crops_are_person_centred(tmp_path) -> None:
    import cv2

    d = _write_npz(tmp_path / "seq.npz", 9)
    names = np.array([f"frames/{i:02d}.png" for i in range(N)])
    np.savez(tmp_path / "seq.npz", **d, image_names=names)
    (tmp_path / "imgs" / "frames").mkdir(parents=True)
    for name in names:
        cv2.imwrite(str(tmp_path / "imgs" / name), np.zeros((720, 1280, 3), np.uint8))
    out = tmp_path / "out"
    res = CliRunner().invoke(generate_dataset, [
        "npz", str(tmp_path / "seq.npz"), "--smplx-dir", str(synthetic_smplx_dir()), "--out",
        str(out), "--no-occlusion", "--exact-bbox", "--crops", "--image-root", str(tmp_path / "imgs"),
        "--quiet",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "annotations" / "train.json").read_text())
    assert len(doc["annotations"]) == N
    for a in doc["annotations"]:
        crop = cv2.imread(str(out / a["crop_file"]))
        x, y, w, h = a["bbox"]
        side = 1.25 * max(w, h)
        x0, y0 = a["crop_origin"]
        # square of 1.25 x the longer box side around the box centre, clipped to the image
        assert x0 == int(max(0, x + w / 2 - side / 2)) and y0 == int(max(0, y + h / 2 - side / 2))
        assert crop.shape[0] == int(min(720, y + h / 2 + side / 2)) - y0
        assert crop.shape[1] == int(min(1280, x + w / 2 + side / 2)) - x0


def test_missing_model_file_stops_with_a_clear_error(tmp_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "SMPLX_NEUTRAL.npz").symlink_to(synthetic_smplx_dir() / "SMPLX_NEUTRAL.npz")
    d = _write_npz(tmp_path / "seq.npz", 1)
    np.savez(tmp_path / "seq.npz", **d, gender="male")
    res = CliRunner().invoke(generate_dataset, [
        "npz", str(tmp_path / "seq.npz"), "--smplx-dir", str(models), "--out", str(tmp_path / "o"),
        "--quiet",
    ])  # fmt: skip
    assert res.exit_code == 1
    assert "no SMPL-X male model" in res.output and "SMPLX_MALE.npz" in res.output
