package org.metisfl.flink.coordinator;

import java.util.Random;
import org.metisfl.flink.config.PrivacyOptions;
import org.metisfl.flink.privacy.AdaptiveClipping;
import org.metisfl.flink.privacy.GaussianNoise;
import org.metisfl.flink.privacy.RdpAccountant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Central DP at the coordinator: spends each released round in the Rényi-DP accountant (a Poisson
 * sample of rate participants / active learners, noise multiplier z), reports epsilon for the
 * configured delta, and moves the clip norm after each round with adaptive clipping. Its state (the
 * RDP vector and the clip norm) lives in {@link FederationProgress}, so a savepoint keeps it.
 */
final class PrivacyLedger {
    private static final Logger LOG = LoggerFactory.getLogger(PrivacyLedger.class);

    private final PrivacyOptions config;
    private final AdaptiveClipping adaptive;
    private final Random secure;

    PrivacyLedger(PrivacyOptions config) {
        this.config = config;
        this.adaptive =
                config.adaptive()
                        ? AdaptiveClipping.of(config.targetQuantile(), config.clipLearningRate())
                        : null;
        this.secure = config.noiseSeed().isPresent() ? null : GaussianNoise.secure();
    }

    /** The clip norm of the round about to open (the configured one before the first round). */
    double clipNorm(FederationProgress p) {
        if (!(p.clipNorm > 0)) {
            p.clipNorm = config.clipNorm();
        }
        return p.clipNorm;
    }

    /** Accounts a closed round and records epsilon and the clip norm in its stats. */
    void account(FederationProgress p, RoundStats s) {
        RdpAccountant accountant = RdpAccountant.restore(p.privacyRdp);
        s.clipNorm = clipNorm(p);
        int contributions = s.contributors.size();
        if (!s.aborted && contributions > 0) {
            // An aborted round releases nothing and costs nothing.
            double q = s.active > 0 ? Math.min(1.0, (double) s.participants / s.active) : 1.0;
            accountant.compose(q, config.noiseMultiplier(), 1);
            p.privacyRdp = accountant.rdp();
            if (adaptive != null) {
                double countStddev = config.clippedCountStddevOf(s.participants);
                double fraction =
                        AdaptiveClipping.noisedUnclippedFraction(
                                s.unclipped, contributions, s.participants, countStddev, rng(s));
                p.clipNorm = adaptive.next(p.clipNorm, fraction);
            }
        }
        s.epsilon = accountant.epsilon(config.delta());
        s.delta = config.delta();
        LOG.info(
                "Round {}: central DP spent epsilon {} at delta {} ({} of {} updates within clip"
                        + " norm {}{})",
                s.round,
                String.format(java.util.Locale.ROOT, "%.4f", s.epsilon),
                config.delta(),
                s.unclipped,
                contributions,
                String.format(java.util.Locale.ROOT, "%.4g", s.clipNorm),
                adaptive == null
                        ? ""
                        : String.format(
                                java.util.Locale.ROOT, "; next clip norm %.4g", p.clipNorm));
    }

    /** {@code global + delta}, value by value, as a new array. */
    static float[] plus(float[] global, float[] delta) {
        if (global.length != delta.length) {
            throw new IllegalArgumentException(
                    "delta has " + delta.length + " values, the global shard " + global.length);
        }
        float[] out = new float[global.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = global[i] + delta[i];
        }
        return out;
    }

    private Random rng(RoundStats s) {
        return secure != null
                ? secure
                : GaussianNoise.seeded(config.noiseSeed().get(), s.round, -1);
    }
}
