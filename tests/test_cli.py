"""The ``codec`` command line: round trips per input format, exit codes, errors, atomic output."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import codec
from codec import cli
from codec.io import _util

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("codec: error: "), err
    assert "Traceback" not in err
    return lines[0]


def toy(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv.weight": rng.normal(size=(8, 4, 3, 3)).astype(np.float32),
        "conv.bias": rng.normal(size=8).astype(np.float32),
        "fc.weight": (rng.normal(size=(10, 32)) * 0.1).astype(np.float16),
        "embed.idx": rng.integers(-300, 300, size=(5, 7)).astype(np.int16),
        "mask": rng.integers(0, 2, size=(33,)).astype(np.uint8),
        "temperature": np.array(0.75, np.float32),
    }


def save_npz(path, tensors):
    np.savez(path, **tensors)
    return path


def check_floats(orig: dict, back: dict, bits: int):
    """Each float tensor back within half a (per-tensor max-abs) step; integers exact."""
    for k, a in orig.items():
        b = back[k]
        assert b.shape == a.shape, k
        if a.dtype.kind == "f":
            a64 = a.astype(np.float64)
            step = np.abs(a64).max() / (2 ** (bits - 1) - 1)
            assert np.abs(b.astype(np.float64) - a64).max() <= step / 2 * 1.001 + 1e-12, k
        else:
            assert b.dtype == a.dtype and np.array_equal(a, b), k


@pytest.fixture
def toy_npz(tmp_path):
    return save_npz(tmp_path / "toy.npz", toy())


# ------------------------------------------------------------------------------- help, entry

@pytest.mark.parametrize("cmd", ["compress", "decompress", "info", "verify", "bench", "export-c"])
def test_help_has_examples(capsys, cmd):
    rc, out, _ = run(capsys, cmd, "--help")
    assert rc == 0
    assert "examples:" in out and f"codec {cmd}" in out


def test_top_level_help_and_version(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0 and "export-c" in out and "Exit status" in out
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and codec.__version__ in out


def test_python_m_codec_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "codec", "info", str(tmp_path / "missing.spkg")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.strip() == f"codec: error: {tmp_path / 'missing.spkg'}: no such file"


# ------------------------------------------------------------------------------- round trips

def test_npz_roundtrip_generated(tmp_path, capsys, toy_npz):
    out = tmp_path / "toy.spkg"
    rc, so, _ = run(capsys, "compress", toy_npz, "-o", out, "--bits", 8)
    assert rc == 0 and "bits/param" in so
    assert codec.check(out.read_bytes())
    rc, _, _ = run(capsys, "decompress", out, "-o", tmp_path / "back.npz")
    assert rc == 0
    with np.load(tmp_path / "back.npz") as z:
        back = {k: z[k] for k in z.files}
    assert list(back) == list(toy())
    check_floats(toy(), back, 8)
    assert back["conv.weight"].dtype == np.float32


def test_real_model_roundtrip_with_pruning(tmp_path, capsys, shared_weights):
    src = shared_weights / "fer_emotion_minixception_tflite.npz"
    out = tmp_path / "m.spkg"
    rc, _, _ = run(capsys, "compress", src, "-o", out, "--bits", 6, "--sparsity", "0.5",
                   "--keep-vectors", "--method", "alpha")
    assert rc == 0
    rc, _, _ = run(capsys, "decompress", out, "-o", tmp_path / "back.npz")
    assert rc == 0
    with np.load(src) as z, np.load(tmp_path / "back.npz") as b:
        assert set(z.files) == set(b.files)
        for k in z.files:
            if z[k].ndim <= 1:
                assert np.array_equal(z[k], b[k]), k  # kept exact
            elif z[k].size >= 64:
                assert 0.4 <= np.mean(b[k] == 0) <= 0.75, k  # about half pruned
    rc, _, _ = run(capsys, "verify", out)
    assert rc == 0


def test_tflite_int8_passthrough(tmp_path, capsys, shared_weights):
    src = shared_weights / "fer_emotion_minixception_tflite_int8.npz"
    out = tmp_path / "int8.spkg"
    rc, so, _ = run(capsys, "compress", src, "-o", out)
    assert rc == 0 and "9 prequantized" in so
    info = codec.inspect(out.read_bytes())
    with np.load(src) as z:
        ints = [k for k in z.files if z[k].dtype == np.int8]
        assert sorted(t.name for t in info.tensors) == sorted(ints)
        for t in info.tensors:  # stored as they are: no requantization
            assert t.dtype == "int8"
            assert np.array_equal(codec.read_tensor(out.read_bytes(), t.name), z[t.name])
            assert np.array_equal(t.meta.scale, z[t.name + "_scale"])
            assert t.meta.axis == int(z[t.name + "_quantized_dimension"])
        # --integers gives the TFLite-style companions back exactly
        rc, _, _ = run(capsys, "decompress", out, "-o", tmp_path / "ints.npz", "--integers")
        assert rc == 0
        with np.load(tmp_path / "ints.npz") as b:
            for k in ints:
                assert np.array_equal(b[k], z[k]) and b[k].dtype == np.int8
                assert np.array_equal(b[k + "_scale"], z[k + "_scale"])
                assert np.array_equal(b[k + "_zero_point"], z[k + "_zero_point"])
                assert int(b[k + "_quantized_dimension"]) == int(z[k + "_quantized_dimension"])
        # floats: scale * (q - zero_point) along the quantized dimension
        rc, _, _ = run(capsys, "decompress", out, "-o", tmp_path / "f.npz")
        with np.load(tmp_path / "f.npz") as f:
            k = "separable_conv2d_8_1/DEPTHWISE_CONV_2D/kernel"  # quantized_dimension 3
            want = z[k].astype(np.float64) * z[k + "_scale"].astype(np.float64).reshape(1, 1, 1, -1)
            np.testing.assert_allclose(f[k], want.astype(np.float32), rtol=0, atol=0)
    # and the --integers output compresses back to the same package
    rc, _, _ = run(capsys, "compress", tmp_path / "ints.npz", "-o", tmp_path / "again.spkg")
    assert rc == 0
    a, b = codec.unpack(out.read_bytes()), codec.unpack((tmp_path / "again.spkg").read_bytes())
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_safetensors_roundtrip_with_bfloat16(tmp_path, capsys):
    stn = pytest.importorskip("safetensors.numpy")
    from tests.test_io import write_bf16_safetensors
    t = toy()
    src = tmp_path / "m.safetensors"
    stn.save_file(t, str(src))
    rc, _, _ = run(capsys, "compress", src, "-o", tmp_path / "m.spkg", "--bits", 8)
    assert rc == 0
    rc, _, _ = run(capsys, "decompress", tmp_path / "m.spkg", "-o", tmp_path / "back.safetensors")
    assert rc == 0
    check_floats(t, stn.load_file(str(tmp_path / "back.safetensors")), 8)
    # bfloat16 in, converted exactly to float32 and quantized
    w = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    bf = write_bf16_safetensors(tmp_path / "bf.safetensors", {"w": w})
    rc, _, err = run(capsys, "compress", bf, "-o", tmp_path / "bf.spkg", "--keep", "w")
    assert rc == 0
    rc, _, _ = run(capsys, "decompress", tmp_path / "bf.spkg", "-o", tmp_path / "bf.npz")
    with np.load(tmp_path / "bf.npz") as z:
        assert np.array_equal(z["w"], _util.bf16_to_f32((w.view(np.uint32) >> 16).astype(np.uint16)))


def test_onnx_roundtrip(tmp_path, capsys):
    pytest.importorskip("onnx")
    from tests.test_io import make_onnx
    src, inits = make_onnx(tmp_path / "m.onnx")
    rc, so, err = run(capsys, "compress", src, "-o", tmp_path / "m.spkg", "--bits", 7)
    assert rc == 0 and "int64 -> int32" in err
    rc, _, _ = run(capsys, "decompress", tmp_path / "m.spkg", "-o", tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as z:
        assert np.array_equal(z["shape"], inits["shape"])
        check_floats({k: v for k, v in inits.items() if k != "shape"}, z, 7)


def test_torch_roundtrip(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    sd = {"conv.weight": torch.randn(8, 4, 3, 3).to(torch.bfloat16),
          "conv.bias": torch.randn(8), "fc.weight": torch.randn(10, 8).half(),
          "bn.num_batches_tracked": torch.tensor(7)}
    src = tmp_path / "m.pth"
    torch.save({"state_dict": sd, "epoch": 3}, src)
    rc, _, _ = run(capsys, "compress", src, "-o", tmp_path / "m.spkg", "--granularity", "group",
                   "--group-size", "kernel")
    assert rc == 0
    rc, _, _ = run(capsys, "decompress", tmp_path / "m.spkg", "-o", tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as z:
        assert int(z["bn.num_batches_tracked"]) == 7
        check_floats({k: v.float().numpy() for k, v in sd.items() if v.is_floating_point()}, z, 8)


def test_package_input_for_info_and_bench(tmp_path, capsys, toy_npz):
    pkg = tmp_path / "toy.spkg"
    assert run(capsys, "compress", toy_npz, "-o", pkg)[0] == 0
    rc, out, _ = run(capsys, "bench", pkg, "--bits", "8", "--baselines", "lzma-9", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["format"] == "package" and d["results"][0]["codecs"]["codec"]["bytes"] > 0


def test_keep_vectors_and_scalars_exact(tmp_path, capsys, toy_npz):
    rc, so, _ = run(capsys, "compress", toy_npz, "-o", tmp_path / "k.spkg", "--keep-vectors",
                    "--keep", "fc.weight")
    assert rc == 0 and "exact" in so
    rc, _, _ = run(capsys, "decompress", tmp_path / "k.spkg", "-o", tmp_path / "k.npz")
    with np.load(tmp_path / "k.npz") as z:
        for k in ("conv.bias", "temperature", "fc.weight"):
            assert z[k].shape == toy()[k].shape and z[k].dtype == toy()[k].dtype
            assert np.array_equal(z[k], toy()[k]), k


def test_integer_tensors_stored_as_they_are(tmp_path, capsys):
    t = {"a": np.arange(-50, 50, dtype=np.int16).reshape(10, 10),
         "b": np.arange(256, dtype=np.uint8), "c": np.array(-7, np.int32)}
    src = save_npz(tmp_path / "ints.npz", t)
    assert run(capsys, "compress", src, "-o", tmp_path / "i.spkg", "--bits", 2)[0] == 0
    back = codec.load(tmp_path / "i.spkg")
    for k in t:
        assert back[k].dtype == t[k].dtype and np.array_equal(back[k], t[k])


def test_quiet_and_no_progress_without_tty(tmp_path, capsys, toy_npz):
    rc, out, err = run(capsys, "-q", "compress", toy_npz, "-o", tmp_path / "a.spkg")
    assert rc == 0 and out == "" and err == ""
    rc, out, err = run(capsys, "compress", toy_npz, "-o", tmp_path / "b.spkg", "-q")
    assert rc == 0 and out == "" and err == ""
    rc, out, err = run(capsys, "verify", tmp_path / "b.spkg")
    assert rc == 0 and "OK" in out and err == ""  # stderr is not a TTY: no progress bars


def test_progress_bar_on_tty(tmp_path, capsys, monkeypatch, toy_npz):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    rc, out, err = run(capsys, "compress", toy_npz, "-o", tmp_path / "a.spkg")
    assert rc == 0 and "quantize:" in err and "%|" in err and "%|" not in out


# ------------------------------------------------------------------------------- info / verify

def test_info_json_is_valid(tmp_path, capsys, toy_npz):
    pkg = tmp_path / "toy.spkg"
    run(capsys, "compress", toy_npz, "-o", pkg)
    rc, out, _ = run(capsys, "info", pkg, "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["format"] == "package" and d["version"] == codec.VERSION
    assert [t["name"] for t in d["tensors"]] == list(toy())
    assert d["total_bytes"] == pkg.stat().st_size
    cw = next(t for t in d["tensors"] if t["name"] == "conv.weight")
    assert cw["shape"] == [8, 4, 3, 3] and cw["meta"]["bits"] == 8 and cw["n_groups"] >= 1
    assert d["crc_chunks"] == 1 and d["crc_chunk_bytes"] == 65536
    rc, out, _ = run(capsys, "info", pkg)
    assert rc == 0 and "conv.weight" in out and "bits/param" in out
    assert f"format v{codec.VERSION}" in out and "1 CRC chunk of 65,536 bytes" in out
    old = tmp_path / "toy_v1.spkg"
    run(capsys, "compress", toy_npz, "-o", old, "--format-version", "1")
    assert old.read_bytes()[4] == 1 and old.stat().st_size > pkg.stat().st_size
    rc, out, _ = run(capsys, "info", old)
    assert rc == 0 and "format v1" in out and "CRC chunk" not in out
    assert np.array_equal(codec.load(old)["conv.weight"], codec.load(pkg)["conv.weight"])
    rc, out, _ = run(capsys, "info", toy_npz, "--json")
    d = json.loads(out)
    assert d["format"] == "npz" and d["tensors"][0]["shape"] == [8, 4, 3, 3]


def test_verify_exit_codes(tmp_path, capsys, toy_npz):
    pkg = tmp_path / "toy.spkg"
    run(capsys, "compress", toy_npz, "-o", pkg)
    assert run(capsys, "verify", pkg)[0] == 0
    data = bytearray(pkg.read_bytes())
    info = codec.inspect(bytes(data))
    t = info.tensor("conv.weight")
    data[t.block_offset + t.block_bytes - 1] ^= 0x10  # inside a payload: only the CRC sees it
    bad = tmp_path / "bad.spkg"
    bad.write_bytes(bytes(data))
    rc, out, err = run(capsys, "verify", bad)
    assert rc == 2 and out == ""
    assert "CRC32" in one_error_line(err)
    trunc = tmp_path / "trunc.spkg"
    trunc.write_bytes(pkg.read_bytes()[:-9])
    rc, _, err = run(capsys, "verify", trunc)
    assert rc == 2 and "trunc.spkg" in one_error_line(err)
    rc, _, err = run(capsys, "verify", toy_npz)  # a model, not a package: user error
    assert rc == 1 and "not a codec package" in one_error_line(err)


# ------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("argv_fn, code, text", [
    (lambda d: ["compress", d / "missing.npz", "-o", d / "o.spkg"], 1, "no such file"),
    (lambda d: ["decompress", d / "missing.spkg", "-o", d / "o.npz"], 1, "no such file"),
    (lambda d: ["compress", d / "garbage.npz", "-o", d / "o.spkg"], 1, "not an .npz file"),
    (lambda d: ["compress", d / "garbage.xyz", "-o", d / "o.spkg"], 1, "unknown model format"),
    (lambda d: ["compress", d / "empty.npz", "-o", d / "o.spkg"], 1, "empty"),
    (lambda d: ["decompress", d / "garbage.spkg", "-o", d / "o.npz"], 2, "corrupt"),
    (lambda d: ["info", d / "garbage.spkg"], 2, "corrupt"),
    (lambda d: ["export-c", d / "garbage.spkg", "-o", d / "o.h"], 2, "corrupt"),
    (lambda d: ["compress", d / "toy.npz", "-o", d / "o.spkg", "--bits", "0"], 1, "--bits"),
    (lambda d: ["compress", d / "toy.npz"], 1, "-o"),
    (lambda d: ["compress", d / "toy.npz", "-o", d / "o.spkg", "--sparsity", "2"], 1, "sparsity"),
    (lambda d: ["compress", d / "toy.npz", "-o", d / "o.spkg", "--keep", "nope"], 1, "nope"),
    (lambda d: ["compress", d / "toy.npz", "-o", d / "toy.npz"], 1, "over the input"),
    (lambda d: ["decompress", d / "toy.spkg", "-o", d / "o.txt"], 1, ".npz or .safetensors"),
    (lambda d: ["decompress", d / "toy.npz", "-o", d / "o.npz"], 1, "not a codec package"),
    (lambda d: ["export-c", d / "toy.spkg", "-o", d / "o.h", "--symbol", "9x"], 1, "identifier"),
    (lambda d: ["export-c", d / "toy.spkg", "-o", d / "o.h", "--align", "3"], 1, "power of two"),
    (lambda d: ["bench", d / "toy.npz", "--baselines", "gzip"], 1, "gzip"),
    (lambda d: ["frobnicate"], 1, "invalid choice"),
    (lambda d: [], 1, "required"),
])
def test_errors_are_one_line_with_exit_code(tmp_path, capsys, argv_fn, code, text):
    save_npz(tmp_path / "toy.npz", toy())
    codec.save(tmp_path / "toy.spkg", {"w": np.arange(10, dtype=np.int8)})
    (tmp_path / "garbage.npz").write_bytes(b"definitely not a zip")
    (tmp_path / "garbage.xyz").write_bytes(b"definitely not a model")
    (tmp_path / "garbage.spkg").write_bytes(b"SPKG\x01\x00\x00\x00 and then nonsense")
    (tmp_path / "empty.npz").write_bytes(b"")
    before = (tmp_path / "toy.npz").read_bytes()
    rc, out, err = run(capsys, *argv_fn(tmp_path))
    assert rc == code, err
    assert text in one_error_line(err)
    assert not any(p.name.startswith("o.") for p in tmp_path.iterdir())
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert (tmp_path / "toy.npz").read_bytes() == before


def test_missing_optional_package_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    rc, _, err = run(capsys, "compress", tmp_path / "m.onnx", "-o", tmp_path / "o.spkg")
    assert rc == 1 and "codec[onnx]" in one_error_line(err)


# ------------------------------------------------------------------------------- atomic output

def _failing_writer(f, data):
    mv = memoryview(data).cast("B")
    f.write(mv[:len(mv) // 2])
    f.flush()
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("existing", [False, True])
def test_failed_write_leaves_no_partial_output(tmp_path, capsys, monkeypatch, toy_npz, existing):
    out = tmp_path / "out.spkg"
    if existing:
        out.write_bytes(b"previous contents")
    monkeypatch.setattr(_util, "_write_chunks", _failing_writer)
    rc, _, err = run(capsys, "compress", toy_npz, "-o", out)
    assert rc == 1 and "No space left" in one_error_line(err)
    if existing:
        assert out.read_bytes() == b"previous contents"
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["toy.npz"] + (["out.spkg"] if existing else []))


def test_failed_npz_write_leaves_no_partial_output(tmp_path, capsys, monkeypatch, toy_npz):
    pkg = tmp_path / "toy.spkg"
    run(capsys, "compress", toy_npz, "-o", pkg)

    def boom(f, **kw):
        f.write(b"PK\x03\x04partial")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(np, "savez", boom)
    rc, _, err = run(capsys, "decompress", pkg, "-o", tmp_path / "out.npz")
    assert rc == 130 and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.npz", "toy.spkg"]


# ------------------------------------------------------------------------------- bench

def test_bench_table_json_and_plot(tmp_path, capsys, toy_npz):
    rc, out, _ = run(capsys, "bench", toy_npz, "--bits", "8,4", "--sparsity", "0,0.5")
    assert rc == 0
    for name in ("codec", "zstd-19", "lzma-9", "brotli-11", "order-0", "Mparam/s"):
        assert name in out
    rc, out, _ = run(capsys, "bench", toy_npz, "--bits", "4", "--json")
    d = json.loads(out)
    r = d["results"][0]
    assert r["bits"] == 4 and r["codecs"]["codec"]["bits_per_param"] > 0
    assert set(r["codecs"]) >= {"codec", "lzma-9", "order-0"}
    pytest.importorskip("matplotlib")
    png = tmp_path / "b.png"
    rc, _, _ = run(capsys, "bench", toy_npz, "--bits", "8,4", "--baselines", "lzma-9",
                   "--plot", png, "-q")
    assert rc == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------- export-c

C_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "blob.h"
extern int check_other_tu(const uint8_t *p);
int main(void) {
    if (sizeof(g_model) != G_MODEL_SIZE) return 3;
    if (G_MODEL_FORMAT_VERSION != %(version)d) return 4;
    if (((uintptr_t)g_model) %% G_MODEL_ALIGN != 0) return 5;
    if (memcmp(g_model, "SPKG", 4) != 0) return 6;
    if (!check_other_tu(g_model)) return 7;
    fwrite(g_model, 1, G_MODEL_SIZE, stdout);
    return 0;
}
"""
C_OTHER = r"""
#define G_MODEL_DECLARE_ONLY
#include "blob.h"
int check_other_tu(const uint8_t *p) { return p == g_model && g_model[G_MODEL_SIZE - 1] == 'S'; }
"""


def test_export_c_compiles_and_matches(tmp_path, capsys, shared_weights):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    pkg = tmp_path / "m.spkg"
    run(capsys, "compress", shared_weights / "fer_emotion_minixception_tflite_int8.npz", "-o", pkg)
    rc, _, _ = run(capsys, "export-c", pkg, "-o", tmp_path / "blob.h", "--symbol", "g_model",
                   "--section", ".rodata.model", "--align", "64")
    assert rc == 0
    version = pkg.read_bytes()[4]  # v4, v5 when a tensor got the prediction transform, v6 when
    assert version in (codec.VERSION, 5, 6)  # over other dims than its last two (TFLite's)
    (tmp_path / "main.c").write_text(C_MAIN % {"version": version})
    (tmp_path / "other.c").write_text(C_OTHER)
    exe = tmp_path / "prog"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-o", str(exe),
                    str(tmp_path / "main.c"), str(tmp_path / "other.c")], check=True,
                   cwd=tmp_path, timeout=120)
    r = subprocess.run([str(exe)], capture_output=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout == pkg.read_bytes()


def test_export_c_default_symbol(tmp_path, capsys):
    pkg = tmp_path / "m.spkg"
    codec.save(pkg, {"w": np.arange(100, dtype=np.int8)})
    rc, _, _ = run(capsys, "export-c", pkg, "-o", tmp_path / "model_blob.h")
    assert rc == 0
    text = (tmp_path / "model_blob.h").read_text()
    assert f"#define MODEL_BLOB_SIZE {pkg.stat().st_size}u" in text
    assert f"#define MODEL_BLOB_FORMAT_VERSION {codec.VERSION}" in text
    assert "const uint8_t model_blob[MODEL_BLOB_SIZE]" in text


def test_warmup_compiles_the_decoders_for_each_dtype(capsys):
    from codec.kernels.decode import decode_groups, decode_groups_multi, decode_groups_wide
    rc, out, err = run(capsys, "warmup", "--dtypes", "uint16,int16", "--decode-only")
    assert rc == 0, err
    assert out.splitlines()[0].startswith("uint16") and out.splitlines()[1].startswith("int16")
    assert "kernels ready" in out
    for kern in (decode_groups, decode_groups_wide, decode_groups_multi):  # each met each dtype
        outs = {str(sig[11].dtype) for sig in kern.signatures}
        assert {"uint16", "int16"} <= outs, (kern, outs)
    rc, out, err = run(capsys, "warmup", "--dtypes", "float32")
    assert rc == 1 and "float32" in one_error_line(err)


def test_compress_mirror_and_format_versions(tmp_path, capsys):
    """An STFT-like basis gets the mirror by default (format v4); --mirror off leaves it to the
    prediction transform (v5: a row of taps predicted from the left), --mirror off --predict
    off writes plain v4, --format-version 2 / 3 write those versions; the decoded integers
    are the same either way."""
    n = np.arange(64)
    win = np.sin(np.pi * n / 64) ** 2
    rows = [np.cos(2 * np.pi * k * n / 64) * win for k in range(8)]
    rows += [np.sin(2 * np.pi * k * n / 64) * win for k in range(8)]
    src = save_npz(tmp_path / "stft.npz", {"stft.weight": np.array(rows, np.float32)[:, None, :]})
    pkgs = {}
    for name, extra in (("auto", []), ("off", ["--mirror", "off"]),
                        ("plain", ["--mirror", "off", "--predict", "off"]),
                        ("v2", ["--format-version", "2"]), ("v3", ["--format-version", "3"])):
        pkgs[name] = tmp_path / f"{name}.spkg"
        rc, _, _ = run(capsys, "compress", src, "-o", pkgs[name], *extra)
        assert rc == 0
    assert [pkgs[k].read_bytes()[4] for k in ("auto", "off", "plain", "v2", "v3")] == \
        [4, 5, 4, 2, 3]
    assert pkgs["auto"].stat().st_size < pkgs["off"].stat().st_size < pkgs["plain"].stat().st_size
    rc, out, _ = run(capsys, "info", pkgs["off"])
    assert rc == 0 and "format v5" in out and "predicted" in out
    rc, out, _ = run(capsys, "info", pkgs["auto"])
    assert rc == 0 and "format v4" in out and "mirror rows of 64" in out
    rc, out, _ = run(capsys, "info", pkgs["auto"], "--json")
    assert json.loads(out)["tensors"][0]["mirror"] == [64, 1]
    ref = codec.load(pkgs["off"])["stft.weight"]
    assert all(np.array_equal(codec.load(p)["stft.weight"], ref) for p in pkgs.values())
    assert run(capsys, "verify", pkgs["auto"])[0] == 0
