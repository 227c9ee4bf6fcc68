"""The one base class of every named error of the toolkit.

Every error that a user can cause with bad input or a missing file derives from
:class:`OCBError`. The ``ocb`` command maps it to a one-line message and exit code 1 (the
traceback only with ``--debug``); anything else is a bug and keeps its traceback.
Each package keeps its own named errors beside the code that raises them, all rooted here.
"""

from __future__ import annotations


class OCBError(Exception):
    """Base class of every named opencapbench error; the message names the file or item."""

    #: exit code of ``ocb`` when this error ends a command
    exit_code: int = 1
