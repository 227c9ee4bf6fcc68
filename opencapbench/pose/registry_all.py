"""Import target of the pose registries' ``locations``: importing it registers everything."""

from opencapbench.pose.registry import register_all_modules

register_all_modules()
