package org.metisfl.crypto.ckks;

import org.metisfl.crypto.SecretKey;

/** A ternary secret s, kept in the NTT domain with Shoup factors of s and -s. */
final class CkksSecretKey implements SecretKey {

    final byte[] parameterHash;
    final byte[] keyId;
    final byte[] ternary;
    final long[] s;
    final long[] sShoup;
    final long[] negS;
    final long[] negSShoup;

    CkksSecretKey(
            byte[] parameterHash,
            byte[] keyId,
            byte[] ternary,
            long[] s,
            long[] sShoup,
            long[] negS,
            long[] negSShoup) {
        this.parameterHash = parameterHash;
        this.keyId = keyId;
        this.ternary = ternary;
        this.s = s;
        this.sShoup = sShoup;
        this.negS = negS;
        this.negSShoup = negSShoup;
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
    public String toString() {
        return "CkksSecretKey{keyId=" + org.metisfl.crypto.HeEnvelope.hex(keyId) + ", <secret>}";
    }
}
