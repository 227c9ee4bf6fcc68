"""MMPose-format configs of the registered models (package data, read by ``Config.fromfile``)."""
