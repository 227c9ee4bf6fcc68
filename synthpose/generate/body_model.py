"""SMPL-X loading (through the ``smplx`` package) and exact skinning of selected vertices.

Linear blend skinning is per vertex: a vertex's posed position depends only on its own rows of
the template, shape directions, pose correctives and skinning weights, plus the 55 joint
transforms.  The joints depend on the whole shaped mesh, but only linearly
(``J = J_regressor @ (v_template + shapedirs @ beta)``), so ``J_regressor @ v_template`` and
``J_regressor @ shapedirs`` are precomputed once.  :class:`SkinnedSMPLX` therefore skins any
vertex subset with exactly the arithmetic of ``smplx.lbs.lbs`` at a fraction of the cost.

The SMPL-X files need a licence: they are never shipped or downloaded; pass the folder holding
``SMPLX_{NEUTRAL,MALE,FEMALE}.{npz,pkl}`` (or its parent with a ``smplx/`` sub-folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from opencapbench.errors import OCBError

NUM_JOINTS = 55
NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15


class BodyModelError(OCBError, FileNotFoundError):
    """The SMPL-X model file is missing or unreadable (message says which and where)."""


@dataclass(frozen=True)
class BodyModelSpec:
    """How a source's parameters are meant to be read.

    Attributes:
        gender: ``"neutral"``, ``"male"`` or ``"female"``.
        num_betas: shape coefficients used (10 or 11, up to 300).
        use_pca: hand poses are PCA coefficients (else 45 axis-angle values per hand).
        num_pca_comps: PCA coefficients per hand when ``use_pca``.
        flat_hand_mean: if False, the model's mean hand pose is added (smplx convention).
        num_expression: expression coefficients.
    """

    gender: str = "neutral"
    num_betas: int = 10
    use_pca: bool = False
    num_pca_comps: int = 12
    flat_hand_mean: bool = True
    num_expression: int = 10


@dataclass
class BodyParams:
    """SMPL-X parameters of B bodies (torch tensors, radians / metres).

    Attributes:
        betas: (B, num_betas).
        global_orient: (B, 3) axis-angle of the pelvis.
        body_pose: (B, 21, 3) axis-angle of the body joints 1..21.
        jaw_pose, leye_pose, reye_pose: (B, 3).
        left_hand_pose, right_hand_pose: (B, 45) axis-angle or (B, num_pca_comps) PCA.
        transl: (B, 3) metres.
        expression: (B, num_expression) or None (zeros).
    """

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    jaw_pose: torch.Tensor
    leye_pose: torch.Tensor
    reye_pose: torch.Tensor
    left_hand_pose: torch.Tensor
    right_hand_pose: torch.Tensor
    transl: torch.Tensor
    expression: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.global_orient.shape[0])

    @classmethod
    def from_numpy(cls, dtype: torch.dtype = torch.float64, **arrays: np.ndarray) -> BodyParams:
        """Build from numpy arrays; missing jaw/eye/hand poses default to zero (45-D hands)."""
        n = len(arrays["global_orient"])
        out = {k: v for k, v in arrays.items() if v is not None}
        for k in ("jaw_pose", "leye_pose", "reye_pose"):
            out.setdefault(k, np.zeros((n, 3)))
        for k in ("left_hand_pose", "right_hand_pose"):
            out.setdefault(k, np.zeros((n, 45)))
        out["body_pose"] = np.asarray(out["body_pose"]).reshape(n, NUM_BODY_JOINTS, 3)
        return cls(**{k: torch.tensor(np.array(v), dtype=dtype) for k, v in out.items()})

    def slice(self, sl: slice | np.ndarray) -> BodyParams:
        kw = {k: (None if v is None else v[sl]) for k, v in self.__dict__.items()}
        return BodyParams(**kw)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> BodyParams:
        kw = {
            k: (None if v is None else v.to(device=device, dtype=dtype))
            for k, v in self.__dict__.items()
        }
        return BodyParams(**kw)


def find_model_file(smplx_dir: str | os.PathLike, gender: str) -> Path:
    """Locate ``SMPLX_<GENDER>.npz`` (or ``.pkl``) in ``smplx_dir`` or ``smplx_dir/smplx``."""
    root = Path(smplx_dir)
    if root.is_file():
        return root
    names = [f"SMPLX_{gender.upper()}.npz", f"SMPLX_{gender.upper()}.pkl"]
    for folder in (root, root / "smplx"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise BodyModelError(
        f"no SMPL-X {gender} model in {root} (looked for {', '.join(names)} there and in "
        f"{root / 'smplx'}); the files need a licence: https://smpl-x.is.tue.mpg.de"
    )


def check_model_npz(path: str | os.PathLike) -> None:
    """Refuse an ``.npz`` model file that holds object arrays before ``smplx`` opens it.

    ``smplx`` loads ``.npz`` files with ``allow_pickle=True``, so an object array in a
    downloaded file would be unpickled (and could run code).  The real SMPL-X files hold only
    numeric arrays.  Only the ``.npy`` headers are read (the dtype of every key), not the data.

    Raises:
        BodyModelError: naming the file and the first key that holds Python objects, or
            saying the file is not a readable ``.npz``.
    """
    import zipfile

    from numpy.lib import format as npy

    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as fh:
                    version = npy.read_magic(fh)
                    read_header = (
                        npy.read_array_header_1_0
                        if version == (1, 0)
                        else npy.read_array_header_2_0
                    )
                    _, _, dtype = read_header(fh)
                if dtype.hasobject:
                    key = member.removesuffix(".npy")
                    raise BodyModelError(
                        f"{path}: key {key!r} holds Python objects (dtype {dtype}); refused, "
                        "because loading it would unpickle them and could run code. The SMPL-X "
                        "release files hold only numeric arrays: download the model again."
                    )
    except BodyModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any read failure means a bad file
        raise BodyModelError(
            f"cannot load SMPL-X model {path}: not a readable .npz ({type(exc).__name__}: {exc})"
        ) from None


def load_smplx(smplx_dir: str | os.PathLike, spec: BodyModelSpec, dtype=torch.float32):
    """The ``smplx.SMPLX`` module for ``spec`` (batch size 1; used for its buffers).

    An ``.npz`` model file is first checked by :func:`check_model_npz` (no object arrays).
    """
    import smplx

    path = find_model_file(smplx_dir, spec.gender)
    if path.suffix.lower() == ".npz":
        check_model_npz(path)
    try:
        return smplx.SMPLX(
            str(path),
            gender=spec.gender,
            num_betas=spec.num_betas,
            use_pca=spec.use_pca,
            num_pca_comps=spec.num_pca_comps,
            flat_hand_mean=spec.flat_hand_mean,
            num_expression_coeffs=spec.num_expression,
            ext=path.suffix[1:],
            dtype=dtype,
        )
    except Exception as exc:  # smplx raises bare asserts / KeyErrors on bad files
        raise BodyModelError(f"cannot load SMPL-X model {path}: {exc!r}") from exc


def rodrigues(aa: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) from axis-angle vectors (..., 3), radians.

    ``R = I + sin(a) K + (1 - cos(a)) K^2`` with ``K`` the cross-product matrix of the axis,
    using the same angle regularisation (``|v + 1e-8|``) as ``smplx.lbs.batch_rodrigues``.
    """
    angle = torch.linalg.vector_norm(aa + 1e-8, dim=-1, keepdim=True)
    d = aa / angle
    s, c1 = torch.sin(angle)[..., None], (1 - torch.cos(angle))[..., None]
    x, y, z = d.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*d.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + s * K + c1 * (K @ K)


def kinematic_levels(parents: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints grouped by tree depth (root excluded): [(joint ids, their parents), ...]."""
    depth = np.zeros(len(parents), dtype=int)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return [
        (np.flatnonzero(depth == d), parents[np.flatnonzero(depth == d)])
        for d in range(1, depth.max() + 1)
    ]


def rigid_transforms(
    rot: torch.Tensor, joints: torch.Tensor, levels: list[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward kinematics, one batched product per tree level (not per joint).

    Args:
        rot: (B, J, 3, 3) local joint rotations.
        joints: (B, J, 3) rest joint positions.
        levels: from :func:`kinematic_levels` (as tensors).

    Returns:
        posed joints (B, J, 3) and skinning transforms (B, J, 3, 4) that map rest-pose points
        to posed points (the ``A`` of ``smplx.lbs``, last row dropped).
    """
    G_R = torch.empty_like(rot)
    G_t = torch.empty_like(joints)
    G_R[:, 0] = rot[:, 0]
    G_t[:, 0] = joints[:, 0]
    for ids, par in levels:
        Rp = G_R[:, par]
        rel = joints[:, ids] - joints[:, par]
        G_R[:, ids] = Rp @ rot[:, ids]
        G_t[:, ids] = (Rp @ rel[..., None])[..., 0] + G_t[:, par]
    t = G_t - (G_R @ joints[..., None])[..., 0]
    return G_t, torch.cat([G_R, t[..., None]], dim=-1)


@dataclass
class _Subset:
    """Per-vertex LBS data of a vertex subset (rows of the full arrays)."""

    ids: torch.Tensor  # (S,)
    v_template: torch.Tensor  # (S, 3)
    shapedirs: torch.Tensor  # (S, 3, L)
    posedirs: torch.Tensor  # (486, S*3)
    weights: torch.Tensor  # (S, 55)


class SkinnedSMPLX:
    """Exact SMPL-X skinning of vertex subsets, batched over bodies, on CPU or CUDA.

    Args:
        model: a loaded ``smplx.SMPLX`` (its buffers are copied).
        device: torch device.
        dtype: computation dtype (float32 default; float64 for reference checks).
    """

    def __init__(self, model, device: str | torch.device = "cpu", dtype=torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype

        def t(x: torch.Tensor) -> torch.Tensor:
            return x.detach().to(device=self.device, dtype=dtype)

        self.num_betas = int(model.shapedirs.shape[-1])
        self.num_expression = int(model.expr_dirs.shape[-1])
        self.v_template = t(model.v_template)
        self.shapedirs = t(torch.cat([model.shapedirs, model.expr_dirs], dim=-1))
        self.posedirs = t(model.posedirs)
        self.lbs_weights = t(model.lbs_weights)
        self.J_regressor = t(model.J_regressor)
        self.parents = model.parents.detach().to(self.device)
        self.levels = [
            (torch.as_tensor(i, device=self.device), torch.as_tensor(p, device=self.device))
            for i, p in kinematic_levels(model.parents.cpu().numpy())
        ]
        self.faces = model.faces_tensor.detach().to(self.device)
        self.pose_mean = t(model.pose_mean)
        self.use_pca = bool(model.use_pca)
        if self.use_pca:
            self.left_components = t(model.left_hand_components)
            self.right_components = t(model.right_hand_components)
        self.J_template = self.J_regressor @ self.v_template  # (55, 3)
        self.J_shapedirs = torch.einsum("jv,vcl->jcl", self.J_regressor, self.shapedirs)
        self.num_vertices = int(self.v_template.shape[0])
        self._full: _Subset | None = None

    def subset(self, vertex_ids: np.ndarray | torch.Tensor | None) -> _Subset:
        """Precompute the LBS rows of ``vertex_ids`` (None: the whole mesh)."""
        if vertex_ids is None:
            if self._full is None:  # the full arrays themselves, no gather
                self._full = _Subset(
                    ids=torch.arange(self.num_vertices, device=self.device),
                    v_template=self.v_template,
                    shapedirs=self.shapedirs,
                    posedirs=self.posedirs,
                    weights=self.lbs_weights,
                )
            return self._full
        ids = torch.as_tensor(np.asarray(vertex_ids), dtype=torch.long, device=self.device)
        rows = (ids[:, None] * 3 + torch.arange(3, device=self.device)).reshape(-1)
        return _Subset(
            ids=ids,
            v_template=self.v_template[ids],
            shapedirs=self.shapedirs[ids],
            posedirs=self.posedirs[:, rows],
            weights=self.lbs_weights[ids],
        )

    def full_pose(self, p: BodyParams) -> torch.Tensor:
        """(B, 55, 3) axis-angle: hands decoded from PCA and the mean hand added, as smplx does."""
        lh, rh = p.left_hand_pose, p.right_hand_pose
        if self.use_pca:
            lh = lh @ self.left_components
            rh = rh @ self.right_components
        b = p.batch_size
        pose = torch.cat(
            [
                p.global_orient.reshape(b, 1, 3),
                p.body_pose.reshape(b, NUM_BODY_JOINTS, 3),
                p.jaw_pose.reshape(b, 1, 3),
                p.leye_pose.reshape(b, 1, 3),
                p.reye_pose.reshape(b, 1, 3),
                lh.reshape(b, NUM_HAND_JOINTS, 3),
                rh.reshape(b, NUM_HAND_JOINTS, 3),
            ],
            dim=1,
        )
        return pose + self.pose_mean.reshape(1, NUM_JOINTS, 3)

    def pose(self, p: BodyParams) -> dict[str, torch.Tensor]:
        """Joint transforms of B bodies.

        Returns:
            dict with ``shape`` (B, L) shape+expression coefficients, ``pose_feature``
            (B, 486), ``A`` (B, 55, 3, 4) skinning transforms, ``joints`` (B, 55, 3) posed
            joints in metres (translation included) and ``transl`` (B, 3).
        """
        b = p.batch_size
        betas = p.betas[:, : self.num_betas]
        if betas.shape[1] < self.num_betas:
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))
        expr = p.expression
        if expr is None:
            expr = betas.new_zeros((b, self.num_expression))
        else:
            expr = expr[:, : self.num_expression]
        shape = torch.cat([betas, expr], dim=1)
        J = self.J_template + torch.einsum("bl,jcl->bjc", shape, self.J_shapedirs)
        rot = rodrigues(self.full_pose(p))  # (B, 55, 3, 3)
        ident = torch.eye(3, dtype=self.dtype, device=self.device)
        pose_feature = (rot[:, 1:] - ident).reshape(b, -1)
        joints, A = rigid_transforms(rot, J, self.levels)
        transl = p.transl.reshape(b, 3)
        return dict(
            shape=shape,
            pose_feature=pose_feature,
            A=A,
            joints=joints + transl[:, None],
            transl=transl,
        )

    def skin(self, posed: dict[str, torch.Tensor], sub: _Subset) -> torch.Tensor:
        """Posed positions (B, S, 3), metres, of the subset's vertices (exact LBS)."""
        b = posed["shape"].shape[0]
        n = sub.ids.shape[0]
        v = sub.v_template + torch.einsum("bl,scl->bsc", posed["shape"], sub.shapedirs)
        v = v + (posed["pose_feature"] @ sub.posedirs).reshape(b, n, 3)
        T = sub.weights @ posed["A"].reshape(b, 1, NUM_JOINTS, 12)[:, 0]  # (B, S, 12)
        out = torch.stack(
            [(T[..., 4 * i : 4 * i + 3] * v).sum(-1) + T[..., 4 * i + 3] for i in range(3)], dim=-1
        )
        return out + posed["transl"][:, None]


def bbox_support_vertices(
    v_template: np.ndarray, lbs_weights: np.ndarray, tol_m: float = 0.01, max_directions: int = 48
) -> np.ndarray:
    """A sparse vertex subset whose projection bounds the projection of the whole mesh.

    Each vertex is grouped with its dominant skinning joint; within each group the vertices
    that are extreme along D directions (a Fibonacci sphere) are kept, with D chosen from the
    group's radius R so that a rigid group's support is missed by at most about ``tol_m``
    (``D = pi R / (2 tol)``, clipped to 6..``max_directions``).  A rigidly moving group projects
    (near-orthographically) to a box touched by such support points, so the subset's box is
    exact up to this angular sampling and to the non-rigid parts of LBS (joint blending, pose
    correctives).  It is NOT exact: ``benchmarks/generate_speed.py`` measures the error; use
    exact full-mesh boxes (``--exact-bbox`` or occlusion on) when that matters.

    Args:
        v_template: (V, 3) template vertices, metres.
        lbs_weights: (V, J) skinning weights.
        tol_m: target support error per rigid group, metres.
        max_directions: cap on D.

    Returns:
        sorted unique vertex indices (S,).
    """
    group = np.argmax(lbs_weights, axis=1)
    keep = []
    for j in np.unique(group):
        ids = np.flatnonzero(group == j)
        pts = v_template[ids]
        radius = float(np.max(np.linalg.norm(pts - pts.mean(0), axis=1)))
        n = int(np.clip(np.ceil(np.pi * radius / (2 * tol_m)), 6, max_directions))
        k = np.arange(n) + 0.5
        phi = np.arccos(1 - 2 * k / n)
        theta = np.pi * (1 + 5**0.5) * k
        dirs = np.stack(
            [np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1
        )
        keep.append(ids[np.argmax(pts @ dirs.T, axis=0)])
    return np.unique(np.concatenate(keep))
