"""SynthPose finetuning (``ocb finetune``): datasets, augmentations, metrics and the runner glue.

Importing this package registers its datasets (``SynthPoseDataset``, ``CocoDataset``,
``CombinedDataset``), transforms (``RandomFlip``, ``RandomHalfBody``, ``RandomBBoxTransform``,
``KeypointConverter``, ``GenerateTarget``), sampler (``MultiSourceSampler``) and metrics
(``PCKAccuracy``, ``CocoMetric``) and the bf16 ``AutocastOptimWrapper`` in the toolkit's MMPose-scope registries
(:mod:`opencapbench.pose.registry`).
"""

from synthpose.finetune import amp, datasets, metrics, samplers, transforms  # noqa: F401  (registers)
