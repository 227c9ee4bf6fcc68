"""SynthPose finetuning (``ocb finetune``): the recipe's runner glue, its CLI and a toy dataset.

The MMPose vocabulary it trains with (datasets, augmentations, samplers, metrics, the autocast
optimizer wrapper) lives in :mod:`opencapbench.pose`, registered under MMPose's type names.
"""
