package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import org.metisfl.cli.JobRecords.JobRecord;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code metisfl status [JOB]}: the job's state and the federation's progress. */
@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = {
            "Shows a federation job's state, the running round (participants, contributors so"
                    + " far, who is waited for and until when, dropped learners) from the job's"
                    + " metrics, and, when its results file is readable here, the last rounds"
                    + " (participants, contributors, dropped) and the last accuracy.",
            "JOB defaults to the one running MetisFL job."
        })
final class StatusCommand extends ClusterCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    @Parameters(index = "0", arity = "0..1", paramLabel = "JOB", description = "Flink job id.")
    String jobId;

    @Override
    public Integer call() {
        JobInfo job = resolveJob(jobId);
        Optional<JobRecord> record = records().find(job.id());
        out().printf(
                        "Job %s  federation '%s'  %s (since %s, %s)%n",
                        job.id(),
                        job.federation(),
                        job.state(),
                        TIME.format(Instant.ofEpochMilli(job.startTime())),
                        duration(job.duration()));
        out().println("  Web UI:     " + flink().webUiLink(job.id(), job.isActive()));
        record.ifPresent(
                r -> {
                    if (!r.gateways.isEmpty()) {
                        out().println("  Gateways:   " + String.join(", ", r.gateways));
                    }
                    if (r.resumedFrom != null) {
                        out().println("  Resumed:    from " + r.resumedFrom);
                    }
                });
        out().println("  Federation: " + progress(job, record));
        if (job.isActive()) {
            runningRound(flink().federationMetrics(job.id(), job.federation()));
        }
        recentRounds();
        if (readableResults != null) {
            // the report command reads the file here and needs no cluster: no --cluster
            out().println(
                            "  Report:     "
                                    + env().command()
                                    + " report "
                                    + shellWord(env().path(readableResults)));
        }
        return 0;
    }

    /** The results file, once it holds a round and is readable here. */
    private Path readableResults;

    private String progress(JobInfo job, Optional<JobRecord> record) {
        Path results =
                record.map(r -> Path.of(r.resultsFile))
                        .orElse(
                                env().home()
                                        .resolve("results")
                                        .resolve(job.federation() + ".jsonl"));
        if (!results.isAbsolute()) {
            results = env().home().resolve(results);
        }
        if (!Files.exists(results)) {
            return flink().isLocal()
                    ? "no round finished yet (results go to " + results + ")"
                    : "results file not readable here (" + results + " is on the cluster)";
        }
        List<RoundResult> rounds;
        try {
            rounds = RoundResults.read(results);
        } catch (IOException e) {
            return "cannot read the results file " + results + ": " + e.getMessage();
        }
        if (rounds.isEmpty()) {
            return "no round finished yet (results go to " + results + ")";
        }
        readableResults = results;
        this.rounds = rounds;
        RoundResult last = rounds.get(rounds.size() - 1);
        int total = record.map(r -> r.rounds).orElse(0);
        StringBuilder s = new StringBuilder();
        s.append("round ").append(last.round);
        if (total > 0) {
            s.append(" of ").append(total);
        }
        s.append(last.last ? " done (federation over)" : " done");
        s.append(", ")
                .append(last.contributors == null ? 0 : last.contributors.size())
                .append("/")
                .append(last.participants)
                .append(" learners contributed");
        if (last.aborted) {
            s.append(" (ABORTED: no quorum at the deadline)");
        }
        Double accuracy = metric(last.evalMetrics, "accuracy");
        if (accuracy == null) {
            // evaluation may be off, or its reports late: the latest round that has one
            for (int i = rounds.size() - 1; i >= 0 && accuracy == null; i--) {
                accuracy = metric(rounds.get(i).evalMetrics, "accuracy");
                if (accuracy != null) {
                    s.append(", last accuracy ")
                            .append(String.format(Locale.ROOT, "%.4f", accuracy))
                            .append(" (round ")
                            .append(rounds.get(i).round)
                            .append(")");
                }
            }
        } else {
            s.append(", last accuracy ").append(String.format(Locale.ROOT, "%.4f", accuracy));
        }
        s.append("; results in ").append(results);
        return s.toString();
    }

    /** How many finished rounds {@code status} lists. */
    static final int RECENT_ROUNDS = 5;

    /** The rounds of the results file, once read. */
    private List<RoundResult> rounds = List.of();

    /**
     * The running round from the coordinator's metrics (synchronous protocols): participants,
     * contributors so far, who the round waits for and until when, learners dropped.
     */
    private void runningRound(Map<String, String> m) {
        if (!"TRAINING".equals(m.get("phase")) || !m.containsKey("roundWaitingFor")) {
            if (m.containsKey("phase") && !m.get("phase").isEmpty()) {
                out().println("  Now:        " + phaseText(m.get("phase")));
            }
            return;
        }
        long deadline = parseLong(m.get("roundDeadline"));
        out().printf(
                        "  Round %s:   running; %s of %s participants contributed so far; deadline %s (%s)%n",
                        m.getOrDefault("round", "?"),
                        m.getOrDefault("roundContributors", "?"),
                        m.getOrDefault("participants", "?"),
                        TIME.format(Instant.ofEpochMilli(deadline)),
                        untilText(deadline));
        String waiting = m.get("roundWaitingFor");
        out().println(
                        "    waiting for: "
                                + (waiting.isEmpty()
                                        ? "nobody (the round is closing)"
                                        : ids(waiting)));
        String gone = m.getOrDefault("roundGone", "");
        if (!gone.isEmpty()) {
            StringBuilder s = new StringBuilder();
            for (String g : gone.split(",")) {
                int at = g.lastIndexOf('@');
                if (s.length() > 0) {
                    s.append(", ");
                }
                if (at < 0) {
                    s.append(g);
                    continue;
                }
                long dropAt = parseLong(g.substring(at + 1));
                s.append(g, 0, at)
                        .append(" until ")
                        .append(TIME.format(Instant.ofEpochMilli(dropAt)));
            }
            out().println(
                            "    task stream gone (dropped unless back in time, round.participant-grace): "
                                    + s);
        }
        String dropped = m.getOrDefault("roundDropped", "");
        if (!dropped.isEmpty()) {
            out().println("    dropped:     " + ids(dropped));
        }
    }

    private static String phaseText(String phase) {
        return switch (phase) {
            case "WAITING_FOR_MODEL" -> "waiting for the initial model";
            case "WAITING_FOR_LEARNERS" -> "waiting for learners (federation.min-learners)";
            case "FINAL_EVALUATION" -> "evaluating the final model";
            case "FINISHED" -> "finished";
            default -> phase.toLowerCase(Locale.ROOT);
        };
    }

    private String untilText(long deadline) {
        long left = deadline - System.currentTimeMillis();
        return left >= 0 ? "in " + duration(left) : duration(-left) + " ago";
    }

    private static String ids(String list) {
        return list.replace(",+", " and ").replace(",", ", ")
                + (list.contains(",+") ? " more" : "");
    }

    private static long parseLong(String s) {
        try {
            return s == null ? 0 : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The last few rounds of the results file: participants, contributors, dropped. */
    private void recentRounds() {
        if (rounds.isEmpty()) {
            return;
        }
        out().println("  Rounds:     round  participants  contributors  dropped  time");
        for (RoundResult r :
                rounds.subList(Math.max(0, rounds.size() - RECENT_ROUNDS), rounds.size())) {
            int dropped = r.dropped == null ? 0 : r.dropped.size();
            out().printf(
                            "              %5d  %12d  %12d  %7d  %s%s%n",
                            r.round,
                            r.participants,
                            r.contributors == null ? 0 : r.contributors.size(),
                            dropped,
                            duration(r.roundTimeMs),
                            r.aborted
                                    ? "  ABORTED"
                                    : dropped > 0
                                            ? "  dropped: " + String.join(", ", r.dropped)
                                            : "");
        }
    }

    private static Double metric(Map<String, Double> metrics, String name) {
        return metrics == null ? null : metrics.get(name);
    }

    static String duration(long ms) {
        Duration d = Duration.ofMillis(Math.max(0, ms));
        if (d.toHours() > 0) {
            return String.format(Locale.ROOT, "%d h %d min", d.toHours(), d.toMinutesPart());
        }
        if (d.toMinutes() > 0) {
            return String.format(Locale.ROOT, "%d min %d s", d.toMinutes(), d.toSecondsPart());
        }
        return d.toSeconds() + " s";
    }
}
