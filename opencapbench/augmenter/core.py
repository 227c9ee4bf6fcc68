"""OpenCap's marker augmenter as pure array functions: joint-centre-like markers → 43 anatomical
markers.

Per model (lower body, upper body) and frame t, following opencap-core's ``augmentTRC``:

1. p′ₘ(t) = (pₘ(t) − p_midHip(t)) / H for the model's input markers (all three axes divided by
   the subject height H in metres); midHip itself is not an input;
2. features = [p′ marker-major X₀ Y₀ Z₀ X₁ …, H, M] (M = mass in kg), standardised with the
   model's ``mean.npy`` / ``std.npy`` (height and mass too);
3. the whole trial is one sequence through the LSTM (causal, zero initial state);
4. each output marker k: q̂ₖ(t) = yₖ(t) · H + p_midHip(t) (no de-standardisation).

Positions are metres in OpenSim's frame with **Y up** (the models were trained with rotations
about the vertical axis only).  The lower model's 35 markers come first, then the upper
model's 8, as OpenCap appends them to its TRC.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from opencapbench.augmenter.errors import AugmenterError, AugmenterFileError
from opencapbench.augmenter.files import model_dirs
from opencapbench.augmenter.versions import (
    LOWER_INPUTS,
    REFERENCE_MARKER,
    UPPER_INPUTS,
    get_version,
)

__all__ = [
    "AugmenterModel",
    "augment",
    "fill_missing",
    "floor_offset",
    "load_augmenter_model",
    "prepare_features",
]


@dataclass(frozen=True)
class AugmenterModel:
    """One model directory: the network, its input standardisation and marker names."""

    network: object  # opencapbench.augmenter.lstm.KerasLSTM
    mean: np.ndarray
    std: np.ndarray
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    reference_marker: str
    path: Path

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(T, F) standardised features → (T, 3K) raw outputs (one sequence)."""
        import torch

        net = self.network
        dtype = next(net.parameters()).dtype
        with torch.inference_mode():
            x = torch.as_tensor(features, dtype=dtype)[None]
            return net(x)[0].double().numpy()


@lru_cache(maxsize=8)
def _load(folder: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> AugmenterModel:
    from opencapbench.augmenter.lstm import load_keras_lstm

    path = Path(folder)
    net = load_keras_lstm(path)
    mean = np.load(path / "mean.npy").astype(np.float64).ravel()
    std = np.load(path / "std.npy").astype(np.float64).ravel()
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    n_in = 3 * len(inputs) + 2
    if net.n_inputs != n_in or mean.shape != (n_in,) or std.shape != (n_in,):
        raise AugmenterFileError(
            f"{path}: expected {n_in} input features, model has {net.n_inputs}, mean/std "
            f"{mean.shape}/{std.shape}"
        )
    if net.n_outputs != 3 * len(outputs):
        raise AugmenterFileError(
            f"{path}: model predicts {net.n_outputs} values, expected 3 x {len(outputs)} markers"
        )
    ref = meta.get("reference_marker", REFERENCE_MARKER)
    if ref != REFERENCE_MARKER:
        raise AugmenterFileError(f"{path}/metadata.json: reference_marker {ref!r} is not midHip")
    return AugmenterModel(net, mean, std, inputs, outputs, ref, path)


def load_augmenter_model(
    version: str, part: str, augmenter_dir: str | os.PathLike | None = None
) -> AugmenterModel:
    """The ``part`` (``lower`` or ``upper``) model of a version, loaded once per process."""
    v = get_version(version)
    lower, upper = model_dirs(v.name, augmenter_dir)
    if part == "lower":
        return _load(str(lower), LOWER_INPUTS, v.lower_outputs)
    if part == "upper":
        return _load(str(upper), UPPER_INPUTS, v.upper_outputs)
    raise ValueError(f"part must be 'lower' or 'upper', got {part!r}")


def prepare_features(
    markers: np.ndarray,
    reference: np.ndarray,
    height_m: float,
    mass_kg: float,
    mean: np.ndarray,
    std: np.ndarray,
) -> np.ndarray:
    """Standardised model features.

    Args:
        markers: (T, n, 3) input markers in the model's input order, metres.
        reference: (T, 3) the reference marker (midHip), metres.
        height_m, mass_kg: subject height and mass.
        mean, std: (3n + 2,) standardisation of the model.

    Returns:
        (T, 3n + 2) float64.
    """
    t = markers.shape[0]
    rel = (markers - reference[:, None, :]) / height_m
    feats = np.concatenate(
        [rel.reshape(t, -1), np.full((t, 1), height_m), np.full((t, 1), mass_kg)], axis=1
    )
    return (feats - mean) / std


def fill_missing(positions: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of NaN frames per marker (edges hold the nearest value).

    The LSTM carries a NaN to every later frame, so gaps are bridged before it runs.

    Args:
        positions: (T, M, 3) metres.
        names: the M marker names (for the error message).

    Returns:
        ``(filled (T, M, 3), missing (T, M) bool)``.

    Raises:
        AugmenterError: a marker has no finite frame.
    """
    pos = np.array(positions, dtype=np.float64)
    missing = ~np.isfinite(pos).all(axis=-1)
    t = np.arange(pos.shape[0])
    for m in np.flatnonzero(missing.any(axis=0)):
        ok = ~missing[:, m]
        if not ok.any():
            raise AugmenterError(f"augmenter input marker {names[m]!r} is missing in every frame")
        for d in range(3):
            pos[:, m, d] = np.interp(t, t[ok], pos[ok, m, d])
    return pos, missing


def augment(
    positions: np.ndarray,
    names: Sequence[str],
    height_m: float,
    mass_kg: float,
    version: str = "v0.3",
    augmenter_dir: str | os.PathLike | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Run OpenCap's marker augmenter on a trial (see the module docstring).

    Args:
        positions: (T, M, 3) markers, metres, OpenSim frame (Y up), at the rate the models
            were trained on (OpenCap feeds its video rate, 60 Hz by default).
        names: the M marker names; must include the BODY_25-named inputs of both models and
            ``midHip``.
        height_m, mass_kg: subject height (m) and mass (kg), as in ``sessionMetadata.yaml``.
        version: ``v0.1``, ``v0.2`` or ``v0.3``.
        augmenter_dir: a local copy of the model folders; None downloads once and caches.

    Returns:
        ``(positions (T, 43, 3) metres, names)``: the lower model's 35 markers then the upper
        model's 8, names ending in ``_study``.  Frames where an input of a model was missing
        (NaN; bridged by interpolation for the LSTM) are NaN in that model's outputs.

    Raises:
        AugmenterError: an input marker is absent or never finite; height or mass not
            positive; an unknown version.
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[1] != len(names):
        raise AugmenterError(f"positions must be (T, {len(names)}, 3), got {pos.shape}")
    if not (np.isfinite(height_m) and height_m > 0 and np.isfinite(mass_kg) and mass_kg > 0):
        raise AugmenterError(f"height {height_m} m and mass {mass_kg} kg must be positive")
    index = {n: i for i, n in enumerate(names)}
    needed = (REFERENCE_MARKER, *dict.fromkeys(LOWER_INPUTS + UPPER_INPUTS))
    absent = [n for n in needed if n not in index]
    if absent:
        raise AugmenterError(f"the marker augmenter needs markers {absent}, absent from the input")
    cols = [index[n] for n in needed]
    filled, missing = fill_missing(pos[:, cols], needed)
    ref = filled[:, 0]
    by_name = {n: k for k, n in enumerate(needed)}
    outs, out_names = [], []
    for part in ("lower", "upper"):
        model = load_augmenter_model(version, part, augmenter_dir)
        idx = [by_name[n] for n in model.input_names]
        feats = prepare_features(filled[:, idx], ref, height_m, mass_kg, model.mean, model.std)
        y = model.predict(feats).reshape(len(feats), -1, 3) * height_m + ref[:, None, :]
        lost = missing[:, [0, *idx]].any(axis=1)
        y[lost] = np.nan
        outs.append(y)
        out_names += model.output_names
    return np.concatenate(outs, axis=1), out_names


def floor_offset(augmented: np.ndarray, clearance_m: float = 0.01) -> float:
    """OpenCap's vertical shift: the amount to subtract from every Y so that the lowest
    predicted marker (over all frames and markers) sits at ``clearance_m``; (T, K, 3) metres."""
    lowest = np.nanmin(augmented[..., 1])
    return float(lowest - clearance_m)
