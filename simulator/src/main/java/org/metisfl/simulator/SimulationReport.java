package org.metisfl.simulator;

import java.util.List;
import java.util.Optional;

/**
 * What a simulation saw: how many learners joined and held task streams, how it ended, and a {@link
 * RoundTimeline} per round. Times are microseconds since the epoch.
 *
 * @param learners simulated learners
 * @param joined learners whose Join succeeded
 * @param streamsOpened task-stream calls started (a task arriving on each proves the gateway holds
 *     it: see {@link RoundTimeline#trainTasks})
 * @param shutdowns learners that received the federation's Shutdown task
 * @param ended learners that are done (shutdown, stream ended, or failed to join)
 * @param timedOut whether the simulation hit its time bound before every learner ended
 * @param failures failed calls of any kind
 * @param failureSamples the first few failure messages
 * @param shutdownReason the reason of the first Shutdown task, or empty
 * @param startedAtUs when the simulation started
 * @param allJoinedAtUs when the last Join completed (0 if some never did)
 * @param allStreamsOpenedAtUs when the last task-stream call started (0 if some never did)
 * @param endedAtUs when the report was taken or the simulation ended
 * @param rounds one timeline per round seen, in round order
 * @param ackLatencies every acknowledged update's wait from its upload's end to its answer
 */
public record SimulationReport(
        int learners,
        int joined,
        int streamsOpened,
        int shutdowns,
        int ended,
        boolean timedOut,
        long failures,
        List<String> failureSamples,
        String shutdownReason,
        long startedAtUs,
        long allJoinedAtUs,
        long allStreamsOpenedAtUs,
        long endedAtUs,
        List<RoundTimeline> rounds,
        AckLatencies.Snapshot ackLatencies) {

    public SimulationReport {
        failureSamples = List.copyOf(failureSamples);
        rounds = List.copyOf(rounds);
    }

    /** A report without acknowledgement latencies. */
    public SimulationReport(
            int learners,
            int joined,
            int streamsOpened,
            int shutdowns,
            int ended,
            boolean timedOut,
            long failures,
            List<String> failureSamples,
            String shutdownReason,
            long startedAtUs,
            long allJoinedAtUs,
            long allStreamsOpenedAtUs,
            long endedAtUs,
            List<RoundTimeline> rounds) {
        this(
                learners,
                joined,
                streamsOpened,
                shutdowns,
                ended,
                timedOut,
                failures,
                failureSamples,
                shutdownReason,
                startedAtUs,
                allJoinedAtUs,
                allStreamsOpenedAtUs,
                endedAtUs,
                rounds,
                AckLatencies.Snapshot.EMPTY);
    }

    /** The timeline of {@code round}, if any learner saw it. */
    public Optional<RoundTimeline> round(long round) {
        return rounds.stream().filter(r -> r.round() == round).findFirst();
    }

    /**
     * The controller's work after a round's last update, seen from the learners: from the last
     * acknowledgement of round {@code round} to the first training task of the next round. With
     * checkpoints off the gateway acknowledges an update when its shards enter the job, so this
     * spans aggregation of the last update, model assembly, delivery to the gateways and the task
     * push. Empty if either end is missing.
     */
    public Optional<Long> tailAfterLastAckUs(long round) {
        Optional<RoundTimeline> r = round(round);
        Optional<RoundTimeline> next = round(round + 1);
        if (r.isEmpty() || next.isEmpty() || r.get().lastAckAtUs() == 0) {
            return Optional.empty();
        }
        return Optional.of(next.get().firstTaskAtUs() - r.get().lastAckAtUs());
    }

    /**
     * Like {@link #tailAfterLastAckUs} but from the moment the last upload of the round had all its
     * bytes handed to gRPC: also counts the gateway's receipt, decoding and cutting of that update.
     */
    public Optional<Long> tailAfterLastSentUs(long round) {
        Optional<RoundTimeline> r = round(round);
        Optional<RoundTimeline> next = round(round + 1);
        if (r.isEmpty() || next.isEmpty() || r.get().lastUploadSentUs() == 0) {
            return Optional.empty();
        }
        return Optional.of(next.get().firstTaskAtUs() - r.get().lastUploadSentUs());
    }

    /** Time from the first training task of {@code round} to the first of the next round. */
    public Optional<Long> periodUs(long round) {
        Optional<RoundTimeline> r = round(round);
        Optional<RoundTimeline> next = round(round + 1);
        if (r.isEmpty() || next.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(next.get().firstTaskAtUs() - r.get().firstTaskAtUs());
    }

    /**
     * The round's period minus its critical-path transfer time (the largest per-learner download
     * plus upload time): what the controller added on top of moving the bytes.
     */
    public Optional<Long> overheadUs(long round) {
        return periodUs(round).map(p -> p - round(round).get().maxTransferUs());
    }
}
