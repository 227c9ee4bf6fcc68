"""``PoseDataSample``: the per-instance data container MMPose passes between pipeline and model.

A light subclass of mmengine's ``BaseDataElement`` with MMPose's field names:

- ``gt_instances`` (``InstanceData``): ``bboxes (1,4)``, ``bbox_scores (1,)``,
  ``keypoints (1,K,2)``, ``keypoints_visible (1,K)``, ...
- ``gt_instance_labels`` (``InstanceData``): training labels, e.g. ``keypoint_weights (1,K)``.
- ``gt_fields`` (``PixelData``): ``heatmaps (K,h,w)``.
- ``pred_instances`` (``InstanceData``): ``keypoints (1,K,2)`` image pixels,
  ``keypoint_scores (1,K)``.
- ``pred_fields`` (``PixelData``): optional predicted ``heatmaps``.
- metainfo: ``input_size (w,h)``, ``input_center (2,)``, ``input_scale (2,)``,
  ``flip_indices``, ``img_path``, ``ori_shape``, ...
"""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData, PixelData


class PoseDataSample(BaseDataElement):
    """Data sample of one top-down instance (see module docstring for the fields)."""

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instances", dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self) -> None:
        del self._gt_instances

    @property
    def gt_instance_labels(self) -> InstanceData:
        return self._gt_instance_labels

    @gt_instance_labels.setter
    def gt_instance_labels(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instance_labels", dtype=InstanceData)

    @gt_instance_labels.deleter
    def gt_instance_labels(self) -> None:
        del self._gt_instance_labels

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData) -> None:
        self.set_field(value, "_pred_instances", dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self) -> None:
        del self._pred_instances

    @property
    def gt_fields(self) -> PixelData:
        return self._gt_fields

    @gt_fields.setter
    def gt_fields(self, value: PixelData) -> None:
        self.set_field(value, "_gt_fields", dtype=type(value))

    @gt_fields.deleter
    def gt_fields(self) -> None:
        del self._gt_fields

    @property
    def pred_fields(self) -> PixelData:
        return self._pred_fields

    @pred_fields.setter
    def pred_fields(self, value: PixelData) -> None:
        self.set_field(value, "_pred_fields", dtype=PixelData)

    @pred_fields.deleter
    def pred_fields(self) -> None:
        del self._pred_fields


__all__ = ["InstanceData", "PixelData", "PoseDataSample"]
