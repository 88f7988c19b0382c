"""REFERENCE.md's fixed quantization recipe and the models/configs every codec is compared on."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from codec.bench import CONFIGS, order0_bits  # noqa: F401  (re-exported)
from codec.bench import quantize_reference as quantize_tensor

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


def load_float(model: str) -> dict[str, np.ndarray]:
    z = np.load(weights_dir() / f"{model}.npz")
    return {k: z[k] for k in z.files}


def quantized_model(model: str, bits: int, sparsity: float) -> dict[str, np.ndarray]:
    return {k: quantize_tensor(v, bits, sparsity) for k, v in load_float(model).items()}
