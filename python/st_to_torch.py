#!/usr/bin/env python3
"""Load a safetensors file (such as a batchscope checkpoint) into PyTorch tensors.

Uses only json, struct and torch, so it proves the files follow the published format
rather than whatever one library accepts. Usage: st_to_torch.py FILE.safetensors
"""
import json
import struct
import sys

import torch

# U64 is filled in below where this torch has uint64 (added in 2.3).
_DTYPES = {
    "F32": torch.float32,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
}
if hasattr(torch, "uint64"):
    _DTYPES["U64"] = torch.uint64

_SIZES = {"F32": 4, "I64": 8, "U64": 8, "I32": 4, "U8": 1}


def _tensor(raw, dtype_name, shape):
    numel = 1
    for d in shape:
        numel *= d
    if len(raw) != numel * _SIZES[dtype_name]:
        raise ValueError(f"{len(raw)} bytes do not fit shape {shape} of {dtype_name}")
    if dtype_name == "U64" and "U64" not in _DTYPES:
        # Older torch has no uint64: read the bits as int64, which is exact below 2**63.
        t = _tensor(raw, "I64", shape)
        if bool((t < 0).any()):
            raise ValueError("U64 values of 2**63 or more need torch >= 2.3")
        return t
    if numel == 0:
        return torch.empty(shape, dtype=_DTYPES[dtype_name])
    # bytearray: frombuffer wants a writable buffer; the copy also owns its memory.
    return torch.frombuffer(bytearray(raw), dtype=_DTYPES[dtype_name]).reshape(shape)


def load_safetensors(path):
    """Returns (dict name -> torch.Tensor, metadata dict of str -> str)."""
    if sys.byteorder != "little":
        raise RuntimeError("safetensors data is little-endian; this loader needs a little-endian host")
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} exceeds file size {len(blob)}")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype_name = info["dtype"]
        if dtype_name not in _SIZES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dtype_name}")
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor {name!r} byte range [{begin},{end}] lies outside "
                             f"the {len(data)}-byte data section")
        try:
            tensors[name] = _tensor(data[begin:end], dtype_name, list(info["shape"]))
        except ValueError as e:
            raise ValueError(f"{path}: tensor {name!r}: {e}") from None
    return tensors, metadata


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} FILE.safetensors", file=sys.stderr)
        return 2
    tensors, metadata = load_safetensors(argv[1])
    for name in sorted(tensors):
        t = tensors[name]
        print(f"{name}\t{t.dtype}\t{list(t.shape)}")
    for key in sorted(metadata):
        print(f"__metadata__ {key} = {metadata[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
