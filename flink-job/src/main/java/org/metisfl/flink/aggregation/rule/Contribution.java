package org.metisfl.flink.aggregation.rule;

import org.metisfl.flink.model.Payload;

/** One learner's update for one shard of a round, with its weight, as a wrapper sees it. */
public record Contribution(String learner, Payload payload, double weight) {}
