"""GPU decoding (numba.cuda): unpack a package straight into device arrays.

    import codec.cuda
    tensors = codec.cuda.unpack(data)                      # {name: numba device array}
    w = codec.cuda.read_tensor(data, "conv1.weight", dequantize="float16")
    t = torch.as_tensor(w, device="cuda")                   # zero-copy (__cuda_array_interface__)

``import codec`` never imports this subpackage (nor numba.cuda).  Tests run it without a GPU
through numba's simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba.cuda is imported).
See docs/GPU.md.
"""
from .api import DecodePlan, GpuPackage, is_available, read_tensor, unpack

__all__ = ["unpack", "read_tensor", "is_available", "GpuPackage", "DecodePlan"]
