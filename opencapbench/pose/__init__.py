"""MMPose-compatible top-down heatmap pose models in plain PyTorch, cut by role as MMPose is.

Submodules: ``registry`` (mmengine registries, scope ``'mmpose'``), ``structures``
(``PoseDataSample``), ``codecs`` (``MSRAHeatmap``, ``UDPHeatmap``), ``models`` (``HRNet``,
``HeatmapHead``, ``KeypointMSELoss``, ``PoseDataPreprocessor``, ``TopdownPoseEstimator``),
``transforms`` (test: ``LoadImage``, ``GetBBoxCenterScale``, ``TopdownAffine``,
``PackPoseInputs``; training: ``RandomFlip``, ``RandomHalfBody``, ``RandomBBoxTransform``,
``KeypointConverter``, ``GenerateTarget``), ``datasets`` (``CocoDataset``/``SynthPoseDataset``,
``CombinedDataset``, ``MultiSourceSampler``, metainfo), ``evaluation`` (``PCKAccuracy``,
``CocoMetric``), ``engine`` (``AutocastOptimWrapper``), ``checkpoint`` (safe loading/saving of
MMPose checkpoints), ``builder`` (model from an MMPose config), ``api`` (``PoseModel`` for
batched inference) and ``configs`` (the registered models' configs, package data).  Nothing
here needs mmcv, mmdet or mmpose.
"""
