"""``MultiSourceSampler``: batches that mix the sources of a :class:`CombinedDataset` with given
ratios, whatever their sizes (small sources are cycled, large ones subsampled per epoch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from opencapbench.pose.registry import DATA_SAMPLERS


def batch_composition(batch_size: int, ratios: Sequence[float]) -> np.ndarray:
    """Samples per source in one batch (largest-remainder rounding of ``ratios``), int (S,)."""
    r = np.asarray(ratios, dtype=float)
    if r.ndim != 1 or (r < 0).any() or r.sum() <= 0:
        raise ValueError(f"source_ratio must be non-negative with a positive sum, got {ratios}")
    exact = r / r.sum() * batch_size
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: batch_size - counts.sum()]] += 1
    return counts


def mixed_indices(
    sizes: Sequence[int],
    counts: np.ndarray,
    num_batches: int,
    rng: np.random.Generator,
    shuffle: bool = True,
) -> np.ndarray:
    """Global indices for ``num_batches`` batches, each with ``counts[s]`` samples of source s.

    Each source is read as a stream of fresh permutations of its indices (offset by the sizes
    of the sources before it).  Returns int64 (num_batches, counts.sum()).
    """
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    columns = []
    for s, (n, c) in enumerate(zip(sizes, counts, strict=True)):
        if c == 0:
            continue
        if n == 0:
            raise ValueError(f"source {s} is empty but its ratio asks for {c} samples per batch")
        need = num_batches * c
        reps = -(-need // n)
        perms = [rng.permutation(n) if shuffle else np.arange(n) for _ in range(reps)]
        columns.append(np.concatenate(perms)[:need].reshape(num_batches, c) + offsets[s])
    batches = np.concatenate(columns, axis=1)
    if shuffle:
        batches = rng.permuted(batches, axis=1)
    return batches


@DATA_SAMPLERS.register_module()
class MultiSourceSampler(Sampler):
    """Sampler for a dataset with ``cumulative_sizes`` (e.g. ``CombinedDataset``).

    Args:
        dataset: the combined dataset.
        batch_size: per-process batch size; must equal the dataloader's.
        source_ratio: relative share of each source in every batch.
        shuffle: shuffle within sources and within batches.
        seed: random seed, the same on every process (synchronised when None).
        num_batches: batches per epoch per process; default covers the dataset once across
            all processes (``len(dataset) // (batch_size * world_size)``, at least 1).

    Under distributed training all processes draw from the same per-source streams (same
    seed) and process ``r`` takes batches ``r, r + world_size, ...``: every batch has the
    ratios and processes do not share samples until a source is exhausted and cycled.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        source_ratio: Sequence[float],
        shuffle: bool = True,
        seed: int | None = None,
        num_batches: int | None = None,
    ) -> None:
        sizes = np.diff(np.concatenate([[0], dataset.cumulative_sizes])).astype(int)
        if len(source_ratio) != len(sizes):
            raise ValueError(
                f"source_ratio has {len(source_ratio)} entries for {len(sizes)} sources"
            )
        self.rank, self.world_size = get_dist_info()
        self.sizes = sizes
        self.batch_size = int(batch_size)
        self.counts = batch_composition(self.batch_size, source_ratio)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        total = int(sizes.sum())
        self.num_batches = num_batches or max(1, total // (self.batch_size * self.world_size))
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        total = self.num_batches * self.world_size
        batches = mixed_indices(self.sizes, self.counts, total, rng, self.shuffle)
        return iter(batches[self.rank :: self.world_size].reshape(-1).tolist())

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
