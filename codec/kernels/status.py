"""Negative status codes returned by the kernels, and their messages."""

OK = 0
ERR_INVALID_CODE = -1       # the next bits match no Huffman code of the group's table
ERR_RUN_OVERFLOW = -2       # a zero run or value would write past the end of the group
ERR_OVERRUN = -3            # decoding ran past the group's recorded bit length
ERR_LENGTH_MISMATCH = -4    # the group's end symbol came before its recorded bit length
ERR_RANGE = -5              # a decoded value does not fit the tensor's dtype
ERR_BUFFER = -6             # an index fell outside a buffer (never for validated input)
ERR_SYMBOL = -7             # encoder: a symbol has no code in the chosen table

STATUS_MESSAGES = {
    ERR_INVALID_CODE: "invalid Huffman code",
    ERR_RUN_OVERFLOW: "zero run or value past the end of the group",
    ERR_OVERRUN: "bitstream runs past the group's recorded length",
    ERR_LENGTH_MISMATCH: "end-of-group symbol before the group's recorded length",
    ERR_RANGE: "decoded value out of range for the dtype",
    ERR_BUFFER: "index outside a buffer",
    ERR_SYMBOL: "symbol missing from the Huffman table",
}
