"""The CRC-32C the learner puts in UpdateHeader.crc32c: the gateway (Java's java.util.zip.CRC32C)
must compute the same value."""

import os
import random

from metisfl_learner import crc32c as c


def test_matches_the_standard_check_value():
    # The check value of CRC-32C (RFC 3720, and every CRC catalogue): "123456789" -> E3069283.
    assert c.crc32c(b"123456789") == 0xE3069283
    assert c._numpy_crc32c(b"123456789") == 0xE3069283
    assert c._numpy_crc32c(b"") == 0


def test_numpy_lanes_agree_with_the_byte_table_at_every_size():
    rng = random.Random(7)
    for n in [1, 255, 16384, 16385, 65536 * 3 + 17, (1 << 20) + 13]:
        data = bytes(rng.getrandbits(8) for _ in range(n)) if n < 70000 else os.urandom(n)
        expected = c._serial(0xFFFFFFFF, data) ^ 0xFFFFFFFF
        assert c._numpy_crc32c(data) == expected, n


def test_all_zero_bytes_of_known_checksum():
    # 32 zero bytes: CRC-32C 8A9136AA (RFC 3720 B.4).
    assert c._numpy_crc32c(bytes(32)) == 0x8A9136AA


def test_the_native_module_agrees_with_the_byte_table_for_every_buffer_type():
    if c._NATIVE is None:
        return  # NumPy only: covered above
    data = os.urandom((1 << 20) + 5)
    expected = c._serial(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert c.crc32c(data) == expected
    assert c.crc32c(bytearray(data)) == expected
    assert c.crc32c(memoryview(data)) == expected
