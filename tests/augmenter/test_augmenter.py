"""OpenCap's LSTM marker augmenter: the PyTorch rebuild against an independent NumPy evaluation
of the Keras LSTM equations, against the marker-enhancer reference output, and the file cache."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from opencapbench.augmenter import AugmenterError, AugmenterFileError, augment, augment_trc
from opencapbench.augmenter.core import load_augmenter_model
from opencapbench.augmenter.files import model_dirs
from opencapbench.augmenter.versions import FILES, VERSIONS
from opencapbench.io.trc import read_trc, write_trc

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def aug_dir(shared_dir):
    return shared_dir / "reference" / "opencap-augmenter"


def _sigmoid(x):
    from scipy.special import expit  # the logistic function, without overflow warnings

    return expit(x)


def _numpy_keras_forward(weights_h5, x: np.ndarray) -> np.ndarray:
    """Keras Sequential(LSTM..., TimeDistributed(Dense)) in float64 NumPy, straight from the
    HDF5 arrays: layers in the order of the root attribute ``layer_names``, gate blocks i, f,
    c, o along the 4U axis, logistic sigmoid gates, zero initial states."""
    with h5py.File(weights_h5, "r") as f:
        layers = []
        for name in f.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else name
            g = f[name]
            arrays = [np.asarray(g[w], dtype=np.float64) for w in g.attrs["weight_names"]]
            if arrays:
                layers.append(arrays)
    h_seq = x.astype(np.float64)
    for arrays in layers[:-1]:
        w, u, b = arrays
        n = u.shape[0]
        h, c = np.zeros(n), np.zeros(n)
        out = np.empty((len(h_seq), n))
        for t, xt in enumerate(h_seq):
            z = xt @ w + h @ u + b
            i, f_, g_, o = (
                _sigmoid(z[:n]),
                _sigmoid(z[n : 2 * n]),
                np.tanh(z[2 * n : 3 * n]),
                _sigmoid(z[3 * n :]),
            )
            c = f_ * c + i * g_
            h = o * np.tanh(c)
            out[t] = h
        h_seq = out
    wd, bd = layers[-1]
    return h_seq @ wd + bd


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("part", ["lower", "upper"])
def test_rebuild_matches_numpy_lstm(aug_dir, version, part) -> None:
    model = load_augmenter_model(version, part, aug_dir)
    rng = np.random.default_rng(7)
    # standardised inputs as large as real v0.3 ones (|z| up to several hundred)
    x = (
        rng.normal(0.0, 1.0, (45, model.network.n_inputs))
        * rng.choice([1.0, 50.0, 300.0], 45)[:, None]
    )
    expected = _numpy_keras_forward(model.path / "weights.h5", x)
    got = model.predict(x)
    assert got.shape == expected.shape == (45, 3 * len(model.output_names))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_v03_reproduces_marker_enhancer_reference(aug_dir, tmp_path) -> None:
    test_dir = aug_dir / "marker-enhancer-test"
    inp = read_trc(test_dir / "drop_vertical_jump.trc")
    ref = read_trc(test_dir / "drop_vertical_jump_enhanced_lstm_reference.trc")
    pos, names = augment(inp.positions, inp.marker_names, 1.96, 78.2, "v0.3", aug_dir)
    assert pos.shape == (301, 43, 3) and len(names) == 43
    assert names[8:11] == ["r_toe_study", "r_5meta_study", "r_calc_study"]
    assert names[15:18] == ["L_toe_study", "L_calc_study", "L_5meta_study"]
    err = np.abs(pos - ref.positions[:, 20:])
    assert err.max() < 0.5e-3  # the reference carries ~0.2 mm of its own error
    # the stage: inputs unchanged then the 43 markers; no resampling at the TRC's 60 Hz
    out = tmp_path / "jump_lstm.trc"
    info = augment_trc(test_dir / "drop_vertical_jump.trc", out, 1.96, 78.2, "v0.3", aug_dir,
                       vertical_offset=False)  # fmt: skip
    back = read_trc(out)
    assert back.marker_names == inp.marker_names + names
    np.testing.assert_allclose(back.positions[:, 20:], ref.positions[:, 20:], atol=0.5e-3)
    np.testing.assert_allclose(back.positions[:, :20], inp.positions, atol=1e-7)
    assert info["vertical_offset_m"] == 0.0
    # OpenCap's floor offset: lowest predicted marker at y = 0.01 m, every marker shifted
    augment_trc(test_dir / "drop_vertical_jump.trc", out, 1.96, 78.2, "v0.3", aug_dir)
    shifted = read_trc(out)
    assert np.nanmin(shifted.positions[:, 20:, 1]) == pytest.approx(0.01, abs=1e-7)
    d = shifted.positions[:, :, 1] - back.positions[:, :, 1]
    assert np.ptp(d) < 1e-7


@pytest.mark.parametrize("version", ["v0.1", "v0.2"])
def test_older_versions_output_order(aug_dir, version) -> None:
    """Each marker named by v0.1/v0.2 is, on the test trial, closest to v0.3's marker of the
    same name: a wrong output order would pair markers ≥ 8 cm apart."""
    inp = read_trc(aug_dir / "marker-enhancer-test" / "drop_vertical_jump.trc")
    ref, ref_names = augment(inp.positions, inp.marker_names, 1.96, 78.2, "v0.3", aug_dir)
    pos, names = augment(inp.positions, inp.marker_names, 1.96, 78.2, version, aug_dir)
    dist = np.linalg.norm(pos[:, :, None] - ref[:, None], axis=-1).mean(axis=0)
    assert [ref_names[j] for j in dist.argmin(axis=1)] == names


def test_resampled_stage_and_gaps(aug_dir, tmp_path) -> None:
    inp = read_trc(aug_dir / "marker-enhancer-test" / "drop_vertical_jump.trc")
    direct, _ = augment(inp.positions, inp.marker_names, 1.96, 78.2, "v0.3", aug_dir)
    # the same trial written at 120 Hz (linear upsampling) is run at 60 Hz and mapped back
    t120 = np.arange(2 * len(inp.times) - 1) / 120.0
    p120 = np.stack([np.stack([np.interp(t120, inp.times, inp.positions[:, m, d]) for d in range(3)], -1)
                     for m in range(len(inp.marker_names))], 1)  # fmt: skip
    write_trc(tmp_path / "in.trc", t120, inp.marker_names, p120, 120.0)
    info = augment_trc(tmp_path / "in.trc", tmp_path / "out.trc", 1.96, 78.2, "v0.3", aug_dir,
                       vertical_offset=False)  # fmt: skip
    out = read_trc(tmp_path / "out.trc")
    assert info["network_rate_hz"] == 60.0 and out.rate_hz == 120.0
    np.testing.assert_allclose(out.positions[::2, 20:], direct, atol=1e-6)
    # a gap in an input: bridged for the network, NaN in the outputs of the model that uses it
    gap = inp.positions.copy()
    gap[100:104, inp.marker_names.index("RWrist")] = np.nan
    pos, names = augment(gap, inp.marker_names, 1.96, 78.2, "v0.3", aug_dir)
    assert np.isnan(pos[100:104, 35:]).all() and np.isfinite(pos[100:104, :35]).all()
    assert np.isfinite(pos[104:]).all()
    renamed = [n if n != "RHeel" else "RHeel2" for n in inp.marker_names]
    with pytest.raises(AugmenterError, match="RHeel"):
        augment(inp.positions, renamed, 1.96, 78.2, "v0.3", aug_dir)
    with pytest.raises(AugmenterError, match="unknown marker-augmenter version"):
        augment(inp.positions, inp.marker_names, 1.96, 78.2, "v9", aug_dir)


def test_files_checked_cached_and_downloaded_once(aug_dir, tmp_path, monkeypatch) -> None:
    # a local copy with one corrupted byte is refused, naming the file
    local = tmp_path / "local"
    for part in ("v0.2_lower", "v0.2_upper"):
        shutil.copytree(aug_dir / part, local / part)
    bad = local / "v0.2_upper" / "std.npy"
    data = bytearray(bad.read_bytes())
    data[-1] ^= 1
    bad.chmod(0o644)
    bad.write_bytes(bytes(data))
    with pytest.raises(AugmenterFileError, match="std.npy: SHA-256"):
        model_dirs("v0.2", local)
    (local / "v0.2_upper" / "std.npy").unlink()
    with pytest.raises(AugmenterFileError, match="missing"):
        model_dirs("v0.2", local)
    # the cache: a download fills it once (simulated from the reference copy); later calls
    # verify the cached files and download nothing
    monkeypatch.setenv("OPENCAPBENCH_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        model, file = url.rsplit("/", 2)[-2:]
        assert "d5a52589542e3329691bc26efef0a15b7d5cf38d" in url
        calls.append((model, file))
        shutil.copyfile(aug_dir / model / file, dst)

    monkeypatch.setattr("torch.hub.download_url_to_file", fake_download)
    lower, upper = model_dirs("v0.3")
    assert len(calls) == 2 * len(FILES) and lower.name == "v0.3_lower"
    assert str(tmp_path / "cache") in str(lower)
    model_dirs("v0.3")
    assert len(calls) == 2 * len(FILES)

    from opencapbench.inference.errors import ModelNotAvailableError

    def offline(url, dst, hash_prefix=None, progress=True):
        raise OSError("network is unreachable")

    monkeypatch.setattr("torch.hub.download_url_to_file", offline)
    with pytest.raises(ModelNotAvailableError, match="--augmenter-dir"):
        model_dirs("v0.1")
