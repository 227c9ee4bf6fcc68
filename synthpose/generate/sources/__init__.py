"""Data source adapters for ``ocb generate-dataset``, one per dataset layout."""

from __future__ import annotations

from synthpose.generate.sources.base import FrameBatch, Source, SourceError
from synthpose.generate.sources.bedlam import BedlamSource
from synthpose.generate.sources.infinity import InfinitySource
from synthpose.generate.sources.npz import NpzSource
from synthpose.generate.sources.rich import RichSource

SOURCES: dict[str, type[Source]] = {
    "npz": NpzSource,
    "bedlam": BedlamSource,
    "infinity": InfinitySource,
    "rich": RichSource,
}

__all__ = ["SOURCES", "BedlamSource", "FrameBatch", "InfinitySource", "NpzSource", "RichSource",
           "Source", "SourceError"]  # fmt: skip
