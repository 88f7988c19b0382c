"""codec: a sparse-parameter entropy codec for quantized, pruned neural-network weights.

Integers are split into run-length sets (a run of zeros plus one nonzero); each set is a
canonical-Huffman (run, level) symbol, the magnitude remainder and a sign bit; an end-of-group
symbol closes each group (seed CN 2022 "神经网络模型参数的压缩方法").  See docs/FORMAT.md.
"""
from .errors import (ChecksumError, CodecError, CorruptError, LimitError, TruncatedError,
                     UnsupportedError)
from .format import FOOTER_MAGIC, LATEST_VERSION, MAGIC, SUPPORTED_VERSIONS, VERSION, Limits
from .info import inspect
from .frontend import (QuantizedTensor, compress_model, decompress_model, progressive_quantize,
                       prune, prune_finetune_quantize, quantize, quantize_activation)
from .meta import QuantMeta
from .package import Package, check, decode, load, open_package, read_tensor, unpack
from .writer import encode, pack, save

__version__ = "0.1.0"

__all__ = [
    "encode", "decode", "pack", "unpack", "read_tensor", "inspect", "check", "save", "load",
    "open_package", "Package", "QuantMeta", "Limits",
    "quantize", "quantize_activation", "QuantizedTensor", "prune", "compress_model",
    "decompress_model", "progressive_quantize", "prune_finetune_quantize",
    "CodecError", "TruncatedError", "CorruptError", "ChecksumError", "UnsupportedError", "LimitError",
    "MAGIC", "FOOTER_MAGIC", "VERSION", "LATEST_VERSION", "SUPPORTED_VERSIONS",
]
