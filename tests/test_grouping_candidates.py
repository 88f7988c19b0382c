"""Effort 1's grouping candidates (codec/package.py ``_group_candidates``, ``_best_plan``):
'auto', 'kernel' and, for small models, ('auto', BIG_GROUP); then the per-tensor mixed
candidate (``_mixed_plan``)."""
from __future__ import annotations

import numpy as np
import pytest

import codec
import codec.writer as pk
from codec.planner import group_size_for


def test_auto_with_a_least_group_size():
    assert group_size_for((64, 8, 3, 3), ("auto", 16384)) == ("kernels", 72 * 228)
    assert group_size_for((64, 8, 3, 3), ("auto", 72)) == ("kernel", 72)
    assert group_size_for((64, 8, 3, 3), "auto") == group_size_for((64, 8, 3, 3), ("auto", 4096))
    assert group_size_for((100,), ("auto", 16384)) == ("kernels", 16400)  # (1-D as 'auto')
    with pytest.raises(ValueError, match=">= 1"):
        group_size_for((4, 4), ("auto", 0))
    with pytest.raises(ValueError, match="group must be"):
        group_size_for((4, 4), ("auto", 1, 2))


def _planned(monkeypatch) -> list:
    """The groupings _best_plan plans, in order (recorded from _plan)."""
    seen = []
    real = pk._plan

    def spy(src, names, **kw):
        seen.append(src.group)
        return real(src, names, **kw)
    monkeypatch.setattr(pk, "_plan", spy)
    return seen


def _bn_model(rng) -> dict:
    """Small model, 'auto' beats 'kernel': sparse 4-bit kernels of one scale."""
    ts = {}
    for i in range(6):
        w = np.clip(np.round(rng.normal(0, 2.0, (32, 16, 3, 3))), -7, 7).astype(np.int8)
        w[rng.random(w.shape) < 0.9] = 0
        ts[f"conv{i}.weight"] = w
        ts[f"bn{i}.weight"] = rng.integers(-7, 8, 32).astype(np.int8)
    return ts


def test_small_model_tries_bigger_groups(monkeypatch):
    ts = _bn_model(np.random.default_rng(1))
    sizes = {str(g): len(codec.pack(ts, group=g))
             for g in (("auto", 4096), "kernel", ("auto", 16384))}
    assert sizes[str(("auto", 4096))] <= sizes["kernel"]  # (the model is made so)
    seen = _planned(monkeypatch)
    data = codec.pack(ts)
    # (then the alphabet's exact-size search plans the winner again: below)
    assert seen[:3] == ["auto", "kernel", ("auto", pk.BIG_GROUP)]
    assert len(data) <= min(sizes[str(("auto", 4096))], sizes[str(("auto", 16384))])
    out = codec.unpack(data)
    assert all(np.array_equal(out[k], v) for k, v in ts.items())


def test_no_bigger_groups_when_kernel_wins(monkeypatch, shared_weights):
    """One group a kernel wins (mtcnn 8-bit dense): the coarser candidate is not planned; the
    per-tensor mixed candidate is (some tensors' blocks are smaller in whole kernels of >= 4096
    values) and wins (428,613 -> 427,927 B on 2026-11-27)."""
    from benchmarks.recipe import quantized_model
    q = quantized_model("mtcnn_facenet_pytorch", 8, 0.0)
    kernel = codec.pack(q, group="kernel")
    assert len(kernel) < len(codec.pack(q, group=("auto", 4096)))
    seen = _planned(monkeypatch)
    data = codec.pack(q)
    assert seen[:2] == ["auto", "kernel"] and len(seen) == 3 and isinstance(seen[2], dict)
    assert {str(g) for g in seen[2].values()} == {"auto", "kernel"}
    assert len(data) < len(kernel)
    modes = {t.group_mode for t in codec.inspect(data).tensors if t.n_groups > 1}
    assert modes == {"kernel", "kernels"}
    assert all(np.array_equal(v, q[k]) for k, v in codec.unpack(data).items())


def _mixed_model(rng) -> dict:
    """A conv whose channels alternate between two scales (one group and table a kernel
    pays) beside a matrix of 16-value rows of one scale (bigger groups pay)."""
    scale = np.where(np.arange(96) % 2, 40.0, 0.6)[:, None, None, None]
    a = rng.normal(0, 1, (96, 64, 3, 3)) * scale
    b = rng.laplace(0, 3, (1024, 16))
    return {"conv.weight": np.clip(np.round(a), -127, 127).astype(np.int8),
            "fc.weight": np.clip(np.round(b), -127, 127).astype(np.int8)}


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_mixed_groupings_per_tensor(monkeypatch, tmp_path, version):
    """Each tensor grouped as in the candidate whose block for it is smallest: smaller than
    every single grouping and than the best candidate; save() (streamed, tensor by tensor)
    writes the same bytes; the reference decoder reads it and writes it again byte for byte."""
    import codec.reference as ref
    ts = _mixed_model(np.random.default_rng(0))
    data = codec.pack(ts, version=version)
    modes = {t.name: t.group_mode for t in codec.inspect(data).tensors}
    assert modes == {"conv.weight": "kernel", "fc.weight": "kernels"}
    singles = [len(codec.pack(ts, group=g, version=version))
               for g in (("auto", 4096), "kernel", ("auto", pk.BIG_GROUP))]
    assert len(data) < min(singles)
    assert codec.save(tmp_path / "m.spkg", ts, version=version) == len(data)
    assert (tmp_path / "m.spkg").read_bytes() == data
    assert ref.reencode(data) == data
    assert all(np.array_equal(v, ts[k]) for k, v in codec.unpack(data).items())
    monkeypatch.setattr(pk, "MIXED_MIN_GAIN", float("inf"))  # (the mixed candidate off)
    assert len(data) < len(codec.pack(ts, version=version))


def test_mixed_candidate_needs_a_promised_gain(monkeypatch):
    """No mixed plan when every tensor's smallest block is one candidate's, or when the
    candidates promise less than MIXED_MIN_GAIN; a plain list is no grouping option."""
    seen = _planned(monkeypatch)
    ts = _mixed_model(np.random.default_rng(1))
    codec.pack(ts)
    assert any(isinstance(g, dict) for g in seen)
    seen.clear()
    codec.pack({"fc.weight": ts["fc.weight"]})  # (one tensor: nothing to mix)
    assert seen and not any(isinstance(g, dict) for g in seen)
    seen.clear()
    monkeypatch.setattr(pk, "MIXED_MIN_GAIN", 0.5)
    codec.pack(ts)
    assert seen and not any(isinstance(g, dict) for g in seen)
    with pytest.raises(ValueError, match="group must be"):
        codec.pack(ts, group=["kernel", "auto"])


def test_big_models_keep_two_candidates(monkeypatch):
    ts = _bn_model(np.random.default_rng(3))
    monkeypatch.setattr(pk, "SMALL_MODEL_PARAMS", 1000)
    seen = _planned(monkeypatch)
    data = codec.pack(ts)
    assert sorted(map(str, seen)) == ["auto", "kernel"]  # (and no mixed plan: one scale)
    assert len(data) == min(len(codec.pack(ts, group=g)) for g in (("auto", 4096), "kernel"))


def test_fer_gets_the_bigger_groups(shared_weights):
    """On the real fer model at 4 bits, 90 % sparse, the bigger groups win (7011 -> 6951 B
    on 2026-11-26)."""
    from benchmarks.recipe import quantized_model
    q = quantized_model("fer_emotion_minixception", 4, 0.9)
    data = codec.pack(q)
    groups = {t.name: t.n_groups for t in codec.inspect(data).tensors}
    assert groups == {k: -(-v.size // group_size_for(v.shape, ("auto", pk.BIG_GROUP))[1])
                      for k, v in q.items()}
    assert len(codec.pack(q, group=("auto", pk.BIG_GROUP))) < \
        min(len(codec.pack(q, group=g)) for g in (("auto", 4096), "kernel"))


def test_small_model_alphabet_by_exact_size(monkeypatch, shared_weights):
    """Below SMALL_MODEL_PARAMS values the sampled estimate's alphabet and its neighbours
    are sized exactly: fer_tflite 4/0 codes zero runs of 1 jointly (nrun 2, the estimate
    said 1) and is 108 B smaller (2026-11-26)."""
    from benchmarks.recipe import quantized_model
    q = quantized_model("fer_emotion_minixception_tflite", 4, 0.0)
    data = codec.pack(q)
    assert {t["nrun"] for t in codec.inspect(data).to_dict()["tables"]} == {2}
    monkeypatch.setattr(pk, "SMALL_MODEL_PARAMS", 0)
    plain = codec.pack(q)
    assert {t["nrun"] for t in codec.inspect(plain).to_dict()["tables"]} == {1}
    assert len(data) < len(plain)
    assert all(np.array_equal(v, q[k]) for k, v in codec.unpack(data).items())


def test_alphabet_refinement_never_grows_and_skips_big_models(monkeypatch):
    ts = _bn_model(np.random.default_rng(4))
    calls = []
    real = pk._refine_alphabet

    def spy(best, plan_of):
        calls.append(best.alphabet)
        out = real(best, plan_of)
        assert out.size <= best.size
        return out
    monkeypatch.setattr(pk, "_refine_alphabet", spy)
    refined = codec.pack(ts)
    assert len(calls) == 1
    monkeypatch.setattr(pk, "SMALL_MODEL_PARAMS", 1000)  # (the model has ~28 K values)
    assert len(codec.pack(ts)) >= len(refined)
    assert len(calls) == 1


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_every_candidate_is_sized_exactly(monkeypatch, version):
    """The encoder's directory size of each candidate plan (v4: counted, not written) is the
    length of the directory that plan writes, and the chosen plan's size is the package's."""
    ts = _bn_model(np.random.default_rng(5))
    seen = []
    real = pk._directory_size

    def spy(plan, entries, end):
        n = real(plan, entries, end)
        assert n == len(pk._directory(plan, entries, end, None))
        seen.append(n)
        return n
    monkeypatch.setattr(pk, "_directory_size", spy)
    sizes = []
    real_size = pk._size
    monkeypatch.setattr(pk, "_size", lambda plan: sizes.append(real_size(plan)) or sizes[-1])
    data = codec.pack(ts, version=version)
    assert len(seen) >= 3 and len(data) in sizes


def test_v4_table_price_refinement(monkeypatch):
    """Small models in v4 are planned again with v4's table price; kept only if smaller, never
    for v1-v3 or big models."""
    ts = _bn_model(np.random.default_rng(6))
    calls = []
    real = pk._refine_tables

    def spy(best, plan_of):
        out = real(best, plan_of)
        calls.append((best.size, out.size))
        assert out.size <= best.size
        return out
    monkeypatch.setattr(pk, "_refine_tables", spy)
    codec.pack(ts)
    assert len(calls) == 1
    codec.pack(ts, version=3)
    assert len(calls) == 1
    monkeypatch.setattr(pk, "SMALL_MODEL_PARAMS", 1000)
    codec.pack(ts)
    assert len(calls) == 1
