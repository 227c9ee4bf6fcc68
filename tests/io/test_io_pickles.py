"""The restricted unpickler: loads what OpenCap/RICH pickles hold, refuses anything else."""

from __future__ import annotations

import collections
import logging
import pickle
import re
import struct
from fractions import Fraction

import numpy as np
import pytest
from helpers_payload import CreatesFile

from opencapbench.errors import OCBError
from opencapbench.io.pickles import (
    TRUST_ENV,
    UnsafePickleError,
    load_pickle,
    pickles_trusted,
    trusting_pickles,
)


class _Bad(OCBError):
    pass


def _sample() -> dict:
    return {
        "intrinsicMat": np.array([[1400.0, 0.0, 360.5], [0.0, 1401.0, 640.25], [0.0, 0.0, 1.0]]),
        "distortion": np.array([[0.1, -0.2, 1e-3, -2e-3, 0.05]]),
        "imageSize": np.array([[1280.0], [720.0]]),
        "ints": np.arange(12, dtype=np.int16).reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "strings": np.array(["Cam0", "Cam1"]),
        "record": np.zeros(2, dtype=[("x", "<f8"), ("n", "<i4")]),
        "scalar": np.float64(2.5),
        "int_scalar": np.int32(-7),
        "flag": np.bool_(True),
        "dtype": np.dtype(">u2"),
        "bytes": b"\x00\xff raw",
        "containers": [(1, 2.0, "three"), {4, 5}, frozenset({6}), None, True, 1 + 2j],
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "objects": np.array([{"person_id": [0]}, None], dtype=object),
    }


def _assert_same(a, b) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert a.flags.f_contiguous == b.flags.f_contiguous
        if a.dtype == object:
            assert a.tolist() == b.tolist()
        else:
            np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_round_trips(tmp_path, protocol) -> None:
    data = _sample()
    path = tmp_path / f"p{protocol}.pickle"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    _assert_same(data, load_pickle(path, _Bad))


def _py2_numpy_pickle() -> bytes:
    """A protocol-2 pickle as Python 2 + numpy 1.x write it: str keys, raw bytes as ``str``."""
    values = struct.pack("<3d", 1.5, -2.0, 3.25)  # 0x3ff8... : not ASCII, so latin-1 is needed

    def short_binstring(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        b"cnumpy\nndarray\n"
        b"K\x00\x85" + short_binstring(b"b") + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
        b"(K\x01K\x03\x85"  # state: (version 1, shape (3,),
        b"cnumpy\ndtype\n" + short_binstring(b"f8") + b"K\x00K\x01\x87R"  # dtype('f8', 0, 1)
        b"(K\x03" + short_binstring(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89" + short_binstring(values) + b"tb"  # , fortran False, data)
    )
    return b"\x80\x02}" + short_binstring(b"distortion") + array + b"s."


def test_python2_pickle_is_read_with_latin1(tmp_path) -> None:
    raw = _py2_numpy_pickle()
    expected = pickle.loads(raw, encoding="latin1")  # the plain unpickler, as a reference
    np.testing.assert_array_equal(expected["distortion"], [1.5, -2.0, 3.25])
    path = tmp_path / "py2.pickle"
    path.write_bytes(raw)
    got = load_pickle(path, _Bad)
    assert list(got) == ["distortion"]
    np.testing.assert_array_equal(got["distortion"], [1.5, -2.0, 3.25])
    assert got["distortion"].dtype == np.float64


@pytest.mark.shared
def test_loads_every_opencap_intrinsics_pickle(shared_dir) -> None:
    paths = sorted((shared_dir / "reference" / "opencap-intrinsics").rglob("*.pickle"))
    assert len(paths) >= 50
    for path in paths:
        with open(path, "rb") as fh:
            reference = pickle.load(fh)  # trusted reference data, plain unpickler
        _assert_same(reference, load_pickle(path, _Bad))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_payload_is_refused_and_never_runs(tmp_path, protocol) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"intrinsicMat": CreatesFile(marker)}, protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path, _Bad, "calibration file")
    message = str(info.value)
    assert message.startswith(f"{path}: refused") and "--trust-pickles" in message
    assert re.search(r"global (builtins|io)\.open\b", message)  # protocol 0-2 write io.open
    assert not marker.exists()


def test_nested_global_inside_an_object_array_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    payload = np.array([CreatesFile(marker)], dtype=object)
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"(builtins|io)\.open"):
        load_pickle(path, _Bad)
    assert not marker.exists()


def test_codecs_encode_only_with_latin1(tmp_path) -> None:
    # protocol 0-2 write bytes as _codecs.encode(text, "latin1"); other codecs are refused
    path = tmp_path / "codec.pickle"
    path.write_bytes(b"c_codecs\nencode\n(Vx\nVrot13\ntR.")
    with pytest.raises(_Bad, match="codec.pickle.*rot13"):
        load_pickle(path, _Bad)


def test_trust_loads_other_globals_with_a_warning(tmp_path, caplog, monkeypatch) -> None:
    path = tmp_path / "legacy.pickle"
    path.write_bytes(pickle.dumps({"ratio": Fraction(1, 3)}))
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(UnsafePickleError, match=r"legacy\.pickle.*fractions\.Fraction"):
        load_pickle(path, _Bad)
    with caplog.at_level(logging.WARNING, logger="opencapbench.io.pickles"):
        assert load_pickle(path, _Bad, trust=True) == {"ratio": Fraction(1, 3)}
    assert "legacy.pickle" in caplog.text and "fractions.Fraction" in caplog.text
    with trusting_pickles():
        assert load_pickle(path, _Bad)["ratio"] == Fraction(1, 3)
        with pytest.raises(UnsafePickleError):  # an explicit argument wins
            load_pickle(path, _Bad, trust=False)
    monkeypatch.setenv(TRUST_ENV, "1")
    assert pickles_trusted() and load_pickle(path, _Bad)["ratio"] == Fraction(1, 3)
    with trusting_pickles(False):
        assert not pickles_trusted()


def test_a_safe_file_logs_no_warning_even_when_trusted(tmp_path, caplog) -> None:
    path = tmp_path / "plain.pickle"
    path.write_bytes(pickle.dumps({"a": np.ones(2)}))
    with caplog.at_level(logging.WARNING, logger="opencapbench.io.pickles"):
        np.testing.assert_array_equal(load_pickle(path, _Bad, trust=True)["a"], [1.0, 1.0])
    assert caplog.text == ""


def test_missing_and_garbage_files_name_the_file(tmp_path) -> None:
    with pytest.raises(_Bad, match=r"nothing\.pickle: pose pickle not found"):
        load_pickle(tmp_path / "nothing.pickle", _Bad, "pose pickle")
    bad = tmp_path / "garbage.pickle"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(_Bad, match=r"garbage\.pickle: not a readable pickle"):
        load_pickle(bad, _Bad)
