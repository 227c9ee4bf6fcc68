"""MMPose-compatible top-down heatmap pose models in plain PyTorch.

Submodules: ``registry`` (mmengine registries, scope ``'mmpose'``), ``structures``
(``PoseDataSample``), ``codecs`` (``MSRAHeatmap``, ``UDPHeatmap``), ``models`` (``HRNet``,
``HeatmapHead``, ``KeypointMSELoss``, ``PoseDataPreprocessor``, ``TopdownPoseEstimator``),
``transforms`` (``LoadImage``, ``GetBBoxCenterScale``, ``TopdownAffine``, ``PackPoseInputs``),
``checkpoint`` (safe loading/saving of MMPose checkpoints), ``builder`` (model from an
MMPose config) and ``api`` (``PoseModel`` for batched inference).  Nothing here needs mmcv,
mmdet or mmpose.
"""
