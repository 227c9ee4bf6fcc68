"""Pose model layers (registered in MODELS under MMPose names)."""
