"""REFERENCE.md's fixed quantization recipe and the models/configs every codec is compared on."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]
MODELS = ["mtcnn_facenet_pytorch", "nudenet_yolov8n_320", "silero_vad_16k",
          "fer_emotion_minixception", "fer_emotion_minixception_tflite"]


def weights_dir() -> Path:
    env = os.environ.get("CODEC_WEIGHTS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "shared" / "weights", here / "shared" / "weights"):
        if cand.is_dir():
            return cand
    return here.parent / "shared" / "weights"


def quantize_tensor(w, bits, sparsity):
    w = np.asarray(w, dtype=np.float32)
    rows = w.reshape(w.shape[0], -1) if w.ndim >= 2 else w.reshape(1, -1)
    if sparsity > 0:
        thr = np.quantile(np.abs(rows), sparsity)
        rows = np.where(np.abs(rows) < thr, 0.0, rows)
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(rows).max(axis=1, keepdims=True) / qmax
    scale[scale == 0] = 1.0
    q = np.round(rows / scale).astype(np.int8 if bits <= 8 else np.int16)
    return q.reshape(w.shape)


def load_float(model: str) -> dict[str, np.ndarray]:
    z = np.load(weights_dir() / f"{model}.npz")
    return {k: z[k] for k in z.files}


def quantized_model(model: str, bits: int, sparsity: float) -> dict[str, np.ndarray]:
    return {k: quantize_tensor(v, bits, sparsity) for k, v in load_float(model).items()}


def order0_bits(tensors: dict[str, np.ndarray]) -> float:
    total = 0.0
    for q in tensors.values():
        _, c = np.unique(q, return_counts=True)
        p = c / c.sum()
        total += float(-(c * np.log2(p)).sum())
    return total
