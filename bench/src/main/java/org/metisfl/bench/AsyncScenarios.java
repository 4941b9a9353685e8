package org.metisfl.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Variants of the asynchronous scenario: the same federation with learners that wait for their
 * acknowledgement (the checkpoint holding their update) before their next upload, against the
 * standard scenario whose learners go on as soon as their next task comes (at accept time).
 */
final class AsyncScenarios {
    /** A scenario setting read by the benchmark, never passed to the federation. */
    static final String WAIT_FOR_ACK = "bench.learners-wait-for-ack";

    private AsyncScenarios() {}

    /** {@code s} with learners holding their transfer slot until their update is acknowledged. */
    static FederationBenchmark.Scenario waitingForAck(FederationBenchmark.Scenario s) {
        Map<String, String> extra = new LinkedHashMap<>(s.extra());
        extra.put(WAIT_FOR_ACK, "true");
        return new FederationBenchmark.Scenario(
                s.id() + "-ackwait",
                s.group(),
                s.values(),
                s.learners(),
                s.trainers(),
                s.channels(),
                s.rounds(),
                s.fetchModel(),
                s.checkpointInterval(),
                extra,
                s.heap(),
                s.timeout(),
                s.tls());
    }

    /** Whether the settings ask for learners that wait for their ack; removes the setting. */
    static boolean waitsForAck(Map<String, String> settings) {
        return "true".equals(settings.remove(WAIT_FOR_ACK));
    }
}
