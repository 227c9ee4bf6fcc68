"""Everything that imports ``opensim``: the built-in model, marker placement, kinematics, IK."""

import opensim as _opensim

# OpenSim's global logger writes ./opensim.log into whatever folder the user runs from; the
# toolkit keeps its own per-trial logs next to each output instead (see osim/logs.py).
_opensim.Logger.removeFileSink()
