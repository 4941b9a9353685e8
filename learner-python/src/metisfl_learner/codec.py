"""Named float32 tensors to the wire form and back.

The wire form of a model is a list of TensorSpec (name, dtype FLOAT32, shape) plus one byte string:
the values of every tensor, in spec order, each tensor in row-major (C) element order, each value
a 32-bit IEEE 754 float in little-endian byte order. The byte string travels in chunks.
"""

from typing import Iterator, List, Sequence

import numpy as np

from metisfl_learner._proto import pb
from metisfl_learner.errors import ModelMismatchError
from metisfl_learner.types import NamedTensor

#: Little-endian float32, whatever the machine's own byte order.
WIRE_DTYPE = np.dtype("<f4")

#: Room left below the gateway's message limit for a chunk's framing (as the Java learner).
MESSAGE_HEADROOM_BYTES = 64 * 1024

#: Largest data chunk the learner sends: 1 MiB.
MAX_CHUNK_BYTES_LIMIT = 1 << 20


class EncodedModel:
    """Tensor specs plus the concatenated little-endian values of all tensors, in spec order."""

    def __init__(self, specs: List["pb.TensorSpec"], data: bytes):
        self.specs = list(specs)
        self.data = data

    def chunks(self, max_chunk_bytes: int) -> Iterator[bytes]:
        return chunks(self.data, max_chunk_bytes)


def as_wire_array(name: str, array) -> np.ndarray:
    """The tensor as a C-ordered little-endian float32 array; refuses non-float values."""
    a = np.asarray(array)
    if not (np.issubdtype(a.dtype, np.floating)):
        raise ValueError(
            "tensor '%s' has dtype %s; the protocol carries float32 values only, convert it"
            " (e.g. array.astype(numpy.float32))" % (name, a.dtype)
        )
    # asarray, not ascontiguousarray: that one turns a scalar (shape ()) into shape (1,).
    return np.asarray(a, dtype=WIRE_DTYPE, order="C")


def spec_of(name: str, shape: Sequence[int]) -> "pb.TensorSpec":
    return pb.TensorSpec(name=name, dtype=pb.FLOAT32, shape=[int(d) for d in shape])


def encode(tensors: Sequence[NamedTensor]) -> EncodedModel:
    """Specs plus one byte string of all values (row-major, little-endian float32)."""
    names = set()
    specs = []
    parts = []
    for t in tensors:
        if not isinstance(t.name, str) or not t.name:
            raise ValueError("every tensor needs a non-empty name, got %r" % (t.name,))
        if t.name in names:
            raise ValueError("model has two tensors named '%s'; tensor names must be unique" % t.name)
        names.add(t.name)
        a = as_wire_array(t.name, t.array)
        specs.append(spec_of(t.name, a.shape))
        parts.append(a.tobytes(order="C"))
    return EncodedModel(specs, b"".join(parts))


def byte_size(spec: "pb.TensorSpec") -> int:
    """Bytes of values one spec describes: product(shape) x 4."""
    if spec.dtype != pb.FLOAT32:
        raise ValueError(
            "tensor '%s' has dtype %s; this learner supports FLOAT32 only"
            % (spec.name, pb.DType.Name(spec.dtype) if spec.dtype in pb.DType.values() else spec.dtype)
        )
    count = 1
    for d in spec.shape:
        if d < 0:
            raise ValueError(
                "tensor '%s' has a negative dimension in shape %s" % (spec.name, list(spec.shape))
            )
        count *= d
    return count * WIRE_DTYPE.itemsize


def total_bytes(specs: Sequence["pb.TensorSpec"]) -> int:
    names = set()
    total = 0
    for s in specs:
        if s.name in names:
            raise ValueError("model has two tensors named '%s'" % s.name)
        names.add(s.name)
        total += byte_size(s)
    return total


def decode(specs: Sequence["pb.TensorSpec"], data) -> List[NamedTensor]:
    """Named tensors from specs plus the concatenated bytes (copies, writable)."""
    expected = total_bytes(specs)
    view = memoryview(data)
    if view.nbytes != expected:
        raise ValueError(
            "model data has %d bytes but its tensor specs describe %d bytes (%d float32 tensors)"
            % (view.nbytes, expected, len(specs))
        )
    out = []
    offset = 0
    for s in specs:
        n = byte_size(s)
        values = np.frombuffer(view[offset : offset + n], dtype=WIRE_DTYPE)
        shape = tuple(int(d) for d in s.shape)
        out.append(NamedTensor(s.name, values.astype(np.float32).reshape(shape)))
        offset += n
    return out


def chunks(data, max_chunk_bytes: int) -> Iterator[bytes]:
    """Consecutive pieces of ``data``, each at most ``max_chunk_bytes`` long."""
    if max_chunk_bytes <= 0:
        raise ValueError("max_chunk_bytes must be positive but is %d" % max_chunk_bytes)
    view = memoryview(data)
    for offset in range(0, view.nbytes, max_chunk_bytes):
        yield bytes(view[offset : offset + max_chunk_bytes])


def chunk_bytes(configured: int, gateway_max_message_bytes: int) -> int:
    """The upload chunk size: the configured bound, and 64 KiB below the gateway's limit."""
    if gateway_max_message_bytes <= 0:
        return configured
    limit = gateway_max_message_bytes - MESSAGE_HEADROOM_BYTES
    if limit <= 0:
        limit = max(1, gateway_max_message_bytes // 2)
    return min(configured, limit)


class Assembler:
    """Collects the data chunks of one downloaded model, then decodes it."""

    def __init__(self, specs: Sequence["pb.TensorSpec"], announced_bytes: int):
        expected = total_bytes(specs)
        if announced_bytes != expected:
            raise ValueError(
                "model header announces %d bytes but its tensor specs describe %d bytes"
                % (announced_bytes, expected)
            )
        self._specs = list(specs)
        self._buffer = bytearray(expected)
        self._received = 0

    def append(self, chunk: bytes) -> None:
        n = len(chunk)
        if n > len(self._buffer) - self._received:
            raise ValueError(
                "model data overflows: %d bytes received but the header announced %d"
                % (self._received + n, len(self._buffer))
            )
        self._buffer[self._received : self._received + n] = chunk
        self._received += n

    def finish(self) -> List[NamedTensor]:
        if self._received != len(self._buffer):
            raise ValueError(
                "model data is incomplete: %d of %d announced bytes received"
                % (self._received, len(self._buffer))
            )
        return decode(self._specs, self._buffer)


def describe_specs(specs) -> str:
    return "[" + ", ".join("%s%s" % (s.name, list(s.shape)) for s in specs) + "]"


def check_specs_match(local: Sequence["pb.TensorSpec"], remote: Sequence["pb.TensorSpec"], version) -> None:
    """Raises ModelMismatchError unless both lists have the same names, dtypes and shapes, in order."""
    problem = None
    if len(local) != len(remote):
        problem = "the global model has %d tensors, this learner's model %d" % (len(remote), len(local))
    else:
        for i, (mine, theirs) in enumerate(zip(local, remote)):
            if mine.name != theirs.name:
                problem = "tensor %d is '%s' in the global model but '%s' here" % (i, theirs.name, mine.name)
            elif mine.dtype != theirs.dtype:
                problem = "tensor '%s' has dtype %s in the global model but %s here" % (
                    mine.name, theirs.dtype, mine.dtype)
            elif list(mine.shape) != list(theirs.shape):
                problem = "tensor '%s' has shape %s in the global model but %s here" % (
                    mine.name, list(theirs.shape), list(mine.shape))
            if problem:
                break
    if problem:
        raise ModelMismatchError(
            "the global model (version %s) does not fit this learner's model: %s. Global model: %s;"
            " this learner: %s. Every learner of a federation must build the same model (same"
            " tensor names, order and shapes; see docs/how-to/python-learner.md for the names a"
            " DL4J model uses)" % (version, problem, describe_specs(remote), describe_specs(local))
        )
