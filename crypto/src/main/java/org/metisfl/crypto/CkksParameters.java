package org.metisfl.crypto;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of CKKS for aggregation, independent of the backend: ring dimension n (a
 * ciphertext packs n real values, two per complex slot), the bit sizes of the RNS primes whose
 * product is the ciphertext modulus Q, the encoding scale Δ = 2^scaleBits and the scale Δw =
 * 2^weightScaleBits at which plaintext weights are encoded by {@link HeContext#multiply}.
 *
 * <p>{@link #build()} refuses any set above the 128-bit classical limit of the
 * HomomorphicEncryption.org standard ({@link HeStandard}): log2 Q ≤ 218 for n = 8192, 438 for
 * 16384, 881 for 32768.
 *
 * <p>Precision and capacity: a fresh ciphertext decrypts with an absolute error of about 2^18 / Δ
 * per value (see the crypto README); a weighted sum of ciphertexts holds values up to about Q /
 * (2^1.5 · Δ · Δw) in magnitude.
 */
public final class CkksParameters {

    /** The default preset: n = 8192, two 60-bit primes, Δ = 2^45, Δw = 2^35. */
    public static final String DEFAULT_PRESET = "n13-q120";

    /**
     * The preset for threshold mode: n = 8192, three 60-bit primes, Δ = 2^80, Δw = 2^35. The large
     * Δ leaves room for the smudging noise of partial decryptions (2^45 times the scale ratio, see
     * {@link ThresholdHe}) while keeping the decoded values accurate to about 2e-9.
     */
    public static final String THRESHOLD_PRESET = "n13-q180-t";

    private static final Map<String, CkksParameters> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put(
                "n13-q120",
                builder()
                        .ringDimension(8192)
                        .primeBits(60, 60)
                        .scaleBits(45)
                        .weightScaleBits(35)
                        .build());
        PRESETS.put(
                "n13-q180",
                builder()
                        .ringDimension(8192)
                        .primeBits(60, 60, 60)
                        .scaleBits(50)
                        .weightScaleBits(50)
                        .build());
        PRESETS.put(
                THRESHOLD_PRESET,
                builder()
                        .ringDimension(8192)
                        .primeBits(60, 60, 60)
                        .scaleBits(80)
                        .weightScaleBits(35)
                        .build());
        PRESETS.put(
                "n14-q180",
                builder()
                        .ringDimension(16384)
                        .primeBits(60, 60, 60)
                        .scaleBits(50)
                        .weightScaleBits(50)
                        .build());
    }

    private final int ringDimension;
    private final int[] primeBits;
    private final int scaleBits;
    private final int weightScaleBits;

    private CkksParameters(Builder b) {
        this.ringDimension = b.ringDimension;
        this.primeBits = b.primeBits.clone();
        this.scaleBits = b.scaleBits;
        this.weightScaleBits = b.weightScaleBits;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A named preset.
     *
     * @throws IllegalArgumentException for an unknown name (the message lists the presets)
     */
    public static CkksParameters preset(String name) {
        CkksParameters p = PRESETS.get(name);
        if (p == null) {
            throw new IllegalArgumentException(
                    "unknown CKKS preset '" + name + "'; presets: " + presetNames());
        }
        return p;
    }

    public static List<String> presetNames() {
        return List.copyOf(PRESETS.keySet());
    }

    /** The preset name these parameters equal, or null. */
    public String presetName() {
        for (Map.Entry<String, CkksParameters> e : PRESETS.entrySet()) {
            if (e.getValue().equals(this)) {
                return e.getKey();
            }
        }
        return null;
    }

    public int ringDimension() {
        return ringDimension;
    }

    public int[] primeBits() {
        return primeBits.clone();
    }

    public int primeCount() {
        return primeBits.length;
    }

    /** An upper bound of log2 Q: the sum of the primes' bit sizes. */
    public int totalModulusBits() {
        return Arrays.stream(primeBits).sum();
    }

    public int scaleBits() {
        return scaleBits;
    }

    public int weightScaleBits() {
        return weightScaleBits;
    }

    /** Real values per ciphertext: n (two per complex slot). */
    public int valuesPerCiphertext() {
        return ringDimension;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof CkksParameters)) {
            return false;
        }
        CkksParameters p = (CkksParameters) o;
        return ringDimension == p.ringDimension
                && scaleBits == p.scaleBits
                && weightScaleBits == p.weightScaleBits
                && Arrays.equals(primeBits, p.primeBits);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * ringDimension + scaleBits) + weightScaleBits)
                + Arrays.hashCode(primeBits);
    }

    @Override
    public String toString() {
        return "CkksParameters{n="
                + ringDimension
                + ", primeBits="
                + Arrays.toString(primeBits)
                + " (log2 Q <= "
                + totalModulusBits()
                + "), scale=2^"
                + scaleBits
                + ", weightScale=2^"
                + weightScaleBits
                + "}";
    }

    /** Builds and validates {@link CkksParameters}. */
    public static final class Builder {
        private int ringDimension = 8192;
        private int[] primeBits = {60, 60};
        private int scaleBits = 45;
        private int weightScaleBits = 35;

        private Builder() {}

        public Builder ringDimension(int n) {
            this.ringDimension = n;
            return this;
        }

        public Builder primeBits(int... bits) {
            this.primeBits = bits.clone();
            return this;
        }

        public Builder scaleBits(int bits) {
            this.scaleBits = bits;
            return this;
        }

        public Builder weightScaleBits(int bits) {
            this.weightScaleBits = bits;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the property, the conflict and the fix; in
         *     particular for a modulus above the HomomorphicEncryption.org 128-bit limit
         */
        public CkksParameters build() {
            int limit = HeStandard.maxLogQ(ringDimension);
            if (limit < 0) {
                throw new IllegalArgumentException(
                        "ring-dimension "
                                + ringDimension
                                + " is not in the HomomorphicEncryption.org security table; use"
                                + " 8192, 16384 or 32768");
            }
            if (primeBits.length == 0) {
                throw new IllegalArgumentException("prime-bits is empty: give at least one prime");
            }
            int logQ = 0;
            for (int b : primeBits) {
                if (b < 30 || b > 60) {
                    throw new IllegalArgumentException(
                            "prime-bits "
                                    + b
                                    + " is out of range: each prime must have 30 to 60 bits");
                }
                logQ += b;
            }
            if (logQ > limit) {
                int bigger = HeStandard.smallestRingDimensionFor(logQ);
                throw new IllegalArgumentException(
                        "insecure CKKS parameters: log2 Q = "
                                + logQ
                                + " bits exceeds the "
                                + limit
                                + "-bit limit for ring-dimension "
                                + ringDimension
                                + " at 128-bit classical security (HomomorphicEncryption.org"
                                + " standard, ternary secret); use fewer or smaller primes"
                                + (bigger > 0 ? " or ring-dimension " + bigger : ""));
            }
            if (scaleBits < 20 || weightScaleBits < 0) {
                throw new IllegalArgumentException(
                        "scale-bits must be >= 20 and weight-scale-bits >= 0, got "
                                + scaleBits
                                + " and "
                                + weightScaleBits);
            }
            if (scaleBits + weightScaleBits + 20 > logQ) {
                throw new IllegalArgumentException(
                        "scale-bits + weight-scale-bits = "
                                + (scaleBits + weightScaleBits)
                                + " leaves less than 20 bits of the "
                                + logQ
                                + "-bit modulus for the weighted sums; lower the scales or add a"
                                + " prime");
            }
            return new CkksParameters(this);
        }
    }
}
