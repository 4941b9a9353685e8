package org.metisfl.flink.connector.gateway.server;

import java.util.List;
import org.metisfl.flink.config.FederationOptions.ClipOn;
import org.metisfl.flink.connector.gateway.server.ModelBoard.ModelSnapshot;
import org.metisfl.flink.privacy.L2Clipping;

/**
 * Central differential privacy at the gateway: turns an accepted update into its delta against the
 * round's global model, clipped to the round's clip norm over the whole update (all shards
 * together; a shard aggregator sees one shard and could not). The job enforces the bound whatever
 * the learner did: with clipping on the learner an honest update is already within it and passes
 * unchanged but for float32 rounding.
 *
 * <p>The global model is decoded once per model version and kept until the next one.
 */
final class UpdateClipper {

    private ModelSnapshot decodedFor;
    private float[][] decoded;

    /**
     * The clipped deltas of an update and Andrew et al.'s bit, or null if the update was not
     * trained from the gateway's current model (then there is nothing sound to clip against).
     *
     * @param baseVersion the model version the learner trained from, or -1 if it did not say
     * @param learnerBit what the learner reported (clipping on the learner), or null
     */
    Clipped clip(
            ModelSnapshot model,
            long baseVersion,
            float[][] shards,
            int shardSize,
            double clipNorm,
            ClipOn clipOn,
            Boolean learnerBit) {
        if (model == null || (baseVersion >= 0 && model.version() != baseVersion)) {
            return null;
        }
        float[][] global = global(model, shardSize);
        if (global.length != shards.length) {
            return null;
        }
        L2Clipping.Clipped c = L2Clipping.clipDeltas(shards, global, clipNorm);
        boolean unclipped =
                clipOn == ClipOn.LEARNER && learnerBit != null ? learnerBit : c.unclipped();
        return new Clipped(c.deltas(), c.norm(), unclipped);
    }

    private synchronized float[][] global(ModelSnapshot model, int shardSize) {
        if (decodedFor != model) {
            List<float[]> slices = model.bytes().slices(shardSize);
            decoded = slices.toArray(new float[0][]);
            decodedFor = model;
        }
        return decoded;
    }

    /**
     * The clipped deltas, the norm before the job's clipping, and the bit adaptive clipping counts.
     */
    record Clipped(float[][] deltas, double norm, boolean unclipped) {}
}
