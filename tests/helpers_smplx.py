"""A structurally valid synthetic SMPL-X model file, for tests (the real files need a licence).

:func:`write_synthetic_smplx` writes ``SMPLX_<GENDER>.npz`` with the keys, shapes and dtypes the
``smplx`` package reads from the real SMPL-X release: ``v_template (10475,3)``,
``f (20908,3)``, ``J_regressor (55,10475)``, ``weights (10475,55)``, ``kintree_table (2,55)``
(the real SMPL-X joint tree), ``shapedirs (10475,3,400)`` (300 shape + 100 expression
directions), ``posedirs (10475,3,486)``, ``hands_components{l,r} (45,45)``,
``hands_mean{l,r} (45,)``, ``lmk_faces_idx (51,)``, ``lmk_bary_coords (51,3)``.

The mesh is a body-like union of closed elliptic capsules (pelvis, three torso segments, neck,
head, jaw, eyes, collar bones, arms, palms, 15 finger phalanges per hand, legs, feet, toes)
in the SMPL-X template frame (metres, +y up, +x the subject's left, +z forward), exactly
left/right mirror-symmetric.  The vertices named by the shipped marker file are placed at the
matching anatomical spots (lateral knee on the lateral thigh surface, C7 on the back of the
neck, ...), with every left/right marker pair at mirrored positions, so that occlusion and
symmetry checks mean something.  Vertices that no marker needs fill the other indices; a few
interior filler vertices (used by no face) and duplicated faces pad the counts to the real
10475 / 20908.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree

NUM_VERTICES = 10475
NUM_FACES = 20908
NUM_JOINTS = 55

#: SMPL-X parent of each of the 55 joints (-1 for the pelvis).
SMPLX_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
     20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
     21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]
)  # fmt: skip

# Joint positions in the template frame (metres); right joints mirror the left ones.
_MID_JOINTS = {
    0: (0.0, 0.0, 0.0),  # pelvis
    3: (0.0, 0.11, -0.01),  # spine1
    6: (0.0, 0.24, 0.0),  # spine2
    9: (0.0, 0.31, 0.01),  # spine3
    12: (0.0, 0.50, -0.02),  # neck
    15: (0.0, 0.60, 0.0),  # head
    22: (0.0, 0.575, 0.03),  # jaw
}
_LEFT_JOINTS = {
    1: (0.085, -0.07, 0.0),  # hip
    4: (0.10, -0.48, 0.01),  # knee
    7: (0.11, -0.88, -0.03),  # ankle
    10: (0.12, -0.935, 0.10),  # foot (toe base)
    13: (0.06, 0.45, -0.01),  # collar
    16: (0.18, 0.46, -0.02),  # shoulder
    18: (0.44, 0.45, -0.03),  # elbow
    20: (0.68, 0.45, -0.02),  # wrist
    23: (0.032, 0.66, 0.075),  # eye
}
# Finger chains of the left hand: (first joint, base position, direction); spacing 3 / 2.5 cm.
_FINGERS = {
    25: ((0.77, 0.447, 0.030), (1.0, 0.0, 0.0)),  # index
    28: ((0.775, 0.447, 0.008), (1.0, 0.0, 0.0)),  # middle
    31: ((0.755, 0.445, -0.038), (1.0, 0.0, 0.0)),  # pinky
    34: ((0.768, 0.446, -0.015), (1.0, 0.0, 0.0)),  # ring
    37: ((0.71, 0.44, 0.035), (0.6, -0.1, 0.79)),  # thumb
}
_RIGHT_OF = {1: 2, 4: 5, 7: 8, 10: 11, 13: 14, 16: 17, 18: 19, 20: 21, 23: 24}
_RIGHT_OF.update({j: j + 15 for j in range(25, 40)})


def _mirror(p) -> np.ndarray:
    p = np.array(p, dtype=float)
    p[..., 0] *= -1
    return p


def joint_positions() -> np.ndarray:
    """Template joint positions (55, 3), metres (what the synthetic J_regressor reproduces)."""
    J = np.zeros((NUM_JOINTS, 3))
    for j, p in _MID_JOINTS.items():
        J[j] = p
    for j, p in _LEFT_JOINTS.items():
        J[j] = p
    for j0, (base, direction) in _FINGERS.items():
        d = np.array(direction) / np.linalg.norm(direction)
        J[j0] = base
        J[j0 + 1] = J[j0] + 0.03 * d
        J[j0 + 2] = J[j0 + 1] + 0.025 * d
    for left, right in _RIGHT_OF.items():
        J[right] = _mirror(J[left])
    return J


@dataclass
class _Tube:
    """A closed capsule with an elliptic cross-section, skinned to ``joint``."""

    joint: int
    p0: np.ndarray
    p1: np.ndarray
    r1: float  # radius along e1 (perpendicular to the axis, "side")
    r2: float  # radius along e2 (perpendicular to the axis, towards +z or +y)
    end_joint: int = -1  # joint at p1, blended into the last 20 %


def _tubes() -> list[_Tube]:
    J = joint_positions()
    P = np.array
    mid = [
        _Tube(0, P((-0.125, -0.03, 0.0)), P((0.125, -0.03, 0.0)), 0.10, 0.095),  # pelvis
        _Tube(3, P((0.0, 0.02, -0.005)), P((0.0, 0.18, -0.005)), 0.14, 0.10, 6),
        _Tube(6, P((0.0, 0.17, 0.0)), P((0.0, 0.31, 0.0)), 0.15, 0.105, 9),
        _Tube(9, P((0.0, 0.30, 0.005)), P((0.0, 0.45, 0.0)), 0.165, 0.11, 12),
        _Tube(12, P((0.0, 0.46, -0.02)), P((0.0, 0.58, -0.01)), 0.055, 0.055, 15),
        _Tube(15, P((0.0, 0.60, 0.0)), P((0.0, 0.71, 0.01)), 0.08, 0.095),
        _Tube(22, P((0.0, 0.56, 0.04)), P((0.0, 0.56, 0.075)), 0.035, 0.02),  # jaw
    ]
    left = [
        _Tube(1, J[1], J[4], 0.08, 0.08, 4),
        _Tube(4, J[4], J[7], 0.055, 0.055, 7),
        _Tube(7, P((0.11, -0.905, -0.07)), J[10], 0.035, 0.03, 10),  # foot
        _Tube(10, J[10], P((0.12, -0.94, 0.165)), 0.035, 0.018),  # toes
        _Tube(13, P((0.03, 0.45, -0.01)), J[16], 0.05, 0.05, 16),
        _Tube(16, J[16], J[18], 0.05, 0.05, 18),
        _Tube(18, J[18], J[20], 0.04, 0.035, 20),
        _Tube(20, J[20], P((0.76, 0.445, 0.0)), 0.02, 0.048),  # palm
        _Tube(23, J[23], J[23] + P((0.0, 0.0, 0.012)), 0.012, 0.012),  # eye
    ]
    for j0, (_, direction) in _FINGERS.items():
        d = np.array(direction) / np.linalg.norm(direction)
        for k in range(3):
            a = J[j0 + k]
            b = J[j0 + k + 1] if k < 2 else J[j0 + 2] + 0.02 * d
            left.append(_Tube(j0 + k, a, b, 0.008, 0.008, j0 + k + 1 if k < 2 else -1))
    right = [
        _Tube(
            _RIGHT_OF[t.joint],
            _mirror(t.p0),
            _mirror(t.p1),
            t.r1,
            t.r2,
            _RIGHT_OF.get(t.end_joint, t.end_joint),
        )
        for t in left
    ]
    return mid + left + right


def _frame(t: _Tube) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    axis = t.p1 - t.p0
    length = float(np.linalg.norm(axis))
    d = axis / length
    ref = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e2 = ref - (ref @ d) * d
    e2 /= np.linalg.norm(e2)
    e1 = np.cross(d, e2)
    return d, e1, e2, length


def _tube_mesh(t: _Tube, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (n,3), faces (m,3), axial parameter (n,) and outward radial unit vectors (n,3)."""
    d, e1, e2, length = _frame(t)
    r = 0.5 * (t.r1 + t.r2)
    n_around = max(6, 2 * round(np.pi * r / h))  # even: keeps midline tubes mirror-symmetric
    n_body = max(2, round(length / h) + 1)
    n_cap = max(1, round(0.5 * np.pi * min(t.r1, t.r2) / h))
    cap = min(t.r1, t.r2)
    rings = []  # (axial position s, radial scale)
    for k in range(1, n_cap + 1):  # bottom cap, pole excluded
        th = 0.5 * np.pi * k / (n_cap + 1)
        rings.append((-cap * np.cos(th), np.sin(th)))
    rings += [(s, 1.0) for s in np.linspace(0.0, length, n_body)]
    for k in range(n_cap, 0, -1):
        th = 0.5 * np.pi * k / (n_cap + 1)
        rings.append((length + cap * np.cos(th), np.sin(th)))
    phi = 2 * np.pi * np.arange(n_around) / n_around
    cos, sin = np.cos(phi), np.sin(phi)
    verts, radial, s_list = [], [], []
    for s, scale in rings:
        ring = t.p0 + s * d + scale * (t.r1 * cos[:, None] * e1 + t.r2 * sin[:, None] * e2)
        verts.append(ring)
        rad = cos[:, None] * e1 / t.r1 + sin[:, None] * e2 / t.r2
        radial.append(rad / np.linalg.norm(rad, axis=1, keepdims=True))
        s_list.append(np.full(n_around, s))
    verts += [t.p0[None] - cap * d, t.p1[None] + cap * d]
    radial += [-d[None], d[None]]
    s_list += [[-cap], [length + cap]]
    V = np.concatenate(verts)
    n_rings = len(rings)
    faces = []
    for i in range(n_rings - 1):
        a = i * n_around + np.arange(n_around)
        b = i * n_around + (np.arange(n_around) + 1) % n_around
        faces += [np.stack([a, b, a + n_around], 1), np.stack([b, b + n_around, a + n_around], 1)]
    south, north = n_rings * n_around, n_rings * n_around + 1
    a = np.arange(n_around)
    b = (a + 1) % n_around
    faces.append(np.stack([np.full(n_around, south), b, a], 1))
    top = (n_rings - 1) * n_around
    faces.append(np.stack([np.full(n_around, north), top + a, top + b], 1))
    faces = np.concatenate(faces)[:, [0, 2, 1]]  # counter-clockwise seen from outside, as SMPL-X
    return V, faces, np.concatenate(s_list) / length, np.concatenate(radial)


def _inside(points: np.ndarray, t: _Tube, margin: float = 0.97) -> np.ndarray:
    """True for points strictly inside the capsule ``t`` (scaled by ``margin``)."""
    d, e1, e2, length = _frame(t)
    q = points - t.p0
    s = q @ d
    cap = min(t.r1, t.r2)
    over = np.where(s < 0, -s, np.where(s > length, s - length, 0.0)) / cap
    q = q - np.clip(s, 0, length)[:, None] * d
    rho = (q @ e1 / t.r1) ** 2 + (q @ e2 / t.r2) ** 2 + over**2
    return rho < margin**2


# Anatomical spots of the marker vertices (left side and midline; right = mirror), metres.
_MARKER_TARGETS = {
    "nose": (0.0, 0.645, 0.13),
    "left_eye": (0.035, 0.665, 0.12),
    "left_ear": (0.09, 0.65, 0.0),
    "sternum": (0.0, 0.37, 0.13),
    "lshoulder": (0.17, 0.52, -0.02),
    "l_lelbow": (0.44, 0.45, -0.085),
    "l_melbow": (0.44, 0.45, 0.025),
    "l_lwrist": (0.67, 0.45, 0.02),
    "l_mwrist": (0.67, 0.45, -0.06),
    "l_ASIS": (0.10, 0.0, 0.09),
    "l_PSIS": (0.05, 0.0, -0.10),
    "l_knee": (0.185, -0.48, 0.01),
    "l_mknee": (0.015, -0.48, 0.01),
    "l_ankle": (0.17, -0.88, -0.03),
    "l_mankle": (0.05, -0.88, -0.03),
    "l_5meta": (0.16, -0.935, 0.08),
    "l_toe": (0.12, -0.94, 0.20),
    "l_big_toe": (0.09, -0.94, 0.18),
    "l_calc": (0.11, -0.91, -0.11),
    "C7": (0.0, 0.50, -0.08),
    "T6": (0.0, 0.37, -0.115),
    "T11": (0.0, 0.25, -0.11),
    "L2": (0.0, 0.12, -0.105),
}


def _partner_name(name: str) -> str:
    for a, b in (("left_", "right_"), ("l_", "r_"), ("lshoulder", "rshoulder")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def build_synthetic_smplx(seed: int = 0, marker_vertices: dict[str, int] | None = None) -> dict:
    """Arrays of a synthetic SMPL-X model, keyed as in ``SMPLX_NEUTRAL.npz``.

    Args:
        seed: random seed of the shape/pose blend shapes and hand PCA.
        marker_vertices: marker name -> vertex index to place at its anatomical spot; default:
            the vertex markers of the shipped ``synthpose_markers_v1.yaml``.
    """
    rng = np.random.default_rng(seed)
    if marker_vertices is None:
        from synthpose.markers import load_marker_set

        marker_vertices = {m.name: m.index for m in load_marker_set().markers if m.kind == "vertex"}

    tubes = _tubes()
    h = 0.0232  # sampling step (m); gives ~10.4k vertices
    parts = [_tube_mesh(t, h) for t in tubes]
    verts, faces, s_par, radial, owner = [], [], [], [], []
    offset = 0
    for k, (V, F, s, rad) in enumerate(parts):
        verts.append(V)
        faces.append(F + offset)
        s_par.append(s)
        radial.append(rad)
        owner.append(np.full(len(V), k))
        offset += len(V)
    V = np.concatenate(verts)
    F = np.concatenate(faces)
    S = np.concatenate(s_par)
    R = np.concatenate(radial)
    owner = np.concatenate(owner)
    n_surf = len(V)
    if n_surf > NUM_VERTICES or len(F) > NUM_FACES:
        raise RuntimeError(f"synthetic mesh too fine: {n_surf} vertices, {len(F)} faces")

    tree = cKDTree(V)
    dist, mirror = tree.query(_mirror(V))
    if dist.max() > 1e-9:
        raise RuntimeError("synthetic mesh is not mirror-symmetric")
    exposed = np.ones(n_surf, bool)
    for k, t in enumerate(tubes):
        exposed &= ~(_inside(V, t) & (owner != k))

    # final index -> generated vertex
    order = np.full(NUM_VERTICES, -1)
    used = np.zeros(n_surf, bool)
    for name, target in _MARKER_TARGETS.items():
        cand = np.flatnonzero(exposed & ~used)
        src = cand[np.argmin(np.linalg.norm(V[cand] - np.array(target), axis=1))]
        partner = _partner_name(name)
        pairs = [(name, src)] + ([(partner, mirror[src])] if partner != name else [])
        for n, g in pairs:
            if n in marker_vertices:
                idx = marker_vertices[n]
                if order[idx] != -1:
                    raise RuntimeError(f"marker vertex {idx} ({n}) assigned twice")
                order[idx] = g
                used[g] = True
    free = np.flatnonzero(order == -1)
    rest = np.flatnonzero(~used)
    n_fill = NUM_VERTICES - n_surf
    order[free[: len(rest)]] = rest
    filler_slots = free[len(rest) :]
    # interior filler vertices on the midline inside the pelvis/torso, used by no face
    filler = np.stack([np.zeros(n_fill), np.linspace(-0.02, 0.3, n_fill), np.zeros(n_fill)], axis=1)
    gen_to_final = np.empty(n_surf, int)
    surf_slots = order >= 0
    gen_to_final[order[surf_slots]] = np.flatnonzero(surf_slots)

    v_template = np.zeros((NUM_VERTICES, 3))
    v_template[surf_slots] = V[order[surf_slots]]
    v_template[filler_slots] = filler
    faces_final = gen_to_final[F]
    pad = NUM_FACES - len(faces_final)
    faces_final = np.concatenate([faces_final, faces_final[:pad]])

    # skinning weights: tube joint, blended towards the joint at the tube's far end
    joint_of = np.zeros(NUM_VERTICES, int)
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS))
    s_final = np.zeros(NUM_VERTICES)
    radial_final = np.zeros((NUM_VERTICES, 3))
    for g in range(n_surf):
        i = gen_to_final[g]
        t = tubes[owner[g]]
        joint_of[i] = t.joint
        s_final[i] = S[g]
        radial_final[i] = R[g]
        w_end = 0.5 * np.clip((S[g] - 0.8) / 0.2, 0.0, 1.0) if t.end_joint >= 0 else 0.0
        weights[i, t.joint] = 1.0 - w_end
        if w_end > 0:
            weights[i, t.end_joint] += w_end
    weights[filler_slots, 0] = 1.0

    # joint regressor: non-negative affine weights over nearby surface vertices
    J = joint_positions()
    surf_idx = np.flatnonzero(surf_slots)
    surf_tree = cKDTree(v_template[surf_idx])
    J_regressor = np.zeros((NUM_JOINTS, NUM_VERTICES))
    for j in range(NUM_JOINTS):
        for k in (16, 32, 64, 128):
            _, nb = surf_tree.query(J[j], k=k)
            nb = surf_idx[nb]
            A = np.vstack([v_template[nb].T, 10.0 * np.ones(len(nb))])
            b = np.concatenate([J[j], [10.0]])
            w, res = nnls(A, b)
            if res < 1e-6:
                break
        else:
            raise RuntimeError(f"cannot regress joint {j}")
        J_regressor[j, nb] = w / w.sum()

    # shape space: 300 shape + 100 expression directions; only the first few are non-zero
    shapedirs = np.zeros((NUM_VERTICES, 3, 400), np.float32)
    shapedirs[:, :, 0] = 0.03 * v_template  # overall size
    shapedirs[:, :, 1] = 0.012 * radial_final  # girth
    part_shift = 0.004 * rng.standard_normal((NUM_JOINTS, 3, 9))
    shapedirs[:, :, 2:11] = part_shift[joint_of]
    head = np.isin(joint_of, [15, 22, 23, 24])
    shapedirs[head, :, 300:310] = 0.002 * rng.standard_normal((int(head.sum()), 3, 10))

    # pose correctives: each vertex reacts to the rotation of its joint and that joint's parent
    posedirs = np.zeros((NUM_VERTICES, 3, 486), np.float32)
    for i in range(NUM_VERTICES):
        j = joint_of[i]
        for jj in (j, SMPLX_PARENTS[j]):
            if jj >= 1:
                posedirs[i, :, 9 * (jj - 1) : 9 * jj] = 0.004 * rng.standard_normal((3, 9))

    def _hand_pca() -> tuple[np.ndarray, np.ndarray]:
        q, _ = np.linalg.qr(rng.standard_normal((45, 45)))
        return q.T.astype(np.float64), 0.15 * rng.standard_normal(45)

    comp_l, mean_l = _hand_pca()
    comp_r, mean_r = _hand_pca()
    head_faces = np.flatnonzero(head[faces_final].all(axis=1))
    lmk = rng.choice(head_faces, 51, replace=False)
    bary = rng.dirichlet(np.ones(3), 51)
    kintree = np.stack([SMPLX_PARENTS, np.arange(NUM_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # as in the released files (uint32 -1)
    return dict(
        v_template=v_template,
        f=faces_final.astype(np.int64),
        J_regressor=J_regressor,
        weights=weights,
        kintree_table=kintree,
        shapedirs=shapedirs,
        posedirs=posedirs,
        hands_componentsl=comp_l,
        hands_componentsr=comp_r,
        hands_meanl=mean_l,
        hands_meanr=mean_r,
        lmk_faces_idx=lmk.astype(np.int64),
        lmk_bary_coords=bary,
    )


def write_synthetic_smplx(
    folder: str | Path, genders: tuple[str, ...] = ("neutral",), seed: int = 0, **kwargs
) -> Path:
    """Write ``SMPLX_<GENDER>.npz`` files into ``folder`` and return the folder.

    Gendered files share the mesh; their template is scaled (male 1.04, female 0.96) so that
    a wrong gender choice is visible in the output.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = build_synthetic_smplx(seed=seed, **kwargs)
    scale = {"neutral": 1.0, "male": 1.04, "female": 0.96}
    for g in genders:
        out = dict(arrays)
        out["v_template"] = arrays["v_template"] * scale[g]
        np.savez_compressed(folder / f"SMPLX_{g.upper()}.npz", **out)
    return folder


@functools.lru_cache(maxsize=1)
def synthetic_smplx_dir() -> Path:
    """A process-wide temporary folder with synthetic neutral/male/female SMPL-X files."""
    folder = Path(tempfile.mkdtemp(prefix="ocb_synth_smplx_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return write_synthetic_smplx(folder, genders=("neutral", "male", "female"))


@functools.lru_cache(maxsize=8)
def synthetic_model(spec=None):
    """The ``smplx.SMPLX`` module (float64) of the synthetic model for a ``BodyModelSpec``."""
    import torch

    from synthpose.generate.body_model import BodyModelSpec, load_smplx

    return load_smplx(synthetic_smplx_dir(), spec or BodyModelSpec(), dtype=torch.float64)
