"""Old import path of the synthetic generator (moved to :mod:`opencapbench.synthetic`)."""

from opencapbench.synthetic.motions import *  # noqa: F403
from opencapbench.synthetic.rig import *  # noqa: F403
from opencapbench.synthetic.writer import *  # noqa: F403
