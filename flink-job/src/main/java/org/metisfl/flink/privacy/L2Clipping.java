package org.metisfl.flink.privacy;

/**
 * Per-update L2 clipping of a model delta (McMahan et al. 2018, "Learning Differentially Private
 * Recurrent Language Models", flat clipping): {@code delta * min(1, C / ||delta||)}, so that no
 * single update moves the sum by more than {@code C}.
 *
 * <p>An update is a whole model cut into shards, so norms are taken over all shards of one update
 * together: a shard alone never decides its own factor.
 */
public final class L2Clipping {

    private L2Clipping() {}

    /**
     * The squared L2 norm of {@code update - global} over every shard, accumulated in double. A
     * null {@code global} means the update already is a delta.
     */
    public static double deltaSquaredNorm(float[][] update, float[][] global) {
        if (global != null && global.length != update.length) {
            throw new IllegalArgumentException(
                    "update has " + update.length + " shards, the global model " + global.length);
        }
        double sum = 0;
        for (int s = 0; s < update.length; s++) {
            float[] u = update[s];
            if (global == null) {
                for (float v : u) {
                    sum += (double) v * v;
                }
                continue;
            }
            float[] g = global[s];
            if (g.length != u.length) {
                throw new IllegalArgumentException(
                        "shard "
                                + s
                                + " of the update has "
                                + u.length
                                + " values, of the global model "
                                + g.length);
            }
            for (int i = 0; i < u.length; i++) {
                double d = (double) u[i] - g[i];
                sum += d * d;
            }
        }
        return sum;
    }

    /** {@code min(1, clipNorm / norm)}: 1 for an update within the bound (and for a zero delta). */
    public static double factor(double norm, double clipNorm) {
        if (!(clipNorm > 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("clip norm must be finite and > 0, was " + clipNorm);
        }
        if (!(norm >= 0)) {
            throw new IllegalArgumentException("norm must be >= 0, was " + norm);
        }
        return norm <= clipNorm ? 1.0 : clipNorm / norm;
    }

    /**
     * The clipped delta of one shard, {@code (update - global) * factor}, as float32 (a null {@code
     * global} means the update already is a delta). Rounding to float32 can lengthen the result by
     * a relative 2^-24 at most per value; {@link #clipDeltas} shrinks the factor to keep the bound
     * exact.
     */
    public static float[] clippedDelta(float[] update, float[] global, double factor) {
        float[] out = new float[update.length];
        for (int i = 0; i < update.length; i++) {
            double d = global == null ? update[i] : (double) update[i] - global[i];
            out[i] = (float) (d * factor);
        }
        return out;
    }

    /**
     * Clips one whole update against the global model: returns the deltas of every shard, scaled so
     * that their joint L2 norm is at most {@code clipNorm} (exactly, after float32 rounding).
     */
    public static Clipped clipDeltas(float[][] update, float[][] global, double clipNorm) {
        double norm = Math.sqrt(deltaSquaredNorm(update, global));
        double factor = factor(norm, clipNorm);
        // float32 rounding of each value can add a relative 2^-24 to the norm: leave room for it.
        double safe = factor < 1 ? factor * (1 - 0x1p-22) : factor;
        float[][] out = new float[update.length][];
        for (int s = 0; s < update.length; s++) {
            out[s] = clippedDelta(update[s], global == null ? null : global[s], safe);
        }
        return new Clipped(out, norm, factor >= 1);
    }

    /**
     * One clipped update.
     *
     * @param deltas the clipped delta of every shard
     * @param norm the L2 norm of the delta before clipping
     * @param unclipped whether the norm was within the bound (Andrew et al.'s bit b_i)
     */
    public record Clipped(float[][] deltas, double norm, boolean unclipped) {}
}
