"""kernels.tables.read_symbol_list (the gamma-coded symbol list of a Huffman table, FORMAT.md
§6.2): the window reader against a bit-by-bit reading of the spec, on valid lists and on
damaged, cut and hostile bit strings (status, end byte, bit offset of the problem, lengths)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.huffman import write_lengths
from codec.kernels.tables import (ERR_DUP, ERR_END, ERR_GAMMA, ERR_RANGE, read_symbol_list)


def spec_read(buf: bytes, start: int, end: int, counts, nsym: int):
    """FORMAT.md §6.2 read one bit at a time: (status, end byte, bit offset, lengths)."""
    lengths = np.zeros(nsym, np.uint8)
    bit, endbit = start * 8, end * 8

    def one():
        nonlocal bit
        if bit >= endbit:
            return None
        b = (buf[bit >> 3] >> (7 - (bit & 7))) & 1
        bit += 1
        return b

    for li, c in enumerate(counts):
        prev = -1
        for _ in range(c):
            nz = 0
            while True:
                b = one()
                if b is None:
                    return ERR_END, 0, bit, lengths
                if b:
                    break
                nz += 1
                if nz > 20:
                    return ERR_GAMMA, 0, bit, lengths
            x = 1
            for _k in range(nz):
                b = one()
                if b is None:
                    return ERR_END, 0, bit, lengths
                x = (x << 1) | b
            s = prev + x
            if s >= nsym:
                return ERR_RANGE, 0, bit, lengths
            if lengths[s]:
                return ERR_DUP, 0, bit, lengths
            lengths[s] = li + 1
            prev = s
    return 0, (bit + 7) >> 3, bit, lengths


def check(buf: bytes, start: int, end: int, counts, nsym: int):
    arr = np.frombuffer(buf, np.uint8)
    got_len = np.full(nsym, 99, np.uint8)
    st_, after, bit = read_symbol_list(arr, start, end, np.array(counts, np.int64), got_len)
    want = spec_read(buf, start, end, counts, nsym)
    assert (int(st_), int(after), int(bit)) == want[:3]
    if st_ == 0:
        assert np.array_equal(got_len, want[3])
    return int(st_)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_valid_lists_read_back(data):
    nsym = data.draw(st.integers(1, 3000))
    k = data.draw(st.integers(1, min(nsym, 300)))
    syms = np.array(sorted(data.draw(st.sets(st.integers(0, nsym - 1), min_size=k, max_size=k))))
    lens = np.zeros(nsym, np.uint8)
    lens[syms] = data.draw(st.lists(st.integers(1, 12), min_size=k, max_size=k))
    counts = np.bincount(lens, minlength=13)[1:13]
    table = bytearray()
    write_lengths(table, lens)
    table = bytes(table)
    pre = data.draw(st.binary(max_size=9))
    buf = pre + table + data.draw(st.binary(max_size=12))
    # the list starts after the 12 counts (varints) of the table bytes
    pos = len(pre)
    for _ in range(12):
        while buf[pos] & 0x80:
            pos += 1
        pos += 1
    assert check(buf, pos, len(buf), counts, nsym) == 0


@settings(max_examples=1500, deadline=None)
@given(st.binary(min_size=0, max_size=40), st.integers(0, 6), st.integers(0, 45),
       st.lists(st.integers(0, 40), min_size=1, max_size=12), st.integers(1, 5000))
def test_any_bits_like_the_spec(buf, start, cut, counts, nsym):
    """Random bytes as a list: every status (cut codes, over-long gaps, symbols past the
    alphabet or listed twice) at the spec's bit offset."""
    end = max(0, len(buf) - cut)
    check(buf, start, end, counts, nsym)


def test_edges():
    # 20 zeros then a 1 then 20 bits: the longest gap; 21 zeros: ERR_GAMMA after the 21st
    longest = "0" * 20 + "1" + "0" * 20
    b = int(longest + "0" * (48 - len(longest)), 2).to_bytes(6, "big")
    assert check(b, 0, 6, [1], 1 << 21) == 0
    assert check(b, 0, 5, [1], 1 << 21) == ERR_END  # its last bits cut off
    z = bytes(4)
    assert check(z, 0, 4, [1], 10) == ERR_GAMMA
    assert check(z, 0, 2, [1], 10) == ERR_END     # 16 zeros and the end
    assert check(z, 0, 3, [1], 10) == ERR_GAMMA   # 21 zeros fit in 24 bits
    assert check(b"\xff", 0, 1, [9], 4) == ERR_RANGE  # gaps of 1 from -1: 0, 1, 2, 3, then 4
    assert check(b"\xc0", 0, 1, [1, 1], 4) == ERR_DUP  # symbol 0 at lengths 1 and 2
    assert check(b"\xff", 1, 1, [1], 4) == ERR_END  # start at the end
    assert check(b"\x80", 0, 1, [1], 1) == 0
    assert check(b"\xc0", 0, 1, [2], 1) == ERR_RANGE
    assert check(b"\x80", 0, 1, [2], 1) == ERR_END  # 7 zero bits, then the end
