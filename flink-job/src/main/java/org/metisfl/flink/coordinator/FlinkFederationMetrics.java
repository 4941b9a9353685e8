package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.metisfl.flink.model.RoundResult;

/**
 * {@link FederationMetrics} as Flink gauges in the group {@code federation.<name>} of the
 * coordinator operator, so they show in the web UI, the REST API and every configured reporter.
 * Written on the task thread, read by reporters: the fields are volatile.
 *
 * <p>Metrics: {@code round}, {@code modelVersion}, {@code registeredLearners}, {@code
 * activeLearners}, {@code participants}, {@code roundsCompleted}, {@code lastRound}, {@code
 * lastRoundDurationMs}, {@code lastContributors}, {@code lastAccuracy}, {@code lastLoss} (the
 * learners' evaluation of the round's model; NaN until one arrived), {@code lastTrainLoss}.
 *
 * <p>The running round, for {@code metisfl status} (synchronous protocols): {@code phase}, {@code
 * roundDeadline} (Unix ms), {@code roundContributors} (participants whose update arrived so far),
 * {@code roundWaitingFor} (participants still waited for, as comma-separated ids, at most {@link
 * #MAX_LISTED} then {@code +N}), {@code roundGone} (participants whose task stream is gone, each as
 * {@code id@ms}: dropped at that Unix ms unless it comes back), {@code roundDropped} (ids).
 */
public final class FlinkFederationMetrics implements FederationMetrics {
    private volatile long round;
    private volatile long modelVersion = -1;
    private volatile long registered;
    private volatile int active;
    private volatile int participants;
    private volatile long lastRound = -1;
    private volatile long lastRoundDurationMs;
    private volatile int lastContributors;
    private volatile double lastAccuracy = Double.NaN;
    private volatile double lastLoss = Double.NaN;
    private volatile double lastTrainLoss = Double.NaN;
    private final Counter roundsCompleted;

    /** How many learner ids a list gauge names before it says {@code +N}. */
    static final int MAX_LISTED = 20;

    /** The running round as last seen: immutable, replaced whole, read by reporters. */
    private volatile RoundView view = RoundView.NONE;

    /** Participants of {@link RoundView#round} whose update arrived. */
    private volatile Set<String> reported = ConcurrentHashMap.newKeySet();

    private volatile long reportedRound = -1;

    private record RoundView(
            String phase,
            long round,
            long deadline,
            List<String> participants,
            Map<String, Long> gone,
            List<String> dropped) {
        static final RoundView NONE = new RoundView("", 0, 0, List.of(), Map.of(), List.of());
    }

    private FlinkFederationMetrics(MetricGroup group) {
        group.gauge("round", (Gauge<Long>) () -> round);
        group.gauge("modelVersion", (Gauge<Long>) () -> modelVersion);
        group.gauge("registeredLearners", (Gauge<Long>) () -> registered);
        group.gauge("activeLearners", (Gauge<Integer>) () -> active);
        group.gauge("participants", (Gauge<Integer>) () -> participants);
        group.gauge("lastRound", (Gauge<Long>) () -> lastRound);
        group.gauge("lastRoundDurationMs", (Gauge<Long>) () -> lastRoundDurationMs);
        group.gauge("lastContributors", (Gauge<Integer>) () -> lastContributors);
        group.gauge("lastAccuracy", (Gauge<Double>) () -> lastAccuracy);
        group.gauge("lastLoss", (Gauge<Double>) () -> lastLoss);
        group.gauge("lastTrainLoss", (Gauge<Double>) () -> lastTrainLoss);
        roundsCompleted = group.counter("roundsCompleted");
        group.gauge("phase", (Gauge<String>) () -> view.phase());
        group.gauge("roundDeadline", (Gauge<Long>) () -> view.deadline());
        group.gauge("roundContributors", (Gauge<Integer>) () -> contributors(view).size());
        group.gauge("roundWaitingFor", (Gauge<String>) () -> list(waitingFor(view)));
        group.gauge("roundGone", (Gauge<String>) this::gone);
        group.gauge("roundDropped", (Gauge<String>) () -> list(view.dropped()));
    }

    private List<String> contributors(RoundView v) {
        if (reportedRound != v.round()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String l : v.participants()) {
            if (reported.contains(l)) {
                out.add(l);
            }
        }
        return out;
    }

    private List<String> waitingFor(RoundView v) {
        if (!v.phase().equals(Phase.TRAINING.name())) {
            return List.of();
        }
        boolean sameRound = reportedRound == v.round();
        List<String> out = new ArrayList<>();
        for (String l : v.participants()) {
            if (!(sameRound && reported.contains(l)) && !v.dropped().contains(l)) {
                out.add(l);
            }
        }
        return out;
    }

    private String gone() {
        RoundView v = view;
        List<String> out = new ArrayList<>();
        v.gone().forEach((l, at) -> out.add(l + "@" + at));
        return list(out);
    }

    private static String list(List<String> ids) {
        if (ids.size() <= MAX_LISTED) {
            return String.join(",", ids);
        }
        return String.join(",", ids.subList(0, MAX_LISTED)) + ",+" + (ids.size() - MAX_LISTED);
    }

    /**
     * Registers the federation's metrics in {@code operatorGroup}'s group {@code
     * federation.<name>}.
     */
    public static FlinkFederationMetrics register(MetricGroup operatorGroup, String federation) {
        return new FlinkFederationMetrics(operatorGroup.addGroup("federation", federation));
    }

    @Override
    public void progress(FederationProgress p) {
        round = p.round;
        modelVersion = p.modelVersion;
        active = p.activeLearners;
        participants = p.participants.size();
        RoundView v = view;
        String phase = p.phase == null ? "" : p.phase.name();
        if (v.round() != p.round
                || !v.phase().equals(phase)
                || v.deadline() != p.deadline
                || v.participants().size() != p.participants.size()
                || !v.gone().equals(p.dropAt)
                || v.dropped().size() != p.dropped.size()) {
            // Copied only when something changed: this runs after every record.
            view =
                    new RoundView(
                            phase,
                            p.round,
                            p.deadline,
                            List.copyOf(p.participants),
                            Map.copyOf(p.dropAt),
                            List.copyOf(p.dropped));
        }
    }

    @Override
    public void trainReport(long round, String learnerId) {
        if (round != reportedRound) {
            // A new set, not clear(): clear() visits the whole table, which a round with many
            // reporters grew, and an asynchronous report's round (its base version) changes with
            // almost every update (5% of the controller's CPU in the async benchmark).
            reported = ConcurrentHashMap.newKeySet();
            reportedRound = round;
        }
        reported.add(learnerId);
    }

    @Override
    public void registeredLearners(long registered) {
        this.registered = registered;
    }

    @Override
    public void result(RoundResult r) {
        lastRound = r.round;
        lastRoundDurationMs = r.roundTimeMs;
        lastContributors = r.contributors == null ? 0 : r.contributors.size();
        lastAccuracy = metric(r.evalMetrics, "accuracy");
        lastLoss = metric(r.evalMetrics, "loss");
        lastTrainLoss = metric(r.trainMetrics, "loss");
        roundsCompleted.inc();
    }

    private static double metric(Map<String, Double> metrics, String name) {
        Double v = metrics == null ? null : metrics.get(name);
        return v == null ? Double.NaN : v;
    }
}
