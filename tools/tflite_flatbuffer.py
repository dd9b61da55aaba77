"""Minimal, dependency-free reader for ``.tflite`` model files (stdlib + numpy).

A ``.tflite`` file is a FlatBuffer serialised with the TFLite schema
(``tensorflow/lite/schema/schema.fbs``). This module walks just enough of it to recover the
graph of a small float model: tensors (name, shape, dtype, constant data), operators (op name,
input/output tensor indices, the builtin options that matter for float conv nets, custom code
and raw custom options) and the graph inputs/outputs.

Field numbers below are the schema's field order; in a FlatBuffer vtable, field ``i`` sits at
byte offset ``4 + 2 * i``.

``DEQUANTIZE`` ops whose input is a constant (how TFLite stores float16 weights) are resolved:
:meth:`Graph.const` follows a dequantized tensor back to its stored float16 array, and
:meth:`Graph.compute_ops` lists the remaining ops.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# BuiltinOperator enum (subset: everything up to HARD_SWISH that a float vision model might use).
BUILTIN_OPS = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    20: "RELU_N1_TO_1",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    25: "SOFTMAX",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    39: "TRANSPOSE",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    54: "PRELU",
    67: "TRANSPOSE_CONV",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    117: "HARD_SWISH",
}

# TensorType enum -> numpy dtype (little-endian, as stored).
TENSOR_TYPES = {
    0: ("FLOAT32", np.dtype("<f4")),
    1: ("FLOAT16", np.dtype("<f2")),
    2: ("INT32", np.dtype("<i4")),
    3: ("UINT8", np.dtype("u1")),
    4: ("INT64", np.dtype("<i8")),
    6: ("BOOL", np.dtype("?")),
    7: ("INT16", np.dtype("<i2")),
    9: ("INT8", np.dtype("i1")),
    10: ("FLOAT64", np.dtype("<f8")),
}

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


class _Table:
    """A FlatBuffer table: ``pos`` is the table start inside ``buf``."""

    __slots__ = ("buf", "pos", "vt", "vt_len")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt_len = struct.unpack_from("<H", buf, self.vt)[0]

    def _field(self, i: int) -> int:
        """Absolute position of field ``i``, or 0 when absent."""
        off = 4 + 2 * i
        if off >= self.vt_len:
            return 0
        rel = struct.unpack_from("<H", self.buf, self.vt + off)[0]
        return self.pos + rel if rel else 0

    def scalar(self, i: int, fmt: str, default=0):
        p = self._field(i)
        return struct.unpack_from("<" + fmt, self.buf, p)[0] if p else default

    def _indirect(self, p: int) -> int:
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i: int) -> _Table | None:
        p = self._field(i)
        return _Table(self.buf, self._indirect(p)) if p else None

    def _vector(self, i: int) -> tuple[int, int]:
        """(start of elements, length) of vector field ``i``; (0, 0) when absent."""
        p = self._field(i)
        if not p:
            return 0, 0
        v = self._indirect(p)
        return v + 4, struct.unpack_from("<I", self.buf, v)[0]

    def string(self, i: int) -> str | None:
        start, n = self._vector(i)
        return bytes(self.buf[start : start + n]).decode("utf-8") if start else None

    def array(self, i: int, dtype: str) -> np.ndarray:
        start, n = self._vector(i)
        if not start:
            return np.zeros(0, dtype=dtype)
        return np.frombuffer(self.buf, dtype=dtype, count=n, offset=start)

    def bytes(self, i: int) -> bytes | None:
        start, n = self._vector(i)
        return bytes(self.buf[start : start + n]) if start else None

    def tables(self, i: int) -> list[_Table]:
        start, n = self._vector(i)
        return [_Table(self.buf, self._indirect(start + 4 * k)) for k in range(n)]


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str
    data: np.ndarray | None  # constant contents (reshaped), None for activations


@dataclass
class Operator:
    index: int
    op: str  # builtin op name, or "CUSTOM:<custom code>"
    inputs: list[int]  # tensor indices; -1 marks an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)
    custom_options: bytes | None = None


def _activation(t: _Table, i: int) -> str:
    return ACTIVATIONS.get(t.scalar(i, "b"), "UNKNOWN")


def _options(op: str, t: _Table | None) -> dict:
    """Decode the builtin options table for the ops we understand."""
    if t is None:
        return {}
    if op == "CONV_2D":
        return {
            "padding": PADDING[t.scalar(0, "b")],
            "stride": (t.scalar(2, "i"), t.scalar(1, "i")),  # (h, w)
            "activation": _activation(t, 3),
            "dilation": (t.scalar(5, "i", 1), t.scalar(4, "i", 1)),
        }
    if op == "DEPTHWISE_CONV_2D":
        return {
            "padding": PADDING[t.scalar(0, "b")],
            "stride": (t.scalar(2, "i"), t.scalar(1, "i")),
            "depth_multiplier": t.scalar(3, "i"),
            "activation": _activation(t, 4),
            "dilation": (t.scalar(6, "i", 1), t.scalar(5, "i", 1)),
        }
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D"):
        return {
            "padding": PADDING[t.scalar(0, "b")],
            "stride": (t.scalar(2, "i"), t.scalar(1, "i")),
            "filter": (t.scalar(4, "i"), t.scalar(3, "i")),
            "activation": _activation(t, 5),
        }
    if op in ("ADD", "MUL", "SUB", "DIV"):
        return {"activation": _activation(t, 0)}
    if op == "CONCATENATION":
        return {"axis": t.scalar(0, "i"), "activation": _activation(t, 1)}
    if op == "RESHAPE":
        return {"new_shape": tuple(int(v) for v in t.array(0, "<i4"))}
    if op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        return {
            "align_corners": bool(t.scalar(2, "B")),
            "half_pixel_centers": bool(t.scalar(3, "B")),
        }
    return {}


class Graph:
    """Subgraph 0 of a ``.tflite`` model."""

    def __init__(self, data: bytes) -> None:
        buf = bytes(data)
        model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
        self.version = model.scalar(0, "I")
        buffers = model.tables(4)
        op_names = []
        for oc in model.tables(1):
            code = max(oc.scalar(0, "b"), oc.scalar(3, "i"))
            name = BUILTIN_OPS.get(code, f"BUILTIN_{code}")
            if name == "CUSTOM":
                name = f"CUSTOM:{oc.string(1)}"
            op_names.append(name)
        subgraphs = model.tables(2)
        if len(subgraphs) != 1:
            raise ValueError(f"expected one subgraph, found {len(subgraphs)}")
        g = subgraphs[0]

        self.tensors: list[Tensor] = []
        for i, t in enumerate(g.tables(0)):
            shape = tuple(int(v) for v in t.array(0, "<i4"))
            type_name, dtype = TENSOR_TYPES.get(
                t.scalar(1, "b"), (f"TYPE_{t.scalar(1, 'b')}", None)
            )
            data = None
            b = buffers[t.scalar(2, "I")]
            raw = b.bytes(0)
            if raw is None and b.scalar(
                1, "Q"
            ):  # buffer stored after the flatbuffer (>2 GB models)
                off, size = b.scalar(1, "Q"), b.scalar(2, "Q")
                raw = buf[off : off + size]
            if raw and dtype is not None:
                data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
            self.tensors.append(Tensor(i, t.string(3) or "", shape, type_name, data))

        self.operators: list[Operator] = []
        for i, o in enumerate(g.tables(3)):
            name = op_names[o.scalar(0, "I")]
            self.operators.append(
                Operator(
                    index=i,
                    op=name,
                    inputs=[int(v) for v in o.array(1, "<i4")],
                    outputs=[int(v) for v in o.array(2, "<i4")],
                    options=_options(name, o.table(4)),
                    custom_options=o.bytes(5),
                )
            )
        self.inputs = [int(v) for v in g.array(1, "<i4")]
        self.outputs = [int(v) for v in g.array(2, "<i4")]

        # Constant tensors produced by DEQUANTIZE(constant): map output -> stored input.
        self._dequant: dict[int, int] = {}
        for op in self.operators:
            if op.op == "DEQUANTIZE" and self.tensors[op.inputs[0]].data is not None:
                self._dequant[op.outputs[0]] = op.inputs[0]

    @classmethod
    def from_file(cls, path: str | Path) -> Graph:
        return cls(Path(path).read_bytes())

    def is_const(self, index: int) -> bool:
        return index in self._dequant or self.tensors[index].data is not None

    def const(self, index: int) -> np.ndarray:
        """Stored data of a constant tensor, looking through a DEQUANTIZE (keeps float16)."""
        data = self.tensors[self._dequant.get(index, index)].data
        if data is None:
            raise ValueError(f"tensor {index} ({self.tensors[index].name}) is not a constant")
        return data

    def compute_ops(self) -> list[Operator]:
        """Operators in graph order, without the DEQUANTIZE ops that only unpack weights."""
        return [
            op
            for op in self.operators
            if not (op.op == "DEQUANTIZE" and op.outputs[0] in self._dequant)
        ]

    def summary(self) -> str:
        lines = []
        for op in self.compute_ops():
            ins = []
            for i in op.inputs:
                if i < 0:
                    ins.append("-")
                    continue
                t = self.tensors[i]
                kind = "c" if self.is_const(i) else "t"
                ins.append(
                    f"{kind}{i}{list(self.const(i).shape) if kind == 'c' else list(t.shape)}"
                )
            outs = [f"t{i}{list(self.tensors[i].shape)}" for i in op.outputs]
            lines.append(
                f"{op.index:4d} {op.op:22s} {' '.join(ins)} -> {' '.join(outs)} {op.options}"
            )
        return "\n".join(lines)


if __name__ == "__main__":
    import sys

    for p in sys.argv[1:]:
        print(p)
        print(Graph.from_file(p).summary())
