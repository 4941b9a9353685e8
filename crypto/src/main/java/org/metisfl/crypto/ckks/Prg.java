package org.metisfl.crypto.ckks;

import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A pseudo-random generator: AES-256 in counter mode (the JDK's, AES-NI accelerated) keyed by a
 * 32-byte seed, with a 64-bit domain in the IV so one seed can feed independent streams (one per
 * RNS prime). The same seed and domain always give the same stream, which is what lets a compact
 * ciphertext carry its uniform polynomial as a seed.
 */
final class Prg {

    static final int SEED_BYTES = 32;
    private static final int BLOCK = 8192;

    private final Cipher cipher;
    private final byte[] zeros = new byte[BLOCK];
    private final byte[] buf = new byte[BLOCK];
    private int pos = BLOCK;

    Prg(byte[] seed, long domain) {
        if (seed.length != SEED_BYTES) {
            throw new IllegalArgumentException("seed must be 32 bytes");
        }
        byte[] iv = new byte[16];
        for (int i = 0; i < 8; i++) {
            iv[i] = (byte) (domain >>> (56 - 8 * i));
        }
        try {
            cipher = Cipher.getInstance("AES/CTR/NoPadding");
            cipher.init(
                    Cipher.ENCRYPT_MODE, new SecretKeySpec(seed, "AES"), new IvParameterSpec(iv));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CTR is not available in this JDK", e);
        }
    }

    private void refill() {
        try {
            int n = cipher.update(zeros, 0, BLOCK, buf, 0);
            if (n != BLOCK) {
                throw new IllegalStateException("AES-CTR returned " + n + " bytes");
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        pos = 0;
    }

    long nextLong() {
        if (pos > BLOCK - 8) {
            refill();
        }
        byte[] b = buf;
        int p = pos;
        pos = p + 8;
        return (b[p] & 0xffL)
                | (b[p + 1] & 0xffL) << 8
                | (b[p + 2] & 0xffL) << 16
                | (b[p + 3] & 0xffL) << 24
                | (b[p + 4] & 0xffL) << 32
                | (b[p + 5] & 0xffL) << 40
                | (b[p + 6] & 0xffL) << 48
                | (b[p + 7] & 0xffL) << 56;
    }

    int nextByte() {
        if (pos >= BLOCK) {
            refill();
        }
        return buf[pos++] & 0xff;
    }

    void nextBytes(byte[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) nextByte();
        }
    }
}
