"""OpenCap's Keras LSTM models (``model.json`` + ``weights.h5``) rebuilt in PyTorch.

Every published augmenter model is a Keras 2 ``Sequential``: stacked unidirectional LSTMs with
``return_sequences`` (tanh activation, logistic-sigmoid gates), then a ``TimeDistributed``
linear ``Dense``.  Keras stores an LSTM as ``kernel (n_in, 4U)``, ``recurrent_kernel (U, 4U)``
and ``bias (4U,)`` with gate blocks in the order input, forget, cell, output; PyTorch's
``nn.LSTM`` uses the same gate order with transposed matrices and two biases, so the Keras
bias goes to ``bias_ih`` and ``bias_hh`` is zero.  The layer order is the HDF5 root attribute
``layer_names`` (h5py lists groups alphabetically, which puts ``lstm_10`` before ``lstm_8``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from opencapbench.augmenter.errors import AugmenterFileError

__all__ = ["KerasLSTM", "load_keras_lstm", "read_keras_weights"]

#: LSTM settings the rebuild reproduces; anything else in ``model.json`` is refused.
_LSTM_EXPECTED = {
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "use_bias": True,
    "return_sequences": True,
    "go_backwards": False,
    "stateful": False,
}


def _decode(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def read_keras_weights(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """The weight arrays of a Keras 2 HDF5 weights file, per layer, in model order.

    Returns:
        ``[(layer name, [arrays in the layer's weight_names order]), ...]``; layers without
        weights (e.g. ``top_level_model_weights``) are left out.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            layers = [_decode(n) for n in f.attrs["layer_names"]]
            out = []
            for name in layers:
                group = f[name]
                arrays = [np.asarray(group[_decode(w)]) for w in group.attrs["weight_names"]]
                if arrays:
                    out.append((name, arrays))
    except (OSError, KeyError) as exc:
        raise AugmenterFileError(f"{path}: not a Keras HDF5 weights file ({exc})") from None
    return out


class KerasLSTM(nn.Module):
    """Stacked LSTMs + per-frame linear layer, evaluated on whole sequences (causal).

    ``forward(x)``: x (B, T, F) → (B, T, n_out).  Each call starts from zero states.
    """

    def __init__(self, lstms: list[nn.LSTM], dense: nn.Linear) -> None:
        super().__init__()
        self.lstms = nn.ModuleList(lstms)
        self.dense = dense

    @property
    def n_inputs(self) -> int:
        return self.lstms[0].input_size

    @property
    def n_outputs(self) -> int:
        return self.dense.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for lstm in self.lstms:
            x, _ = lstm(x)
        return self.dense(x)


def _layer_configs(model_json: Path) -> list[dict]:
    try:
        doc = json.loads(model_json.read_text(encoding="utf-8"))
        layers = doc["config"]["layers"] if isinstance(doc["config"], dict) else doc["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AugmenterFileError(
            f"{model_json}: not a Keras Sequential model.json ({exc})"
        ) from None
    if doc.get("class_name") != "Sequential":
        raise AugmenterFileError(
            f"{model_json}: class_name {doc.get('class_name')!r}, expected Sequential"
        )
    return [layer for layer in layers if layer.get("class_name") != "InputLayer"]


def load_keras_lstm(model_dir: str | os.PathLike, dtype: torch.dtype = torch.float64) -> KerasLSTM:
    """Build the PyTorch module of one augmenter model directory.

    Args:
        model_dir: folder with ``model.json`` and ``weights.h5``.
        dtype: computation dtype; float64 by default (v0.3's standardised inputs reach several
            hundred, and the cost is negligible).

    Raises:
        AugmenterFileError: missing files, a layer type or LSTM setting the rebuild does not
            reproduce, or weights whose shapes do not fit the architecture.
    """
    model_dir = Path(model_dir)
    configs = _layer_configs(model_dir / "model.json")
    weights = read_keras_weights(model_dir / "weights.h5")
    where = str(model_dir)
    if len(configs) != len(weights):
        raise AugmenterFileError(
            f"{where}: model.json has {len(configs)} layers with weights, weights.h5 {len(weights)}"
        )
    lstms: list[nn.LSTM] = []
    dense: nn.Linear | None = None
    for i, (cfg, (name, arrays)) in enumerate(zip(configs, weights, strict=True)):
        kind = cfg.get("class_name")
        c = cfg.get("config", {})
        if kind == "LSTM":
            bad = {k: c.get(k) for k, v in _LSTM_EXPECTED.items() if c.get(k, v) != v}
            if bad or dense is not None:
                raise AugmenterFileError(f"{where}: layer {name} has unsupported settings {bad}")
            kernel, recurrent, bias = arrays
            n_in, four_u = kernel.shape
            units = four_u // 4
            if recurrent.shape != (units, four_u) or bias.shape != (four_u,):
                raise AugmenterFileError(f"{where}: layer {name} has inconsistent weight shapes")
            lstm = nn.LSTM(n_in, units, batch_first=True, dtype=dtype)
            with torch.no_grad():
                lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
                lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
                lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
                lstm.bias_hh_l0.zero_()
            lstms.append(lstm)
        elif kind == "TimeDistributed" and i == len(configs) - 1:
            inner = c.get("layer", {})
            act = inner.get("config", {}).get("activation", "linear")
            if inner.get("class_name") != "Dense" or act != "linear":
                raise AugmenterFileError(f"{where}: layer {name} is not a linear Dense")
            kernel, bias = arrays
            dense = nn.Linear(kernel.shape[0], kernel.shape[1], dtype=dtype)
            with torch.no_grad():
                dense.weight.copy_(torch.from_numpy(kernel.T.copy()))
                dense.bias.copy_(torch.from_numpy(bias))
        else:
            raise AugmenterFileError(f"{where}: unsupported layer {kind} ({name})")
    if not lstms or dense is None:
        raise AugmenterFileError(f"{where}: expected LSTM layers followed by a Dense layer")
    return KerasLSTM(lstms, dense).eval()
