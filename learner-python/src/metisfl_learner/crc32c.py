"""CRC-32C (Castagnoli) of an update's bytes, as ``UpdateHeader.crc32c`` carries it.

The gateway checks every upload against it (see docs/reference/learner-protocol.md). The standard
library has no CRC-32C, so this uses a native module when one is installed (``google_crc32c`` or
``crc32c``) and otherwise computes it with NumPy: the bytes are cut into many equal lanes, all
lanes are run through the byte table at once (one vectorised step per byte position), and the
lanes' registers are joined by multiplying with powers of x modulo the polynomial, as zlib's
``crc32_combine`` does. 0.45 to 2.5 s for 40 MB without a native module (measured at a load average of 30 to 37 on 2
cores).
"""

import numpy as np

_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _make_table():
    t = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t[i] = c
    return t


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _mulmod(a: int, b: int) -> int:
    """a(x) * b(x) modulo the polynomial, both reflected (x^0 is bit 31)."""
    m = 1 << 31
    p = 0
    while a:
        if a & m:
            p ^= b
            a &= ~m
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _mulmod_vec(a: int, b: np.ndarray) -> np.ndarray:
    """The constant a(x) times each b(x), modulo the polynomial."""
    p = np.zeros_like(b)
    poly = np.uint32(_POLY)
    for bit in range(31, -1, -1):
        if (a >> bit) & 1:
            p ^= b
        b = (b >> np.uint32(1)) ^ np.where(b & np.uint32(1), poly, np.uint32(0))
    return p


def _x_pow_8n(n: int) -> int:
    """x^(8n) modulo the polynomial: what n zero bytes do to a register."""
    result = 1 << 31  # x^0
    square = 1 << 23  # x^8
    while n:
        if n & 1:
            result = _mulmod(result, square)
        square = _mulmod(square, square)
        n >>= 1
    return result


def _serial(reg: int, data) -> int:
    t = _TABLE_LIST
    for byte in bytes(data):
        reg = t[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg


def _numpy_crc32c(data) -> int:
    view = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = view.size
    lanes = 1
    while lanes < (1 << 16) and lanes * 2 * 256 <= n:
        lanes *= 2
    if lanes < 64:
        return _serial(0xFFFFFFFF, view) ^ 0xFFFFFFFF
    length = n // lanes
    main = lanes * length
    # Byte position j of every lane, side by side: one vectorised table step per position.
    columns = np.ascontiguousarray(view[:main].reshape(lanes, length).T)
    regs = np.zeros(lanes, dtype=np.uint32)
    table = _TABLE
    eight = np.uint32(8)
    for j in range(length):
        regs = table[(regs ^ columns[j]) & np.uint32(0xFF)] ^ (regs >> eight)
    # Join neighbours pairwise: reg(A || B) = reg(A) * x^(8 |B|) xor reg(B).
    shift = _x_pow_8n(length)
    while regs.size > 1:
        regs = _mulmod_vec(shift, regs[0::2]) ^ regs[1::2]
        shift = _mulmod(shift, shift)
    reg = _mulmod(_x_pow_8n(main), 0xFFFFFFFF) ^ int(regs[0])
    reg = _serial(reg, view[main:])
    return reg ^ 0xFFFFFFFF


def _native():
    try:
        import google_crc32c  # type: ignore

        return lambda data: int(google_crc32c.value(bytes(data)))
    except ImportError:
        pass
    try:
        import crc32c as _c  # type: ignore

        return lambda data: int(_c.crc32c(data))
    except ImportError:
        return None


_NATIVE = _native()


def crc32c(data) -> int:
    """The CRC-32C of ``data`` (bytes-like), an unsigned 32-bit int."""
    if _NATIVE is not None:
        return _NATIVE(data)
    return _numpy_crc32c(data)
