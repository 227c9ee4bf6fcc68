"""File formats. Every writer here is atomic (see :mod:`opencapbench.io.atomic`)."""
