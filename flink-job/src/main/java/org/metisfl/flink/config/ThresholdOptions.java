package org.metisfl.flink.config;

import java.io.Serializable;

/**
 * Threshold mode ({@code secure-aggregation: ckks-threshold}) as the gateways and the coordinator
 * see it: the HE backend and preset, the committee's size N and threshold t, and how long a
 * decryption attempt may take.
 *
 * @param backend the HE backend's id
 * @param preset the CKKS preset (n13-q180-t)
 * @param committeeSize N
 * @param threshold t (N for n-out-of-n)
 * @param decryptionTimeoutMs how long the answering members of an attempt have
 */
public record ThresholdOptions(
        String backend, String preset, int committeeSize, int threshold, long decryptionTimeoutMs)
        implements Serializable {

    /** The threshold part of a validated configuration, or null when it is not in that mode. */
    static ThresholdOptions from(FederationConfig c) {
        if (!c.threshold()) {
            return null;
        }
        return new ThresholdOptions(
                c.heBackend(),
                c.hePreset(),
                c.committeeSize(),
                c.committeeThreshold(),
                c.decryptionTimeoutMs());
    }

    /** True when t < N: the members re-share their key shares first (Shamir dealings). */
    public boolean shamir() {
        return threshold < committeeSize;
    }
}
