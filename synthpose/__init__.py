"""SynthPose: dense anatomical-marker annotations from SMPL-X bodies, and model finetuning."""
