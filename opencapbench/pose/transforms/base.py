"""Minimal transform base class and ``Compose`` (mmcv's are not required)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class BaseTransform:
    """A data transform: ``results = t(results)`` calls :meth:`transform`; None drops a sample."""

    def __call__(self, results: dict) -> dict | None:
        return self.transform(results)

    def transform(self, results: dict) -> dict | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose:
    """Apply transforms in order; configs (dicts) are built from the pose ``TRANSFORMS``."""

    def __init__(self, transforms: Sequence[dict | Callable[[dict], Any]]) -> None:
        from opencapbench.pose.registry import TRANSFORMS, build_module

        self.transforms: list[Callable[[dict], Any]] = []
        for t in transforms:
            self.transforms.append(
                build_module(TRANSFORMS, t, "pipeline") if isinstance(t, dict) else t
            )

    def __call__(self, results: dict) -> dict | None:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results
