import struct

import numpy as np
import pytest

from metisfl_learner import codec
from metisfl_learner._proto import pb
from metisfl_learner.errors import ModelMismatchError
from metisfl_learner.types import NamedTensor


def test_values_travel_row_major_little_endian_float32():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    encoded = codec.encode([NamedTensor("w", a), NamedTensor("b", np.array([7.5], dtype=np.float32))])
    assert encoded.data == struct.pack("<7f", 1, 2, 3, 4, 5, 6, 7.5)
    assert [(s.name, list(s.shape), s.dtype) for s in encoded.specs] == [
        ("w", [2, 3], pb.FLOAT32),
        ("b", [1], pb.FLOAT32),
    ]


def test_column_major_and_big_endian_inputs_are_sent_row_major_little_endian():
    a = np.asfortranarray(np.arange(6, dtype=">f4").reshape(2, 3))
    encoded = codec.encode([NamedTensor("w", a)])
    assert encoded.data == struct.pack("<6f", 0, 1, 2, 3, 4, 5)


def test_float64_is_narrowed_and_integers_are_refused():
    assert codec.encode([NamedTensor("w", np.array([0.1]))]).data == struct.pack("<f", 0.1)
    with pytest.raises(ValueError, match="tensor 'n' has dtype int64.*float32"):
        codec.encode([NamedTensor("n", np.array([1, 2], dtype=np.int64))])


def test_duplicate_names_are_refused():
    t = NamedTensor("w", np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="two tensors named 'w'"):
        codec.encode([t, t])


def test_decode_inverts_encode_with_shapes():
    rng = np.random.default_rng(1)
    model = [
        NamedTensor("0_W", rng.standard_normal((4, 3)).astype(np.float32)),
        NamedTensor("0_b", rng.standard_normal(3).astype(np.float32)),
        NamedTensor("s", np.array(2.5, dtype=np.float32)),
    ]
    encoded = codec.encode(model)
    decoded = codec.decode(encoded.specs, encoded.data)
    assert [t.name for t in decoded] == ["0_W", "0_b", "s"]
    for a, b in zip(model, decoded):
        assert b.array.shape == a.array.shape
        np.testing.assert_array_equal(a.array, b.array)


def test_decode_refuses_a_wrong_byte_count():
    specs = [codec.spec_of("w", [2, 2])]
    with pytest.raises(ValueError, match="12 bytes but its tensor specs describe 16"):
        codec.decode(specs, b"\0" * 12)


def test_byte_size_refuses_unknown_dtype_and_negative_dimensions():
    with pytest.raises(ValueError, match="FLOAT32 only"):
        codec.byte_size(pb.TensorSpec(name="x", dtype=pb.DTYPE_UNSPECIFIED, shape=[1]))
    with pytest.raises(ValueError, match="negative dimension"):
        codec.byte_size(pb.TensorSpec(name="x", dtype=pb.FLOAT32, shape=[2, -1]))


@pytest.mark.parametrize("size,limit", [(10, 3), (9, 3), (1, 5), (0, 4), (1 << 20, 1 << 18)])
def test_chunks_cover_the_data_in_order_within_the_limit(size, limit):
    data = bytes(i % 251 for i in range(size))
    parts = list(codec.chunks(data, limit))
    assert b"".join(parts) == data
    assert all(0 < len(p) <= limit for p in parts)
    assert len(parts) == -(-size // limit)


def test_chunk_size_stays_64_kib_below_the_gateway_limit():
    assert codec.chunk_bytes(1 << 20, 0) == 1 << 20  # no limit announced
    assert codec.chunk_bytes(1 << 20, 4 << 20) == 1 << 20  # the configured bound
    assert codec.chunk_bytes(1 << 20, 200_000) == 200_000 - 65_536
    assert codec.chunk_bytes(1 << 20, 50_000) == 25_000  # tiny limits: half of it


def test_assembler_rejects_overflow_and_incomplete_models():
    specs = [codec.spec_of("w", [3])]
    with pytest.raises(ValueError, match="announces 8 bytes but its tensor specs describe 12"):
        codec.Assembler(specs, 8)
    a = codec.Assembler(specs, 12)
    a.append(b"\0" * 8)
    with pytest.raises(ValueError, match="incomplete: 8 of 12"):
        a.finish()
    with pytest.raises(ValueError, match="overflows: 16 bytes"):
        a.append(b"\0" * 8)
    a.append(struct.pack("<f", 3.0))
    np.testing.assert_array_equal(a.finish()[0].array, [0, 0, 3])


def test_spec_mismatch_names_the_tensor_and_both_models():
    mine = [codec.spec_of("0_W", [784, 128]), codec.spec_of("0_b", [128])]
    theirs = [codec.spec_of("0_W", [784, 64]), codec.spec_of("0_b", [64])]
    with pytest.raises(ModelMismatchError) as e:
        codec.check_specs_match(mine, theirs, 3)
    message = str(e.value)
    assert "version 3" in message
    assert "tensor '0_W' has shape [784, 64] in the global model but [784, 128] here" in message
    assert "must build the same model" in message
    codec.check_specs_match(mine, list(mine), 0)
    with pytest.raises(ModelMismatchError, match="has 1 tensors, this learner's model 2"):
        codec.check_specs_match(mine, mine[:1], 1)
    with pytest.raises(ModelMismatchError, match="tensor 0 is 'x' in the global model but '0_W'"):
        codec.check_specs_match(mine, [codec.spec_of("x", [784, 128]), mine[1]], 1)
