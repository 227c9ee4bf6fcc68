"""Data transforms (registered in TRANSFORMS under MMPose names)."""
