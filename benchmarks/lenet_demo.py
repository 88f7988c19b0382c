"""LeNet-5 on scikit-learn's digits: post-training quantization, prune + fine-tune (+ QAT) and
progressive quantization at 8 / 4 / 2 bits, with and without pruning, through the codec.

    python benchmarks/lenet_demo.py            # full run -> benchmarks/results/lenet.{json,md,png}
    python benchmarks/lenet_demo.py --quick    # small, fast version (what the test suite runs)

Needs torch and scikit-learn (``pip install .[torch,demo]``); matplotlib only for the plot.
Every number comes from a package made by ``codec.pack`` and read back by ``decompress_model``:
the accuracy is measured on the decoded weights.  Seeded and reproducible (CPU, fixed threads).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import codec  # noqa: E402
from codec.frontend import (decompress_model, pack_model, progressive_quantize,  # noqa: E402
                            prune, prune_finetune_quantize, quantize)
from codec.frontend.torch_adapter import (ActivationQuantizer, evaluate, load_numpy_,  # noqa: E402
                                          make_fine_tune, to_numpy)

WEIGHTS = ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight", "fc3.weight"]
BIASES = [w.replace("weight", "bias") for w in WEIGHTS]
# per-layer sparsity (fc layers hold 95 % of the weights and take the most pruning)
SPARSITY = {"conv1.weight": 0.3, "conv2.weight": 0.75, "fc1.weight": 0.96, "fc2.weight": 0.9,
            "fc3.weight": 0.6}
PRUNE_SCHEDULE = (0.5, 0.8, 1.0)  # iterative pruning: these shares of the target, each fine-tuned
GRANULARITY = "tensor"  # measured: per-channel scales cost ~20 % more bytes here for no accuracy
BIAS_BITS = 8


class LeNet5(nn.Module):
    """LeNet-5 (32x32 input): conv5-6, pool, conv5-16, pool, fc120, fc84, fc10.  Seed 000's
    fixed-point activation quantizers sit at the input of every layer but the first."""

    def __init__(self, act_bits: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.aq = nn.ModuleList(ActivationQuantizer(act_bits, enabled=False) for _ in range(4))

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(self.aq[0](x))), 2)
        x = torch.relu(self.fc1(self.aq[1](x.flatten(1))))
        x = torch.relu(self.fc2(self.aq[2](x)))
        return self.fc3(self.aq[3](x))

    def quantize_activations(self, enabled: bool) -> "LeNet5":
        for a in self.aq:
            a.enabled = enabled
        return self


def load_data(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = (x - 0.25) / 0.35
    y = torch.tensor(d.target, dtype=torch.long)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.4, random_state=seed, stratify=d.target)
    return x[tr], y[tr], x[te], y[te]


def shift(xb: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Data augmentation: translate each image by up to ``max_shift`` pixels (zero fill)."""
    n, _, h, w = xb.shape
    pad = nn.functional.pad(xb, (max_shift,) * 4, value=float(xb.min()))
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return pad[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2).contiguous()


def train_float(x, y, *, epochs: int, seed: int) -> LeNet5:
    torch.manual_seed(seed)
    model = LeNet5()
    make_fine_tune(model, x, y, epochs=epochs, lr=2e-3, augment=shift, seed=seed)(_full_step(model))
    return model


def _full_step(model):
    from codec.frontend import FineTuneStep

    w = to_numpy(model)
    return FineTuneStep("finetune", 0, tuple(w), w, {k: np.zeros(v.shape, bool) for k, v in w.items()})


def _package(weights_q: dict, floats: dict) -> bytes:
    """Weights as quantized, biases at 8 bits per tensor, everything through codec.pack."""
    tensors = {}
    for n in floats:
        if n in weights_q:
            tensors[n] = weights_q[n]
        else:
            tensors[n] = quantize(floats[n], bits=BIAS_BITS)
    return pack_model(tensors)


def _score(model, data: bytes, xt, yt) -> tuple[float, float]:
    dec = decompress_model(data)
    m = LeNet5()
    m.load_state_dict(model.state_dict())  # activation-quantizer calibration buffers
    load_numpy_(m, dec)
    acc = evaluate(m.quantize_activations(False), xt, yt)
    acc_a8 = evaluate(m.quantize_activations(True), xt, yt)
    return 100 * acc, 100 * acc_a8


def _entropy_bytes(q: dict) -> float:
    """Order-0 entropy of the integers (a reference figure: no scales, no headers)."""
    total = 0.0
    for t in q.values():
        v = t.values.reshape(-1)
        _, c = np.unique(v, return_counts=True)
        p = c / v.size
        total += float(-(c * np.log2(p)).sum()) / 8
    return total


def run(*, quick: bool = False, seed: int = 0, bits_list=(8, 4, 2), log=print) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # reproducible sums, and robust on a busy 2-core machine
    t0 = time.perf_counter()
    x, y, xt, yt = load_data(seed)
    ep_float, ep_ft, ep_stage = (6, 1, 1) if quick else (40, 10, 3)
    model = train_float(x, y, epochs=ep_float, seed=seed)
    model.quantize_activations(True).train()
    with torch.no_grad():  # calibrate the activation quantizers' fixed-point formats
        model(x)
    model.quantize_activations(False).eval()
    floats = to_numpy(model)
    n_params = sum(v.size for v in floats.values())
    float_bytes = 4 * n_params
    base_acc = 100 * evaluate(model, xt, yt)
    base_acc_a8 = 100 * evaluate(model.quantize_activations(True), xt, yt)
    model.quantize_activations(False)
    log(f"float32 LeNet-5: {n_params} params, {float_bytes} bytes, test accuracy {base_acc:.2f} % "
        f"({base_acc_a8:.2f} % with 8-bit activations), {len(yt)} test images, "
        f"trained in {time.perf_counter() - t0:.1f} s")
    rows = []

    def record(method, bits, pruned, qmap, extra=None):
        data = _package(qmap, floats if extra is None else extra)
        acc, acc_a8 = _score(model, data, xt, yt)
        nz = sum(int(np.count_nonzero(qmap[n].values)) for n in WEIGHTS)
        row = {"method": method, "bits": bits, "pruned": pruned, "bytes": len(data),
               "factor": float_bytes / len(data), "accuracy": acc, "accuracy_act8": acc_a8,
               "delta": acc - base_acc, "nonzero_weights": nz,
               "bits_per_param": 8 * len(data) / n_params,
               "entropy_bytes": _entropy_bytes({n: qmap[n] for n in WEIGHTS})}
        rows.append(row)
        log(f"  {method:<22} {bits:>2} bits {'pruned' if pruned else '      '} "
            f"{len(data):>7} B  x{row['factor']:6.1f}  acc {acc:6.2f} ({row['delta']:+.2f})  "
            f"act8 {acc_a8:6.2f}")
        return row

    stages = [[n] for n in WEIGHTS]
    ft = make_fine_tune(LeNet5(), x, y, epochs=ep_ft, lr=1e-3, augment=shift, seed=seed)
    stage_ft = make_fine_tune(LeNet5(), x, y, epochs=ep_stage, lr=5e-4, augment=shift, seed=seed)
    # iterative prune + fine-tune once (shared by every bit width)
    pruned_w = floats
    for share in (1.0,) if quick else PRUNE_SCHEDULE:
        pruned = prune_finetune_quantize(pruned_w, sparsity={k: v * share for k, v in SPARSITY.items()},
                                         bits=None, names=WEIGHTS, fine_tune=ft)
        pruned_w = pruned.float_weights
    frozen = {n: ~pruned.masks[n] for n in WEIGHTS}
    for bits in bits_list:
        gran = GRANULARITY
        method = "alpha" if bits <= 2 else "maxabs"
        # (i) post-training quantization, no pruning (per tensor, and per channel for reference)
        for g in (gran, "channel"):
            ptq = {n: quantize(floats[n], bits=bits, granularity=g, method=method) for n in WEIGHTS}
            record("PTQ" if g == gran else "PTQ per-channel", bits, False, ptq)
        # (i') post-training quantization of the pruned float model (no fine-tune)
        ptq_p = {n: quantize(prune(floats[n], SPARSITY[n]), bits=bits, granularity=gran,
                             method=method) for n in WEIGHTS}
        record("PTQ", bits, True, ptq_p)
        # (ii) prune + fine-tune, then quantization-aware fine-tune (same zeros: re-pruning the
        # same share of an already pruned tensor picks its zeros)
        qat = prune_finetune_quantize(pruned_w, sparsity=SPARSITY, bits=bits, names=WEIGHTS,
                                      granularity=gran, method=method, qat_fine_tune=ft)
        record("prune+FT+QAT", bits, True, qat.quantized, qat.weights)
        # (iii) progressive quantization (seed 001), without and with pruning
        prog = progressive_quantize(floats, stages, fine_tune=stage_ft, fraction=0.5, bits=bits,
                                    granularity=gran, method=method)
        record("progressive", bits, False, prog.quantized, prog.weights)
        prog_p = progressive_quantize(pruned_w, stages, fine_tune=stage_ft, fraction=0.5,
                                      bits=bits, granularity=gran, method=method, frozen=frozen)
        record("prune+FT+progressive", bits, True, prog_p.quantized, prog_p.weights)
    return {
        "dataset": "scikit-learn load_digits (8x8 upsampled to 32x32), 60/40 stratified split",
        "train_images": int(len(y)), "test_images": int(len(yt)), "seed": seed, "quick": quick,
        "params": n_params, "float32_bytes": float_bytes, "float_accuracy": base_acc,
        "float_accuracy_act8": base_acc_a8, "sparsity": SPARSITY, "bias_bits": BIAS_BITS,
        "prune_schedule": PRUNE_SCHEDULE, "granularity": GRANULARITY,
        "rows": rows, "seconds": time.perf_counter() - t0,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "codec": codec.__version__},
    }


def markdown(res: dict) -> str:
    lines = [
        f"# LeNet-5 on digits through the codec{' (quick run)' if res['quick'] else ''}",
        "",
        f"{res['dataset']}; {res['train_images']} training / {res['test_images']} test images; "
        f"seed {res['seed']}. Float32 model: {res['params']} parameters = "
        f"{res['float32_bytes']} bytes, test accuracy **{res['float_accuracy']:.2f} %** "
        f"({res['float_accuracy_act8']:.2f} % with 8-bit fixed-point activations).",
        "",
        "Bytes = the whole `codec.pack` package (headers, Huffman tables, float32 scales, biases "
        f"at {res['bias_bits']} bits); accuracy is measured on the weights decoded from it. "
        "`act8` = also quantizing every layer's input but the first to 8-bit fixed point "
        "(seed 000). 2-bit rows use seed 000's alpha-refined scales, the others max-abs; one "
        "scale per tensor except the `PTQ per-channel` rows. Training and fine-tuning use random "
        "±2-pixel shifts. Pruning is iterative (fine-tuned at "
        + ", ".join(f"{s:.0%}" for s in res["prune_schedule"]) + " of the target). "
        "Pruned rows: per-layer sparsity "
        + ", ".join(f"{k.split('.')[0]} {v:.0%}" for k, v in res["sparsity"].items()) + ".",
        "",
        "| method | bits | pruned | bytes | × vs float32 | bits/param | accuracy % | Δ points | act8 % |",
        "|---|---:|:---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['method']} | {r['bits']} | {'yes' if r['pruned'] else 'no'} | "
                     f"{r['bytes']:,} | {r['factor']:.1f} | {r['bits_per_param']:.3f} | "
                     f"{r['accuracy']:.2f} | {r['delta']:+.2f} | {r['accuracy_act8']:.2f} |")
    best = [r for r in res["rows"] if r["delta"] >= -0.5]
    if best:
        b = max(best, key=lambda r: r["factor"])
        lines += ["", f"Smallest package within 0.5 points of float32: **{b['method']}, {b['bits']} "
                  f"bits{', pruned' if b['pruned'] else ''}: {b['bytes']:,} bytes, "
                  f"{b['factor']:.1f}× smaller, {b['accuracy']:.2f} % ({b['delta']:+.2f})**."]
    lines += ["", f"Run time {res['seconds']:.0f} s on {platform.machine()}, torch {res['versions']['torch']}."]
    return "\n".join(lines) + "\n"


def plot(res: dict, path: pathlib.Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in dict.fromkeys(r["method"] for r in res["rows"]):
        for pruned, marker in ((False, "o"), (True, "s")):
            rs = [r for r in res["rows"] if r["method"] == method and r["pruned"] == pruned]
            if rs:
                ax.plot([r["factor"] for r in rs], [r["accuracy"] for r in rs], marker,
                        label=f"{method}{' (pruned)' if pruned and 'prune' not in method else ''}")
                for r in rs:
                    ax.annotate(f"{r['bits']}b", (r["factor"], r["accuracy"]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
    ax.axhline(res["float_accuracy"], color="k", lw=0.8, label="float32")
    ax.axhline(res["float_accuracy"] - 0.5, color="k", lw=0.8, ls="--", label="float32 − 0.5")
    ax.axvline(40, color="gray", lw=0.8, ls=":", label="40×")
    ax.set_xscale("log")
    ax.set_xlabel("compression factor vs float32 (whole codec package)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("LeNet-5 / digits")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small, fast version")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    res = run(quick=args.quick, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "lenet_quick" if args.quick else "lenet"
    (args.out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res)
    (args.out / f"{stem}.md").write_text(md)
    if plot(res, args.out / f"{stem}.png"):
        print(f"plot: {args.out / f'{stem}.png'}")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
