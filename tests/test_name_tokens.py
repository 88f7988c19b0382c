"""§21's name tokens: the split and the merge of tokens that always occur together, as the
writer (codec.format_v2) and the reference writer (independently) make them."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec import format_v2 as fv2
from codec import reference as ref
from codec.reference.encoder_v2 import DELIMITED, merge_pairs, names_bytes

PARTS = ["batch_", "normalization_", "conv", "2d", "1", "10", "/", ".", "_", ":", "0", "weight",
         "bias", "model.", "x"]


def _unmerged_size(names: list[str]) -> int:
    """write_names' bytes with the plain split (no merge), for comparison."""
    saved = fv2.name_tokens
    fv2.name_tokens = lambda raw: [fv2.tokens(n) for n in raw]
    try:
        out = bytearray()
        fv2.write_names(out, names)
        return len(out)
    finally:
        fv2.name_tokens = saved


def test_chains_merge():
    names = ["batch_normalization_1/batch_normalization_1_1/beta:0",
             "batch_normalization_1/batch_normalization_1_1/gamma:0",
             "batch_normalization_2/batch_normalization_2_1/beta:0"]
    seqs = fv2.name_tokens([n.encode() for n in names])
    assert seqs[0][:2] == [b"batch_normalization_", b"1/"]
    # "0" follows both "beta:" and "gamma:": it stays a token of its own
    assert seqs[0][-2:] == [b"beta:", b"0"] and seqs[1][-2:] == [b"gamma:", b"0"]
    assert [b"".join(q).decode() for q in seqs] == names


def test_a_token_with_two_successors_stays():
    seqs = fv2.name_tokens([b"a.b", b"a.c", b"d.b"])
    assert seqs == [[b"a.", b"b"], [b"a.", b"c"], [b"d.", b"b"]]
    assert fv2.name_tokens([b"x.y.z"]) == [[b"x.y.z"]]  # a lone name is one token


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PARTS), min_size=1, max_size=8).map("".join),
                min_size=1, max_size=25, unique=True))
def test_writer_and_reference_agree(names):
    out = bytearray()
    fv2.write_names(out, names)
    assert bytes(out) == names_bytes(names)
    merged = fv2.name_tokens([n.encode() for n in names])
    assert merged == merge_pairs([DELIMITED.findall(n.encode()) for n in names])
    assert [b"".join(q).decode() for q in merged] == names
    assert len(out) <= _unmerged_size(names)  # merging never costs bytes


def test_real_names_shrink(shared_weights):
    from benchmarks.recipe import MODELS, load_float
    sizes = {}
    for m in MODELS:
        names = list(load_float(m))
        out = bytearray()
        fv2.write_names(out, names)
        assert bytes(out) == names_bytes(names)
        sizes[m] = (_unmerged_size(names), len(out))
    assert all(b <= a for a, b in sizes.values())
    assert sizes["fer_emotion_minixception"][1] < sizes["fer_emotion_minixception"][0]


def test_package_round_trip_and_reencode():
    names = [f"blk{i}.batch_norm.{w}" for i in range(4) for w in ("weight", "bias")]
    ts = {n: np.arange(i, i + 6, dtype=np.int8) for i, n in enumerate(names)}
    data = codec.pack(ts)
    assert list(codec.unpack(data)) == names and list(ref.unpack(data)) == names
    assert ref.reencode(data) == data
