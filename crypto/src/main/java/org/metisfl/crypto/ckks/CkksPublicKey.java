package org.metisfl.crypto.ckks;

import org.metisfl.crypto.PublicKey;

/**
 * The public key (b, a) = (-a·s + e, a) in the NTT domain, with a expanded from a public seed and
 * Shoup factors of both for encryption.
 */
final class CkksPublicKey implements PublicKey {

    final byte[] parameterHash;
    final byte[] keyId;
    final byte[] aSeed;
    final long[] b;
    final long[] bShoup;
    final long[] a;
    final long[] aShoup;

    CkksPublicKey(
            byte[] parameterHash,
            byte[] keyId,
            byte[] aSeed,
            long[] b,
            long[] bShoup,
            long[] a,
            long[] aShoup) {
        this.parameterHash = parameterHash;
        this.keyId = keyId;
        this.aSeed = aSeed;
        this.b = b;
        this.bShoup = bShoup;
        this.a = a;
        this.aShoup = aShoup;
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
        return "CkksPublicKey{keyId=" + org.metisfl.crypto.HeEnvelope.hex(keyId) + "}";
    }
}
