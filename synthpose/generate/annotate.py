"""From SMPL-X parameters and cameras to 2D keypoints with visibility and person boxes.

The numeric core of ``ocb generate-dataset``: no file I/O, batched over frames in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from synthpose.generate.body_model import BodyParams, SkinnedSMPLX, bbox_support_vertices
from synthpose.generate.projection import apply_affine, bbox_from_points, project, to_camera
from synthpose.generate.visibility import DEFAULT_TOL_M, occluded_by_mesh
from synthpose.markers import MarkerSet, check_ranges

#: COCO visibility flags
V_OUTSIDE, V_OCCLUDED, V_VISIBLE = 0, 1, 2


@dataclass
class CameraBatch:
    """Per-frame cameras of B frames (torch tensors).

    Attributes:
        K: (B, 3, 3) intrinsics, pixels.
        R: (B, 3, 3) world->camera rotation.
        t: (B, 3) world->camera translation, metres.
        image_size: (B, 2) width, height of the image the camera projects into.
        dist: (B, 5) OpenCV distortion or None.
        affine: (B, 2, 3) map from projected pixels to the stored image's pixels (e.g. a
            90-degree rotation), or None.
        out_size: (B, 2) width, height of the stored image (``image_size`` if None).
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    image_size: torch.Tensor
    dist: torch.Tensor | None = None
    affine: torch.Tensor | None = None
    out_size: torch.Tensor | None = None

    def to(self, device: torch.device, dtype: torch.dtype) -> CameraBatch:
        def c(x):
            return None if x is None else x.to(device=device, dtype=dtype)

        return CameraBatch(
            K=c(self.K),
            R=c(self.R),
            t=c(self.t),
            image_size=self.image_size.to(device),
            dist=c(self.dist),
            affine=c(self.affine),
            out_size=None if self.out_size is None else self.out_size.to(device),
        )


@dataclass
class Annotations:
    """Annotations of B frames (numpy).

    Attributes:
        keypoints: (B, K, 3) pixel x, y (stored image) and COCO visibility v in {0, 1, 2}.
        bbox: (B, 4) x1, y1, x2, y2 of the projected body, clipped to the image, pixels.
        valid: (B,) True where the box is non-empty (the body is at least partly in view).
        points_cam: (B, K, 3) keypoints in camera coordinates, metres.
    """

    keypoints: np.ndarray
    bbox: np.ndarray
    valid: np.ndarray
    points_cam: np.ndarray


def rigid_align(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares rotation R and translation t with ``R @ src + t ~= dst`` (Kabsch).

    Args:
        src, dst: (B, N, 3) corresponding points.

    Returns:
        R (B, 3, 3) proper rotations and t (B, 3).
    """
    cs, cd = src.mean(1, keepdim=True), dst.mean(1, keepdim=True)
    H = (src - cs).transpose(1, 2) @ (dst - cd)  # (B, 3, 3)
    U, _, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(Vh.transpose(1, 2) @ U.transpose(1, 2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1))
    R = Vh.transpose(1, 2) @ D @ U.transpose(1, 2)
    t = cd[:, 0] - (R @ cs[:, 0, :, None])[..., 0]
    return R, t


class Annotator:
    """Keypoints, visibility and boxes of SMPL-X bodies for one marker set and body model.

    Only the vertices that are needed are skinned: the markers' vertices plus a sparse
    bounding-box support subset (:func:`bbox_support_vertices`); the whole mesh only when
    occlusion is tested or exact boxes are requested.

    Args:
        body: skinning model.
        markers: marker set (indices are checked against the model).
        occlusion: test self-occlusion against the posed mesh (v=1 for hidden keypoints).
        exact_bbox: box from the whole mesh even without occlusion.
        occlusion_tol_m: depth tolerance of the occlusion test, metres.
        bbox_tol_m: angular-sampling tolerance of the sparse box subset, metres.
    """

    def __init__(
        self,
        body: SkinnedSMPLX,
        markers: MarkerSet,
        occlusion: bool = True,
        exact_bbox: bool = False,
        occlusion_tol_m: float = DEFAULT_TOL_M,
        bbox_tol_m: float = 0.01,
    ) -> None:
        self.body = body
        self.markers = markers
        self.occlusion = occlusion
        self.occlusion_tol_m = occlusion_tol_m
        faces = body.faces.cpu().numpy()
        check_ranges(markers, body.num_vertices, len(faces), 55)
        self.full_mesh = occlusion or exact_bbox
        mesh_kp = [i for i, m in enumerate(markers.markers) if m.kind != "joint"]
        self.joint_kp = torch.tensor(
            [i for i, m in enumerate(markers.markers) if m.kind == "joint"], dtype=torch.long
        )
        self.joint_ids = torch.tensor(
            [m.index for m in markers.markers if m.kind == "joint"], dtype=torch.long
        )
        # vertex ids each mesh keypoint needs, with their weights
        kp_vids, kp_w = [], []
        for i in mesh_kp:
            m = markers.markers[i]
            if m.kind == "vertex":
                kp_vids.append([m.index])
                kp_w.append([1.0])
            else:
                kp_vids.append(list(faces[m.index]))
                kp_w.append(list(m.bary))
        needed = np.unique(np.concatenate([np.asarray(v) for v in kp_vids])) if kp_vids else []
        if self.full_mesh:
            ids = np.arange(body.num_vertices)
            self.box_cols = None
        else:
            support = bbox_support_vertices(
                body.v_template.cpu().numpy(), body.lbs_weights.cpu().numpy(), bbox_tol_m
            )
            ids = np.unique(np.concatenate([np.asarray(needed, dtype=int), support]))
            self.box_cols = torch.as_tensor(np.searchsorted(ids, support), device=body.device)
        self.subset = body.subset(None if self.full_mesh else ids)
        col = {int(v): c for c, v in enumerate(ids)}
        M = torch.zeros((len(mesh_kp), len(ids)), dtype=body.dtype)
        for r, (vids, ws) in enumerate(zip(kp_vids, kp_w, strict=True)):
            for v, w in zip(vids, ws, strict=True):
                M[r, col[int(v)]] += w
        # a keypoint touches at most 3 columns: gather instead of a dense matmul
        nz = [torch.nonzero(M[r]).flatten() for r in range(len(mesh_kp))]
        width = max((len(n) for n in nz), default=1)
        self.mesh_cols = torch.zeros((len(mesh_kp), width), dtype=torch.long)
        self.mesh_w = torch.zeros((len(mesh_kp), width), dtype=body.dtype)
        for r, n in enumerate(nz):
            self.mesh_cols[r, : len(n)] = n
            self.mesh_w[r, : len(n)] = M[r, n]
        self.mesh_kp = torch.tensor(mesh_kp, dtype=torch.long)
        dev = body.device
        for name in ("joint_kp", "joint_ids", "mesh_cols", "mesh_w", "mesh_kp"):
            setattr(self, name, getattr(self, name).to(dev))
        self.num_skinned = len(ids)
        # Joint keypoints lie inside the body: their own segment's skin is always in front of
        # them.  They are tested with a larger tolerance, 1.5 x their depth below the template
        # surface (an approximation; surface keypoints use ``occlusion_tol_m`` alone).
        tol = torch.full((markers.num_keypoints,), occlusion_tol_m, dtype=body.dtype)
        if len(self.joint_ids):
            J = body.J_template[self.joint_ids]
            depth = torch.cdist(J, body.v_template).amin(dim=1)
            tol[self.joint_kp.cpu()] += 1.5 * depth.to(tol.dtype).cpu()
        self.kp_tol = tol.to(dev)

    @torch.no_grad()
    def world_points(
        self, params: BodyParams, align_to: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 3) and skinned subset vertices (B, S, 3), metres, world frame.

        ``align_to`` (B, 55, 3): if given, the bodies are first moved rigidly so that their
        55 joints best fit these (Infinity/VisionFit armatures).
        """
        body = self.body
        params = params.to(body.device, body.dtype)
        posed = body.pose(params)
        verts = body.skin(posed, self.subset)
        joints = posed["joints"]
        if align_to is not None:
            R, t = rigid_align(joints, align_to.to(body.device, body.dtype))
            verts = verts @ R.transpose(1, 2) + t[:, None]
            joints = joints @ R.transpose(1, 2) + t[:, None]
        B = verts.shape[0]
        kp = verts.new_empty((B, self.markers.num_keypoints, 3))
        kp[:, self.mesh_kp] = (verts[:, self.mesh_cols] * self.mesh_w[None, :, :, None]).sum(2)
        kp[:, self.joint_kp] = joints[:, self.joint_ids]
        return kp, verts

    @torch.no_grad()
    def __call__(
        self, params: BodyParams, cams: CameraBatch, align_to: torch.Tensor | None = None
    ) -> Annotations:
        """Annotate B bodies seen by B cameras."""
        body = self.body
        cams = cams.to(body.device, body.dtype)
        kp, verts = self.world_points(params, align_to)
        kp_cam = to_camera(kp, cams.R, cams.t)
        kp_uv = project(kp_cam, cams.K, cams.dist)
        box_pts = verts if self.box_cols is None else verts[:, self.box_cols]
        box_cam = to_camera(box_pts, cams.R, cams.t)
        box_uv = project(box_cam, cams.K, cams.dist)
        if self.occlusion:
            occluded = occluded_by_mesh(
                kp_uv, kp_cam[..., 2], box_uv, box_cam[..., 2], body.faces, self.kp_tol
            )
        else:
            occluded = torch.zeros(kp_uv.shape[:2], dtype=torch.bool, device=kp_uv.device)
        out_size = cams.image_size if cams.out_size is None else cams.out_size
        kp_uv = apply_affine(kp_uv, cams.affine)
        box_uv = apply_affine(box_uv, cams.affine)
        size = out_size.to(kp_uv.dtype)[:, None, :]
        inside = (
            torch.isfinite(kp_uv).all(-1)
            & (kp_uv >= 0).all(-1)
            & (kp_uv < size).all(-1)
            & (kp_cam[..., 2] > 0)
        )
        vis = torch.where(
            inside,
            torch.where(occluded, V_OCCLUDED, V_VISIBLE),
            torch.full_like(occluded, V_OUTSIDE, dtype=torch.long),
        )
        bbox = bbox_from_points(box_uv, out_size)
        valid = (bbox[:, 2] > bbox[:, 0]) & (bbox[:, 3] > bbox[:, 1])
        keypoints = torch.cat([torch.nan_to_num(kp_uv), vis[..., None].to(kp_uv.dtype)], dim=-1)
        return Annotations(
            keypoints=keypoints.cpu().double().numpy(),
            bbox=bbox.cpu().double().numpy(),
            valid=valid.cpu().numpy(),
            points_cam=kp_cam.cpu().double().numpy(),
        )
