"""The encoder's choice of value offsets (codec/offsets.py): what it picks, that the package
is smaller for it, and that every decoder reads the result exactly."""
from __future__ import annotations

import numpy as np
import pytest

import codec
from codec import offsets as O
from codec import reference as ref


def _gamma_like(rng, n=64) -> np.ndarray:
    """A batch norm's gamma quantized to 8 bits: every value in [70, 127]."""
    return np.clip(np.round(rng.normal(100, 12, n)), 70, 127).astype(np.int8)


def _offsets(data: bytes) -> dict[str, int]:
    return {t.name: t.value_offset for t in codec.inspect(data).tensors}


def test_centred_weights_keep_zero():
    rng = np.random.default_rng(1)
    w = np.clip(np.round(rng.normal(0, 30, 5000)), -127, 127).astype(np.int8)
    assert O.value_offset_for(w) == 0
    w[w == 0] = 1  # no zeros at all: still centred
    assert O.value_offset_for(w) == 0


def test_off_centre_signed_tensor_gets_its_centre():
    g = _gamma_like(np.random.default_rng(2))
    c = O.value_offset_for(g)
    assert 90 <= c <= 110
    vals, counts = np.unique(g, return_counts=True)
    hist = np.zeros(int(g.max()) - int(g.min()) + 1, np.int64)
    hist[vals.astype(np.int64) - int(g.min())] = counts
    grid = np.arange(int(g.min()), int(g.max()) + 1, dtype=np.int64)
    assert O.estimate_bits(grid, hist, c) < 0.9 * O.estimate_bits(grid, hist, 0)
    assert O.value_offset_for(g, search=False) == 0


@pytest.mark.parametrize("arr, want", [
    (np.zeros(0, np.int8), 0),
    (np.full(40, 3, np.int16), 3),                 # one value: the whole tensor is zeros
    (np.array([3, 3, 3], np.int16), 0),           # saves 3 bits: under MIN_GAIN_BITS
    (np.array([1, 0, -1, 1], np.int8), 0),        # within +-1: nothing to gain
    (np.array([7, 200, 7, 9], np.uint8), 7),      # unsigned: the most frequent value
    (np.array([0, 2**31 - 1, -2**31, 5] * 10, np.int32), 0),  # range too wide to histogram
])
def test_edge_cases(arr, want):
    assert O.value_offset_for(arr) == want


def test_big_tensors_are_not_searched():
    x = np.full(O.SEARCH_MAX + 1, 100, np.int16)
    x[::7] = 90
    assert O.value_offset_for(x) == 0
    assert O.value_offset_for(x[:O.SEARCH_MAX]) == 100


def test_estimate_counts_a_constant_as_free():
    grid = np.arange(5, 10, dtype=np.int64)
    hist = np.array([0, 0, 40, 0, 0], np.int64)
    assert O.estimate_bits(grid, hist, 7) == 0.0
    # 40 values of magnitude 7 (kref 2: an exact class): 1 sign bit each, one class
    assert O.estimate_bits(grid, hist, 0) == pytest.approx(40.0)


def test_package_is_smaller_and_decodes_exactly(monkeypatch):
    """A model with batch-norm-like tensors: smaller with the chosen offsets than with 0, and
    the Numba path, the reference decoder and read_tensor give the exact values."""
    rng = np.random.default_rng(3)
    ts = {}
    for i in range(12):
        ts[f"bn{i}.gamma"] = _gamma_like(rng)
        ts[f"bn{i}.var"] = np.clip(np.round(rng.gamma(4, 12, 64)), 1, 127).astype(np.int8)
        ts[f"conv{i}.weight"] = np.clip(np.round(rng.normal(0, 25, (16, 8, 3))), -127,
                                        127).astype(np.int8)
    ts["edge"] = np.array([-128, 127, 127, 126, 120, 127, -128], np.int8)
    ts["wide16"] = (rng.integers(-32768, 32768, 300) // 2 + 16000).astype(np.int16)
    data = codec.pack(ts)
    offs = _offsets(data)
    assert all(offs[f"bn{i}.gamma"] != 0 for i in range(12))
    assert all(offs[f"conv{i}.weight"] == 0 for i in range(12))
    for got in (codec.unpack(data), ref.unpack(data)):
        assert list(got) == list(ts)
        for k, a in ts.items():
            assert got[k].dtype == a.dtype and np.array_equal(got[k], a), k
    assert np.array_equal(codec.read_tensor(data, "bn3.gamma"), ts["bn3.gamma"])
    monkeypatch.setattr(O, "MIN_GAIN_BITS", float("inf"))  # every signed offset 0
    plain = codec.pack(ts)
    assert set(_offsets(plain).values()) == {0}
    assert len(data) < len(plain) - 12 * 8


def test_mirrored_tensor_keeps_offset_zero():
    """Format v3's mirror is made around the offset the mirror chose (0 for signed): the
    stored tensor keeps it even when its values are off centre."""
    rng = np.random.default_rng(4)
    half = rng.integers(80, 120, (64, 6)).astype(np.int8)
    x = np.concatenate([half, half[:, ::-1]], axis=1)  # symmetric rows, values ~100
    data = codec.pack({"basis": x}, mirror={"basis": (12, 0)})
    (t,) = codec.inspect(data).tensors
    assert t.mirror is not None and t.value_offset == 0
    assert np.array_equal(codec.unpack(data)["basis"], x)
    assert np.array_equal(ref.unpack(data)["basis"], x)


def _reference_choice(flat: np.ndarray) -> int:
    """value_offset_for's rule written out with the numpy estimate (FORMAT.md §13)."""
    lo, hi = int(flat.min()), int(flat.max())
    vals = np.arange(lo, hi + 1, dtype=np.int64)
    hist = np.bincount(flat.astype(np.int64) - lo)
    s = np.sort(flat.astype(np.int64))
    med = int(s[(flat.size + 1) // 2 - 1])
    cands = sorted({med, lo + int(np.argmax(hist)), (lo + hi) // 2})
    if cands[0] >= -1 and cands[-1] <= 1:
        return 0
    base = O.estimate_bits(vals, hist, 0)
    best, bb = 0, base
    for c in cands:
        if c != 0 and O.estimate_bits(vals, hist, c) < bb:
            best, bb = c, O.estimate_bits(vals, hist, c)
    return best if best and base - bb >= max(O.MIN_GAIN_BITS, O.MIN_GAIN_FRAC * base) else 0


def test_kernel_matches_the_numpy_estimate():
    from codec.kernels.offsets import MAX_CLASS, offset_bits
    rng = np.random.default_rng(7)
    per = np.empty(MAX_CLASS, np.float64)
    chosen = 0
    for i in range(300):
        n = int(rng.integers(1, 3000))
        centre = int(rng.integers(-30000, 30000)) if i % 3 == 0 else int(rng.integers(-120, 120))
        spread = float(rng.choice([0.5, 3, 20, 300]))
        x = np.clip(np.round(rng.normal(centre, spread, n)), -32768, 32767).astype(np.int16)
        x[rng.random(n) < rng.random() * 0.5] = 0
        lo = int(x.min())
        hist = np.bincount(x.astype(np.int64) - lo)
        vals = np.arange(lo, int(x.max()) + 1, dtype=np.int64)
        for c in (0, int(np.median(x)), lo):
            assert offset_bits(hist, np.int64(lo), np.int64(c), np.int64(O.KREF), per) == \
                pytest.approx(O.estimate_bits(vals, hist, c), rel=1e-9, abs=1e-6)
        got = O.value_offset_for(x)
        assert got == _reference_choice(x)
        chosen += got != 0
    assert 50 < chosen < 300  # both outcomes are exercised
