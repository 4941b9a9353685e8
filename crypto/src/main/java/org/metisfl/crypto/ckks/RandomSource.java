package org.metisfl.crypto.ckks;

import java.security.SecureRandom;

/**
 * Where fresh randomness comes from: {@link SecureRandom} in production; a fixed-seed stream only
 * in tests that need reproducible ciphertexts (bit-identical Java and native kernels).
 */
public abstract class RandomSource {

    abstract void nextBytes(byte[] out);

    byte[] seed() {
        byte[] s = new byte[Prg.SEED_BYTES];
        nextBytes(s);
        return s;
    }

    /** The JDK's default {@link SecureRandom} (non-blocking). */
    public static RandomSource secure() {
        SecureRandom r = new SecureRandom();
        return new RandomSource() {
            @Override
            synchronized void nextBytes(byte[] out) {
                r.nextBytes(out);
            }

            @Override
            public String toString() {
                return "SecureRandom(" + r.getAlgorithm() + ")";
            }
        };
    }

    /**
     * INSECURE: a reproducible stream from a fixed seed, for tests and benchmarks that compare
     * ciphertexts bit for bit. Never use it to protect data.
     */
    public static RandomSource insecureDeterministic(long seed) {
        byte[] s = new byte[Prg.SEED_BYTES];
        for (int i = 0; i < 8; i++) {
            s[i] = (byte) (seed >>> (8 * i));
        }
        Prg prg = new Prg(s, 0x7e57L);
        return new RandomSource() {
            @Override
            synchronized void nextBytes(byte[] out) {
                prg.nextBytes(out);
            }

            @Override
            public String toString() {
                return "InsecureDeterministic(" + seed + ")";
            }
        };
    }
}
