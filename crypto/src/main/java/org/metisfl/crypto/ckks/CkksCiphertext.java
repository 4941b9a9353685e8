package org.metisfl.crypto.ckks;

import org.metisfl.crypto.Ciphertext;

/**
 * A ciphertext (c0, c1) in the NTT domain with c0 + c1·s ≈ scale · m. A fresh secret-key ciphertext
 * keeps c1 as the 32-byte seed it was expanded from (about half the bytes on the wire); operations
 * expand it.
 */
final class CkksCiphertext implements Ciphertext {

    final byte[] parameterHash;
    final byte[] keyId;
    final double scale;
    final int valueCount;
    final long[] c0;

    /** Null when {@link #c1Seed} is set. */
    final long[] c1;

    final byte[] c1Seed;

    CkksCiphertext(
            byte[] parameterHash,
            byte[] keyId,
            double scale,
            int valueCount,
            long[] c0,
            long[] c1,
            byte[] c1Seed) {
        this.parameterHash = parameterHash;
        this.keyId = keyId;
        this.scale = scale;
        this.valueCount = valueCount;
        this.c0 = c0;
        this.c1 = c1;
        this.c1Seed = c1Seed;
    }

    @Override
    public String backendId() {
        return JavaCkksContext.BACKEND_ID;
    }

    @Override
    public byte[] parameterHash() {
        return parameterHash.clone();
    }

    @Override
    public byte[] keyId() {
        return keyId.clone();
    }

    @Override
    public int valueCount() {
        return valueCount;
    }

    /** log2 of the scale. */
    double scaleBits() {
        return Math.log(scale) / Math.log(2);
    }

    @Override
    public String toString() {
        return "CkksCiphertext{values="
                + valueCount
                + ", scale=2^"
                + Math.round(scaleBits())
                + (c1Seed != null ? ", compact" : "")
                + "}";
    }
}
