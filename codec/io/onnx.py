"""ONNX models: the graph initializers (weights) as named arrays."""
from __future__ import annotations

import numpy as np

from ._util import FormatError, require


def read_onnx(path) -> dict[str, np.ndarray]:
    onnx = require("onnx", "onnx", "reading .onnx files")
    from onnx import numpy_helper
    try:
        model = onnx.load(str(path), load_external_data=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # protobuf's DecodeError and friends
        raise FormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    out: dict[str, np.ndarray] = {}

    def collect(graph):
        for init in graph.initializer:
            try:
                out[init.name] = numpy_helper.to_array(init)
            except Exception as exc:
                raise FormatError(f"{path}: initializer {init.name!r}: {exc}") from None
        for node in graph.node:  # subgraphs (If / Loop bodies) hold initializers too
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    collect(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        collect(g)

    collect(model.graph)
    if not out:
        raise FormatError(f"{path}: the ONNX model has no initializers (weights)")
    return out
