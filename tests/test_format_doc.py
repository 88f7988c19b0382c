"""docs/FORMAT.md's worked example and tables agree with the code."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import codec
from codec import reference as ref
from codec.reference.decoder import class_base, mag_class
from codec.reference.encoder import varint, zigzag

DOC = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"
EXAMPLE = np.array([0, 0, 3, 0, -1, 0, 0, 0], np.int8)


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


EXAMPLE_V2 = {"fc.weight": np.array([[0, 0, 3], [0, -1, 0]], np.int8),
              "fc.bias": np.array([0, 0, 0, 0], np.int8)}


def hex_dump(tag: str = "hex") -> list[tuple[int, bytes]]:
    """The ```hex (v1) or ```hex-v2 block: lines 'OFFSET: HEX BYTES   # comment' ->
    [(offset, bytes)]."""
    m = re.search(rf"^```{tag}\n(.*?)^```", doc_text(), re.S | re.M)
    assert m, f"no ```{tag} block in FORMAT.md"
    rows = []
    for line in m.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        off, _, rest = line.partition(":")
        rows.append((int(off, 16), bytes.fromhex(rest)))
    return rows


def test_worked_example_is_what_encode_writes():
    rows = hex_dump()
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    assert data == codec.encode(EXAMPLE, group="tensor", version=1)
    assert "codec.encode(np.array([0, 0, 3, 0, -1, 0, 0, 0], np.int8), group=\"tensor\", " \
        "version=1)" in doc_text()
    assert f"The {len(data)}-byte package" in doc_text()


def test_v2_worked_example_is_what_pack_writes():
    rows = hex_dump("hex-v2")
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    assert data == codec.pack(EXAMPLE_V2, group="kernel", version=2)
    assert data[4] == 2
    assert ('codec.pack({"fc.weight": np.array([[0, 0, 3], [0, -1, 0]], np.int8),\n'
            '            "fc.bias": np.array([0, 0, 0, 0], np.int8)}, group="kernel")') in doc_text()
    assert f"The {len(data)}-byte package" in doc_text()
    v1 = codec.pack(EXAMPLE_V2, group="kernel", version=1)
    assert f"The same tensors in v1 take {len(v1)} bytes" in doc_text()


def test_v2_worked_example_decodes_in_both_readers():
    data = b"".join(b for _, b in hex_dump("hex-v2"))
    for got in (ref.unpack(data), codec.unpack(data)):
        assert list(got) == list(EXAMPLE_V2)
        for k, v in EXAMPLE_V2.items():
            assert got[k].dtype == v.dtype and np.array_equal(got[k], v)
    assert ref.reencode(data) == data
    p = ref.read_package(data)
    (t,) = p.tables
    assert (t.kref, t.nrun, t.nclass) == (1, 3, 3)
    assert [(s, ln) for s, ln in enumerate(t.lengths) if ln] == [(0, 1), (3, 2), (10, 2)]
    w, b = p.entries
    assert (w.block_offset, w.block_length, w.group_lengths, w.len_bits) == (8, 2, [4, 4], 3)
    assert (b.block_offset, b.block_length, b.group_lengths, b.len_bits) == (10, 2, [1], 1)
    d = codec.Package(data).directory
    assert d.chunk_log2 == 16 and d.chunk_crcs.tolist() == [0x3BBFB565]


def test_v4_worked_example_is_what_pack_writes():
    rows = hex_dump("hex-v4")
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    assert data == codec.pack(EXAMPLE_V2, group="kernel")
    assert data[4] == 4 == codec.VERSION
    assert f"The {len(data)}-byte package" in doc_text()
    v2 = codec.pack(EXAMPLE_V2, group="kernel", version=2)
    assert f"The same tensors take {len(v2)} bytes in v2" in doc_text()


def test_v4_worked_example_decodes():
    data = b"".join(b for _, b in hex_dump("hex-v4"))
    got = codec.unpack(data)
    assert list(got) == list(EXAMPLE_V2)
    for k, v in EXAMPLE_V2.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v)
    d = codec.Package(data).directory
    w, b = d.tensors
    assert (w.block_offset, w.block_length, w.glen, w.len_bits, w.n_groups) == (8, 2, 0, 3, 2)
    assert (b.block_offset, b.block_length, b.glen, b.group_table_bytes) == (10, 1, 1, 0)
    assert (d.directory_offset, d.directory_length) == (11, 41)
    assert d.chunk_log2 == 16 and d.chunk_crcs.tolist() == [0x33475E26]


def test_exp_golomb_examples():
    from codec.format_v4 import BitWriter
    text = " ".join(doc_text().split())
    for n, k, code in [(0, 0, "1"), (1, 0, "010"), (2, 0, "011"), (3, 0, "00100"),
                       (4, 0, "00101"), (3, 2, "1 11"), (5, 2, "010 01")]:
        bw = BitWriter()
        bw.eg(n, k)
        assert format(bw.acc, f"0{bw.n}b") == code.replace(" ", "")
        assert f"{n} → `{code}`" in text


def test_worked_example_decodes_in_both_readers():
    data = b"".join(b for _, b in hex_dump())
    for got in (ref.decode(data), codec.decode(data)):
        assert got.dtype == EXAMPLE.dtype and np.array_equal(got, EXAMPLE)
    assert ref.reencode(data) == data
    p = ref.read_package(data)
    (t,) = p.tables
    assert (t.kref, t.nrun, t.nclass) == (1, 3, 3)
    assert [(s, ln) for s, ln in enumerate(t.lengths) if ln] == [(0, 2), (3, 2), (10, 1)]
    e = p.entries[0]
    assert (e.group_lengths, e.len_bits, e.block_offset, e.block_length) == ([7], 3, 8, 2)


def test_magnitude_class_examples():
    rows = re.findall(r"^\| (\d) \| (\d+)(?: = `[01]+b`)? \| (\d+) \| (\d+) \| (`[01]+`|–) \|$",
                      doc_text(), re.M)
    assert len(rows) >= 6
    for kref, m, c, e, rem in rows:
        kref, m, c, e = int(kref), int(m), int(c), int(e)
        got_c, got_e, got_r = mag_class(m, kref)
        assert (got_c, got_e) == (c, e), (kref, m)
        if rem != "–":
            assert format(got_r, f"0{e}b") == rem.strip("`")
        base, eb = class_base(c, kref)
        assert eb == e and base <= m < base + (1 << e)


def test_max_classes_and_varint_examples():
    from codec.reference.decoder import max_classes
    assert "32, 63, 123, 239, 463, 895, 1727" in doc_text()
    assert [max_classes(k) for k in range(7)] == [32, 63, 123, 239, 463, 895, 1727]
    rows = re.findall(r"^\| ([0-9^ −]+) \| `([0-9a-f ]+)` \|$", doc_text(), re.M)
    assert len(rows) == 5
    for v, hx in rows:
        value = (1 << 32) - 1 if v.strip() == "2^32 − 1" else int(v)
        assert varint(value) == bytes.fromhex(hx)
    assert [zigzag(v) for v in (0, -1, 1, -2, 2)] == [0, 1, 2, 3, 4]
