package org.metisfl.learner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Acknowledged asynchronous updates per second of real learners (this library, each in its own
 * thread) against the real job on a MiniCluster, with pipelining off (every update awaits its
 * acknowledgement, as before) and on, one after the other for each checkpoint interval. Not a test:
 * run it with the module's test classpath (docs/benchmarks.md says how).
 *
 * <p>Arguments: learners (4), seconds per run (30), checkpoint intervals in ms (1000,2500).
 */
public final class PipelineThroughput {
    private PipelineThroughput() {}

    public static void main(String[] args) throws Exception {
        int learners = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        String[] intervals = (args.length > 2 ? args[2] : "1000,2500").split(",");
        Path work = Files.createTempDirectory("pipeline-throughput");
        System.out.printf(
                "%d learners, FedBuff (buffer 1), %d values, %d s per run%n",
                learners, 2000, seconds);
        System.out.println(
                "| checkpoint interval | learners wait for each acknowledgement | pipelined (at"
                        + " most 2 unacknowledged) |");
        System.out.println("| --- | --- | --- |");
        for (String interval : intervals) {
            String waiting =
                    run(work.resolve(interval + "-wait"), learners, seconds, interval, false);
            String pipelined =
                    run(work.resolve(interval + "-pipe"), learners, seconds, interval, true);
            System.out.printf("| %s ms | %s | %s |%n", interval, waiting, pipelined);
        }
    }

    private static String run(
            Path dir, int learners, int seconds, String intervalMs, boolean pipelining)
            throws Exception {
        try (PipelinedUploadsITCase.Federation f =
                PipelinedUploadsITCase.Federation.start(
                        dir,
                        Map.of(
                                "job.checkpoint-interval",
                                intervalMs + " ms",
                                "federation.rounds",
                                "1000000",
                                "async.max-staleness",
                                "1000",
                                "federation.min-learners",
                                Integer.toString(learners)))) {
            List<Learner> ls = new ArrayList<>();
            List<PipelinedUploadsITCase.ShiftingAdapter> adapters = new ArrayList<>();
            List<CompletableFuture<LearnerSummary>> runs = new ArrayList<>();
            for (int i = 0; i < learners; i++) {
                var a = new PipelinedUploadsITCase.ShiftingAdapter(i, learners, 0, null);
                Learner l = f.learner("bench-" + i, a, pipelining);
                adapters.add(a);
                ls.add(l);
                runs.add(CompletableFuture.supplyAsync(l::run));
            }
            while (adapters.stream().anyMatch(a -> a.firstTrainNanos.get() == 0)) {
                Thread.sleep(10);
            }
            long start =
                    adapters.stream().mapToLong(a -> a.firstTrainNanos.get()).min().orElseThrow();
            Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
            for (Learner l : ls) {
                l.close();
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            int acked = 0;
            int unacked = 0;
            int trained = 0;
            for (int i = 0; i < learners; i++) {
                LearnerSummary s = runs.get(i).get(2, TimeUnit.MINUTES);
                acked += s.roundsTrained();
                unacked += s.updatesUnacknowledged();
                trained += adapters.get(i).trained.get();
            }
            return String.format(
                    "%.2f updates/s (%d acknowledged in %.1f s; %d trained, %d unacknowledged at"
                            + " the stop)",
                    acked / elapsed, acked, elapsed, trained, unacked);
        }
    }
}
