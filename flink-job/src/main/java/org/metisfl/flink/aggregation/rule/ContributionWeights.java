package org.metisfl.flink.aggregation.rule;

import org.metisfl.flink.config.FederationOptions.Scaling;

/**
 * The weight of a learner's update in the weighted rules ({@code aggregation.scaling}): its
 * training examples, its completed mini-batches, or 1 for every participant. The gateway stamps it
 * on every shard of the update; the rules only see the number.
 */
public final class ContributionWeights {

    private ContributionWeights() {}

    /**
     * The weight under {@code scaling} of an update trained on {@code examples} examples in {@code
     * batches} mini-batches; the gateway has checked that the counted one is positive.
     */
    public static double of(Scaling scaling, long examples, long batches) {
        return switch (scaling) {
            case EXAMPLES -> examples;
            case BATCHES -> batches;
            case PARTICIPANTS -> 1.0;
        };
    }
}
