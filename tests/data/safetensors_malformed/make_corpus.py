#!/usr/bin/env python3
"""Writes the malformed safetensors corpus next to this script.

Each <case>.safetensors breaks one rule of the format (docs/io.md lists the
rules); tests/io/safetensors_test.cpp expects a specific error for each, and
the fuzzer (fuzz/safetensors_fuzz.cpp) starts from them. The files are
committed; rerun this (python3, standard library only) after changing a case:

    python3 tests/data/safetensors_malformed/make_corpus.py
"""
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def st(header, data=b"", length=None):
    """8-byte little-endian header length, the header (unpadded), the data."""
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def hjson(obj):
    return json.dumps(obj, separators=(",", ":"))


def entry(dtype="F32", shape=(4,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def one(data=None, **fields):
    """A file with the single tensor "w"; `fields` override its entry."""
    e = entry()
    e.update(fields)
    return st(hjson({"w": e}), struct.pack("<4f", 1, 2, 3, 4) if data is None else data)


def missing(key):
    e = entry()
    del e[key]
    return st(hjson({"w": e}), bytes(16))


F32x2 = struct.pack("<2f", 1.5, -2.5)
VALID_TWO = hjson({"a": entry(shape=[2], offsets=[0, 8]), "b": entry("F64", [1], [8, 16])})

CASES = {
    # The 8-byte length and the header's extent.
    "empty": b"",
    "short_length": b"\x10\x00\x00",
    "header_length_beyond_file": st(hjson({"w": entry(shape=[2], offsets=[0, 8])}), F32x2, length=1000),
    "header_length_huge": struct.pack("<Q", 2**63) + b"{}",
    "header_length_zero": struct.pack("<Q", 0) + b"{}",
    # The JSON itself.
    "invalid_json": st('{"w": {"dtype": "F32",'),
    "invalid_utf8": st(b'{"w\xff": {}}'),
    "trailing_garbage": st("{} x"),
    "nul_padding": st(b"{}\x00\x00\x00\x00\x00\x00"),
    "header_array": st("[1, 2]"),
    "header_null": st("null"),
    "deeply_nested": st('{"w":' + "[" * 20000 + "]" * 20000 + "}"),
    # One entry's fields.
    "entry_not_object": st(hjson({"w": [0, 16]}), bytes(16)),
    "missing_dtype": missing("dtype"),
    "missing_shape": missing("shape"),
    "missing_data_offsets": missing("data_offsets"),
    "unexpected_key": st(hjson({"w": dict(entry(), offsets=[0, 16])}), bytes(16)),
    "dtype_not_string": one(dtype=32),
    "unknown_dtype": one(dtype="F17"),
    "unsupported_dtype_bf16": one(dtype="BF16", shape=[8]),
    "unsupported_dtype_i64": one(dtype="I64", shape=[2]),
    "shape_not_array": one(shape=4),
    "shape_fraction": one(shape=[2.5, 2]),
    "shape_string_dim": one(shape=["2", 2]),
    "shape_negative": one(shape=[-2, -2]),
    "shape_dim_beyond_int64": one(shape=[2**64 - 1]),
    "shape_overflow": one(shape=[2**32, 2**32]),
    "shape_bytes_overflow": one(dtype="F64", shape=[2**61]),
    "offsets_not_array": one(data_offsets="0:16"),
    "offsets_one_number": one(data_offsets=[16]),
    "offsets_negative": one(data_offsets=[-16, 0]),
    "offsets_fraction": one(data_offsets=[0, 16.0]),
    "offsets_reversed": one(data_offsets=[16, 0]),
    "size_mismatch": one(shape=[2, 2], data_offsets=[0, 12], data=bytes(12)),
    # The tensors against the data section.
    "offsets_beyond_data": one(data=F32x2),
    "truncated_data": st(VALID_TWO, F32x2 + struct.pack("<d", 3.25)[:5]),
    "overlap": st(hjson({"a": entry(), "b": entry(offsets=[8, 24])}), bytes(24)),
    "hole": st(hjson({"a": entry(shape=[2], offsets=[0, 8]), "b": entry(shape=[2], offsets=[16, 24])}), bytes(24)),
    "hole_at_start": st(hjson({"a": entry(shape=[2], offsets=[8, 16])}), bytes(16)),
    "trailing_bytes": st(hjson({"a": entry(shape=[2], offsets=[0, 8])}), bytes(16)),
    # Duplicates (JSON parsers usually keep the last one silently).
    "duplicate_tensor": st('{"w":' + hjson(entry()) + ',"w":' + hjson(entry(offsets=[16, 32])) + "}", bytes(32)),
    "duplicate_field": st('{"w":{"dtype":"F32","dtype":"F64","shape":[4],"data_offsets":[0,16]}}', bytes(16)),
    "duplicate_metadata_key": st('{"__metadata__":{"k":"1","k":"2"}}'),
    # The metadata.
    "metadata_not_object": st(hjson({"__metadata__": ["epoch", "3"]})),
    "metadata_non_string": st(hjson({"__metadata__": {"epoch": 3}})),
}


def main():
    for old in HERE.glob("*.safetensors"):
        old.unlink()
    for name, content in CASES.items():
        (HERE / f"{name}.safetensors").write_bytes(content)
    print(f"wrote {len(CASES)} files to {HERE}")


if __name__ == "__main__":
    main()
