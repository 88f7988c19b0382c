"""kernels/meta.py (metadata checked without parsing) against QuantMeta.from_bytes: it
accepts every block codec writes, and whatever the bytes, it accepts only blocks from_bytes
accepts (a block it declines goes to from_bytes, which then decides)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec import QuantMeta
from codec.errors import CodecError
from codec.kernels.meta import check_metas


def kernel_accepts(block: bytes, shape: tuple) -> bool:
    buf = np.frombuffer(b"\xee" * 3 + block + b"\xee", np.uint8)
    numel = int(np.prod(shape, dtype=np.int64))
    return check_metas(buf, np.array([3]), np.array([3 + len(block)]), np.array([len(shape)]),
                       np.array([0]), np.array(shape or [0], np.int64)[:max(len(shape), 1)],
                       np.array([numel])) == -1


def parses(block: bytes, shape: tuple) -> bool:
    try:
        QuantMeta.from_bytes(block, 0, len(block), shape=shape)
    except CodecError:
        return False
    return True


SHAPE = (6, 4, 3)
VALID = [
    QuantMeta(bits=8, scale=np.array([0.5], np.float32)),
    QuantMeta(bits=4, scale=np.linspace(0.1, 1, 6), axis=0),
    QuantMeta(bits=4, scale=np.linspace(0.1, 1, 3).astype(np.float32), axis=-1),
    QuantMeta(bits=3, scale=np.ones(4, np.float32), zero_point=np.array([0, -3, 7, 2**40]),
              axis=1),
    QuantMeta(bits=8, scale=np.ones(3, np.float32), block=25),
    QuantMeta(bits=16, kind="float-bits"),
    QuantMeta(bits=32, scale=np.ones(5, np.float32), axis=0, kind="float-bits"),
]


@pytest.mark.parametrize("meta", VALID, ids=range(len(VALID)))
def test_accepts_what_codec_writes(meta):
    block = meta.to_bytes()
    assert parses(block, SHAPE) and kernel_accepts(block, SHAPE)


@pytest.mark.parametrize("shape", [(5, 4, 3), (6, 4), (), (7,)])
def test_declines_a_scale_count_the_shape_does_not_need(shape):
    for meta in VALID[1:5]:
        block = meta.to_bytes()
        assert not kernel_accepts(block, shape) or parses(block, shape)
        if not parses(block, shape):
            assert not kernel_accepts(block, shape)


def test_several_blocks_and_the_first_declined():
    blocks = [m.to_bytes() for m in VALID[:3]]
    buf = np.frombuffer(b"".join(blocks), np.uint8)
    ends = np.cumsum([len(b) for b in blocks])
    starts = ends - [len(b) for b in blocks]
    dims = np.array(SHAPE * 3, np.int64)
    args = (np.array([3, 3, 3]), np.array([0, 3, 6]), dims, np.full(3, 72))
    assert check_metas(buf, starts, ends, *args) == -1
    bad = buf.copy()
    bad[starts[1]] = 2  # metadata version 2
    assert check_metas(bad, starts, ends, *args) == 1
    assert check_metas(buf, starts, ends + 1, *args) == 0  # a stray byte after block 0


@st.composite
def damaged(draw):
    """(block, shape): a valid block with bytes replaced, cut short or extended, and a shape
    that may not fit it."""
    block = bytearray(draw(st.sampled_from(VALID)).to_bytes())
    for i, v in draw(st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), max_size=3)):
        if i < len(block):
            block[i] = v
    cut = draw(st.integers(-2, 2))
    block = bytes(block[:len(block) + cut] if cut < 0 else block + b"\x00" * cut)
    return block, draw(st.sampled_from([SHAPE, (6,), (3, 4), (), (6, 4, 3, 1)]))


@settings(max_examples=400, deadline=None)
@given(damaged())
def test_never_accepts_what_from_bytes_rejects(case):
    """Damaged valid blocks: kernel accepts => parses."""
    block, shape = case
    if kernel_accepts(block, shape):
        assert parses(block, shape)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.sampled_from([SHAPE, (6,), ()]))
def test_never_accepts_random_bytes_from_bytes_rejects(block, shape):
    if kernel_accepts(block, shape):
        assert parses(block, shape)


# --- QuantMeta.from_bytes' unchecked fast path (codec/meta.py _from_bytes_fast) -----------

def checked(block: bytes, shape: tuple):
    """from_bytes through the checked reader only (the fast path bypassed)."""
    import codec.meta as cm
    real = cm._from_bytes_fast
    cm._from_bytes_fast = lambda *a: None
    try:
        return QuantMeta.from_bytes(block, 0, len(block), shape=shape)
    except CodecError as exc:
        return exc
    finally:
        cm._from_bytes_fast = real


def same_meta(a: QuantMeta, b: QuantMeta) -> None:
    assert a == b and type(a.bits) is type(b.bits) and a.scale.dtype == b.scale.dtype
    assert a.scale.flags.c_contiguous and a.scale.dtype.isnative
    assert (a.zero_point is None) == (b.zero_point is None)
    if a.zero_point is not None:
        assert a.zero_point.dtype == np.int64 and a.zero_point.flags.c_contiguous


@pytest.mark.parametrize("meta", VALID, ids=range(len(VALID)))
def test_fast_parse_equals_checked_parse(meta):
    from codec.meta import _from_bytes_fast
    block = meta.to_bytes()
    fast = _from_bytes_fast(QuantMeta, block, 0, len(block), SHAPE)
    assert fast is not None
    same_meta(fast, checked(block, SHAPE))
    same_meta(QuantMeta.from_bytes(np.frombuffer(b"xy" + block, np.uint8), 2, 2 + len(block),
                                   shape=SHAPE), meta)


@settings(max_examples=400, deadline=None)
@given(damaged())
def test_fast_parse_never_accepts_what_the_checked_parse_rejects(case):
    from codec.meta import _from_bytes_fast
    block, shape = case
    fast = _from_bytes_fast(QuantMeta, block, 0, len(block), shape)
    if fast is not None:
        got = checked(block, shape)
        assert not isinstance(got, CodecError), got
        same_meta(fast, got)
