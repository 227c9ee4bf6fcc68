"""Projected keypoints, boxes and visibility against independent float64 references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_smplx import synthetic_model

from synthpose.generate.annotate import Annotator, CameraBatch, rigid_align
from synthpose.generate.body_model import (
    BodyModelSpec,
    BodyParams,
    SkinnedSMPLX,
)
from synthpose.generate.visibility import occluded_by_mesh
from synthpose.markers import MarkerDef, load_marker_set, marker_set_from_defs

B = 6


def _params(spec: BodyModelSpec, seed: int) -> BodyParams:
    rng = np.random.default_rng(seed)
    h = spec.num_pca_comps if spec.use_pca else 45
    return BodyParams.from_numpy(
        betas=rng.standard_normal((B, spec.num_betas)),
        global_orient=0.3 * rng.standard_normal((B, 3)),
        body_pose=0.35 * rng.standard_normal((B, 63)),
        jaw_pose=0.1 * rng.standard_normal((B, 3)),
        leye_pose=0.1 * rng.standard_normal((B, 3)),
        reye_pose=0.1 * rng.standard_normal((B, 3)),
        left_hand_pose=0.4 * rng.standard_normal((B, h)),
        right_hand_pose=0.4 * rng.standard_normal((B, h)),
        transl=0.2 * rng.standard_normal((B, 3)),
        expression=rng.standard_normal((B, 10)),
    )


def _look_at(eye: np.ndarray, target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World->camera R, t of an OpenCV camera at ``eye`` looking at ``target`` (+y world up)."""
    z = (np.zeros(3) if target is None else target) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, -1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


def _cameras(seed: int, dist: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    Rs, ts = [], []
    for _ in range(B):
        ang = rng.uniform(-np.pi, np.pi)
        R, t = _look_at(np.array([3.2 * np.sin(ang), rng.uniform(-0.5, 0.8), 3.2 * np.cos(ang)]))
        Rs.append(R)
        ts.append(t)
    K = np.array([[1100.0, 0.0, 640.0], [0.0, 1090.0, 365.0], [0.0, 0.0, 1.0]])
    d = np.array([-0.08, 0.03, 0.001, -0.0015, 0.004]) if dist else np.zeros(5)
    return dict(
        K=np.broadcast_to(K, (B, 3, 3)).copy(),
        R=np.array(Rs),
        t=np.array(ts),
        dist=np.broadcast_to(d, (B, 5)).copy(),
        size=np.broadcast_to([1280, 720], (B, 2)).copy(),
    )


def _camera_batch(c: dict) -> CameraBatch:
    return CameraBatch(
        K=torch.tensor(c["K"]),
        R=torch.tensor(c["R"]),
        t=torch.tensor(c["t"]),
        image_size=torch.tensor(c["size"]),
        dist=torch.tensor(c["dist"]),
    )


def _reference_project(p: np.ndarray, c: dict) -> np.ndarray:
    """Independent OpenCV-model projection in float64 numpy: (B, N, 3) world -> (B, N, 2)."""
    X = np.einsum("bij,bnj->bni", c["R"], p) + c["t"][:, None]
    x, y = X[..., 0] / X[..., 2], X[..., 1] / X[..., 2]
    k1, k2, p1, p2, k3 = (c["dist"][:, i, None] for i in range(5))
    r2 = x**2 + y**2
    rad = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x**2)
    yd = y * rad + p1 * (r2 + 2 * y**2) + 2 * p2 * x * y
    K = c["K"]
    u = K[:, 0, 0, None] * xd + K[:, 0, 1, None] * yd + K[:, 0, 2, None]
    v = K[:, 1, 1, None] * yd + K[:, 1, 2, None]
    return np.stack([u, v], -1)


def _reference_mesh(spec: BodyModelSpec, p: BodyParams):
    """Full-mesh vertices and joints from the ``smplx`` package's own forward pass, float64."""
    model = synthetic_model(spec)
    with torch.no_grad():
        out = model(
            betas=p.betas, global_orient=p.global_orient, body_pose=p.body_pose.reshape(B, -1),
            jaw_pose=p.jaw_pose, leye_pose=p.leye_pose, reye_pose=p.reye_pose,
            left_hand_pose=p.left_hand_pose, right_hand_pose=p.right_hand_pose,
            transl=p.transl, expression=p.expression,
        )  # fmt: skip
    return out.vertices.numpy(), out.joints[:, :55].numpy(), model.faces.astype(np.int64)


def _with_face_marker():
    """The shipped set plus a barycentric face point (tests the third definition kind)."""
    ms = load_marker_set()
    extra = MarkerDef("face_point", "face", 1234, (0.2, 0.3, 0.5))
    return marker_set_from_defs("t", ms.markers + (extra,), ms.skeleton)


SPECS = [
    BodyModelSpec("neutral", num_betas=11, use_pca=False, flat_hand_mean=True),  # BEDLAM
    BodyModelSpec("female", num_betas=10, use_pca=True, num_pca_comps=12, flat_hand_mean=False),
]


@pytest.mark.parametrize(
    ("spec", "dtype"),
    [(SPECS[0], torch.float32), (SPECS[1], torch.float32), (SPECS[1], torch.float64)],
    ids=["flat-full-11betas-f32", "pca12-mean-10betas-f32", "pca12-mean-10betas-f64"],
)
def test_keypoints_match_full_smplx_reference(spec, dtype) -> None:
    ms = _with_face_marker()
    params = _params(spec, seed=1)
    cams = _cameras(seed=2)
    verts, joints, faces = _reference_mesh(spec, params)
    pts = np.empty((B, ms.num_keypoints, 3))
    for k, m in enumerate(ms.markers):
        if m.kind == "vertex":
            pts[:, k] = verts[:, m.index]
        elif m.kind == "joint":
            pts[:, k] = joints[:, m.index]
        else:
            pts[:, k] = np.einsum("i,bij->bj", m.bary, verts[:, faces[m.index]])
    expected = _reference_project(pts, cams)

    body = SkinnedSMPLX(synthetic_model(spec), dtype=dtype)
    ann = Annotator(body, ms, occlusion=False, exact_bbox=True)(params, _camera_batch(cams))
    in_view = ann.keypoints[..., 2] > 0
    assert in_view.mean() > 0.9
    err = np.abs(ann.keypoints[..., :2] - expected)[in_view]
    assert err.max() < 1e-3, err.max()
    # v = 0 exactly where the reference projection leaves the image
    inside = (expected >= 0).all(-1) & (expected < [1280, 720]).all(-1)
    np.testing.assert_array_equal(in_view, inside)
    # exact box = extent of the whole projected mesh, clipped to the image
    uv = _reference_project(verts, cams)
    box = np.concatenate([uv.min(1).clip(0, None), uv.max(1)], 1)
    box[:, 2:] = np.minimum(box[:, 2:], [1280, 720])
    np.testing.assert_allclose(ann.bbox, box, atol=1e-3)


def test_sparse_box_is_close_to_the_exact_box() -> None:
    spec = SPECS[0]
    params = _params(spec, seed=3)
    cams = _camera_batch(_cameras(seed=4, dist=False))
    body = SkinnedSMPLX(synthetic_model(spec), dtype=torch.float64)
    ms = load_marker_set()
    sparse = Annotator(body, ms, occlusion=False)
    exact = Annotator(body, ms, occlusion=False, exact_bbox=True)
    assert sparse.num_skinned < 0.15 * exact.num_skinned
    a, b = sparse(params, cams), exact(params, cams)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-6)
    size = (b.bbox[:, 2:] - b.bbox[:, :2]).max(1)
    # never larger than the exact box, and at most 2 % of its size smaller
    assert (a.bbox[:, :2] >= b.bbox[:, :2] - 1e-6).all() and (
        a.bbox[:, 2:] <= b.bbox[:, 2:] + 1e-6
    ).all()
    assert (np.abs(a.bbox - b.bbox).max(1) / size).max() < 0.02


def _front_view(body: SkinnedSMPLX, ms, eye, occlusion=True, target=(0.0, -0.1, 0.0)):
    z = torch.zeros
    p = BodyParams(betas=z(1, 11), global_orient=z(1, 3), body_pose=z(1, 21, 3),
                   jaw_pose=z(1, 3), leye_pose=z(1, 3), reye_pose=z(1, 3),
                   left_hand_pose=z(1, 45), right_hand_pose=z(1, 45), transl=z(1, 3))  # fmt: skip
    R, t = _look_at(np.asarray(eye, float), np.asarray(target, float))
    cams = CameraBatch(
        K=torch.tensor([[[900.0, 0, 640], [0, 900, 360], [0, 0, 1]]]),
        R=torch.tensor(R[None]), t=torch.tensor(t[None]), image_size=torch.tensor([[1280, 720]]),
    )  # fmt: skip
    ann = Annotator(body, ms, occlusion=occlusion)(p, cams)
    return {n: int(v) for n, v in zip(ms.names, ann.keypoints[0, :, 2], strict=True)}


def test_back_markers_are_occluded_from_the_front_and_visible_from_behind() -> None:
    body = SkinnedSMPLX(synthetic_model(SPECS[0]), dtype=torch.float32)
    ms = load_marker_set()
    front = _front_view(body, ms, [0.0, 0.2, 3.5])
    back = _front_view(body, ms, [0.0, 0.2, -3.5])
    for name in ("C7", "T6", "T11", "L2", "l_PSIS", "r_PSIS", "l_calc", "r_calc"):
        assert (front[name], back[name]) == (1, 2), name
    for name in ("sternum", "l_ASIS", "r_ASIS", "nose", "l_toe", "l_5meta"):
        assert (front[name], back[name]) == (2, 1), name
    # without the depth test every in-image keypoint is visible
    assert set(_front_view(body, ms, [0.0, 0.2, 3.5], occlusion=False).values()) == {2}


def test_medial_knee_hidden_by_the_other_leg_from_the_side() -> None:
    body = SkinnedSMPLX(synthetic_model(SPECS[0]), dtype=torch.float32)
    left_side = _front_view(body, load_marker_set(), [3.5, -0.4, 0.0])
    assert left_side["l_knee"] == 2  # lateral left knee faces the camera
    assert left_side["l_mknee"] == 1  # medial left knee faces the right leg
    assert left_side["r_knee"] == 1  # lateral right knee is behind both legs


def test_out_of_image_marker_gets_v0() -> None:
    body = SkinnedSMPLX(synthetic_model(SPECS[0]), dtype=torch.float32)
    ms = load_marker_set()
    close = _front_view(body, ms, [0.0, -0.85, 1.0], target=(0.0, -0.9, 0.0))  # feet only
    assert close["nose"] == 0 and close["C7"] == 0
    assert close["l_toe"] == 2


def test_occlusion_query_on_two_triangles() -> None:
    # a near triangle (z=1) covering pixel (0.25, 0.25) and a far one (z=2) covering both
    mesh_uv = torch.tensor(
        [[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-5.0, -5.0], [5.0, -5.0], [0.0, 5.0]]]
    )
    mesh_z = torch.tensor([[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]])
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    kp_uv = torch.tensor([[[0.25, 0.25], [0.25, 0.25], [1.0, 1.0], [1.0, 1.0], [0.25, 0.25]]])
    kp_z = torch.tensor([[1.5, 1.005, 2.5, 1.5, 3.0]])
    occ = occluded_by_mesh(kp_uv, kp_z, mesh_uv, mesh_z, faces, tol_m=0.01)
    assert occ.tolist() == [[True, False, True, False, True]]


def test_rigid_align_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(0)
    src = torch.tensor(rng.standard_normal((2, 55, 3)))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.linalg.det(q))
    dst = src @ torch.tensor(q).T + torch.tensor([0.5, -1.0, 2.0])
    R, t = rigid_align(src, dst)
    np.testing.assert_allclose(R[0].numpy(), q, atol=1e-10)
    np.testing.assert_allclose(t[1].numpy(), [0.5, -1.0, 2.0], atol=1e-10)
