"""The augmenter stage of the benchmark: triangulated TRC → TRC with the 43 augmented markers.

As in OpenCap, the predicted markers are appended after the input markers, which stay as they
are, and (optionally, OpenCap's default) every marker is shifted vertically so that the lowest
predicted marker sits 1 cm above the floor.  The LSTMs were trained on 60 Hz sequences and
OpenCap feeds them its 60 fps video rate, while the benchmark's TRC is at 100 Hz: the stage
therefore resamples the markers to ``rate_hz`` for the networks and interpolates the
predictions back onto the TRC's own times.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from opencapbench.augmenter.core import augment, floor_offset
from opencapbench.geometry.filtering import resample
from opencapbench.io.trc import read_trc, write_trc

__all__ = ["augment_trc"]

log = logging.getLogger(__name__)


def _interp_onto(times: np.ndarray, src_t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation of (N, ...) samples at ``src_t`` onto ``times`` (NaN-preserving:
    an output between two samples is NaN if either is)."""
    i = np.clip(np.searchsorted(src_t, times, side="right") - 1, 0, src_t.size - 2)
    frac = np.clip((times - src_t[i]) / (src_t[i + 1] - src_t[i]), 0.0, 1.0)
    frac = frac.reshape((-1,) + (1,) * (x.ndim - 1))
    with np.errstate(invalid="ignore"):
        out = x[i] * (1.0 - frac) + x[i + 1] * frac
    return np.where(frac == 0.0, x[i], np.where(frac == 1.0, x[i + 1], out))


def augment_trc(
    trc_in: str | os.PathLike,
    trc_out: str | os.PathLike,
    height_m: float,
    mass_kg: float,
    version: str = "v0.3",
    augmenter_dir: str | os.PathLike | None = None,
    rate_hz: float | None = 60.0,
    vertical_offset: bool = True,
) -> dict:
    """Augment one trial's TRC and write the result (atomically).

    Args:
        trc_in: triangulated markers with the BODY_25 names (``Neck``, ``midHip``, …).
        trc_out: output TRC: the input markers, then the 43 ``*_study`` markers.
        height_m, mass_kg: the subject's, from ``sessionMetadata.yaml``.
        version: ``v0.1``, ``v0.2`` or ``v0.3``.
        augmenter_dir: local copy of the model folders (None: download once, cached).
        rate_hz: rate the networks see (None: the TRC's own rate).
        vertical_offset: shift every marker so the lowest predicted one is at y = 0.01 m.

    Returns:
        Information for the report: version, rate, vertical offset (m), frames with a
        bridged input gap.
    """
    trc = read_trc(trc_in)
    times, pos = trc.times, trc.positions
    if rate_hz and times.size > 1 and abs(trc.rate_hz - rate_hz) > 1e-6:
        net_t, net_pos = resample(times, pos, rate_hz)
    else:
        net_t, net_pos = times, pos
    aug, names = augment(net_pos, trc.marker_names, height_m, mass_kg, version, augmenter_dir)
    if net_t is not times:
        aug = _interp_onto(times, net_t, aug) if net_t.size > 1 else np.repeat(aug, times.size, 0)
    missing_frames = int((~np.isfinite(aug).all(axis=(1, 2))).sum())
    out = np.concatenate([pos, aug], axis=1)
    shift = floor_offset(aug) if vertical_offset and np.isfinite(aug).any() else 0.0
    out[..., 1] -= shift
    write_trc(trc_out, times, list(trc.marker_names) + names, out, trc.rate_hz)
    info = {
        "augmenter": version,
        "network_rate_hz": float(rate_hz or trc.rate_hz),
        "vertical_offset_m": shift,
        "frames_with_missing_outputs": missing_frames,
        "height_m": float(height_m),
        "mass_kg": float(mass_kg),
    }
    log.debug("%s: augmented with %s -> %s", Path(trc_in).name, version, trc_out)
    return info
