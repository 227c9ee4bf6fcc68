"""``PackPoseInputs``: pipeline results dict -> ``{"inputs": (3,H,W) tensor, "data_samples"}``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from opencapbench.pose.registry import TRANSFORMS
from opencapbench.pose.structures import InstanceData, PixelData, PoseDataSample
from opencapbench.pose.transforms.base import BaseTransform


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) array -> contiguous (C, H, W) tensor of the same dtype."""
    if img.ndim < 3:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackPoseInputs(BaseTransform):
    """Pack results into MMPose's model input format.

    ``gt_instances`` gets ``bboxes``, ``bbox_scores``, ``bbox_scales``, ``keypoints``,
    ``keypoints_visible``, ...; ``gt_instance_labels`` gets ``keypoint_weights`` (tensor);
    ``gt_fields`` gets ``heatmaps`` (tensor); ``metainfo`` gets ``meta_keys``.  A results dict
    may override the three tables with ``instance_mapping_table``, ``label_mapping_table``
    and ``field_mapping_table`` entries (as ``GenerateTarget`` does).
    """

    instance_mapping_table = {
        "bbox": "bboxes",
        "bbox_score": "bbox_scores",
        "bbox_scale": "bbox_scales",
        "head_size": "head_size",
        "keypoints": "keypoints",
        "keypoints_visible": "keypoints_visible",
    }
    label_mapping_table = {
        "keypoint_labels": "keypoint_labels",
        "keypoint_weights": "keypoint_weights",
        "keypoints_visible_weights": "keypoints_visible_weights",
    }
    field_mapping_table = {"heatmaps": "heatmaps", "heatmap_mask": "heatmap_mask"}

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            "id",
            "img_id",
            "img_path",
            "category_id",
            "crowd_index",
            "ori_shape",
            "img_shape",
            "input_size",
            "input_center",
            "input_scale",
            "flip",
            "flip_direction",
            "flip_indices",
            "raw_ann_info",
            "dataset_name",
        ),
        pack_transformed: bool = False,
    ) -> None:
        self.meta_keys = tuple(meta_keys)
        self.pack_transformed = pack_transformed

    def transform(self, results: dict) -> dict:
        packed: dict = {}
        if "img" in results:
            packed["inputs"] = image_to_tensor(results["img"])
        sample = PoseDataSample()

        gt_instances = InstanceData()
        for key, name in results.get("instance_mapping_table", self.instance_mapping_table).items():
            if key in results:
                gt_instances.set_field(results[key], name)
        if self.pack_transformed and "transformed_keypoints" in results:
            gt_instances.set_field(results["transformed_keypoints"], "transformed_keypoints")
        sample.gt_instances = gt_instances

        labels = InstanceData()
        for key, name in results.get("label_mapping_table", self.label_mapping_table).items():
            if key in results:
                value = results[key]
                labels.set_field(np.stack(value) if isinstance(value, list) else value, name)
        sample.gt_instance_labels = labels.to_tensor()

        fields = PixelData()
        for key, name in results.get("field_mapping_table", self.field_mapping_table).items():
            if key in results:
                fields.set_field(results[key], name)
        if len(fields.keys()) > 0:
            sample.gt_fields = fields.to_tensor()

        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        packed["data_samples"] = sample
        return packed
