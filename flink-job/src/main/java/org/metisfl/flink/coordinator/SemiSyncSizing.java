package org.metisfl.flink.coordinator;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Semi-synchronous local work: sizes each participant's local steps to a common time budget, lambda
 * x the slowest participant's epoch time (MetisFL, Stripelis et al. 2022). Computed once every
 * participant has reported its speed, then kept (or recomputed every round if configured). Learners
 * with no measurement yet train by epochs.
 */
final class SemiSyncSizing {
    private static final Logger LOG = LoggerFactory.getLogger(SemiSyncSizing.class);

    private final double lambda;
    private final boolean recomputeEveryRound;

    SemiSyncSizing(double lambda, boolean recomputeEveryRound) {
        this.lambda = lambda;
        this.recomputeEveryRound = recomputeEveryRound;
    }

    /** Updates {@code p.semiSyncBudgetMs} and {@code p.localSteps} for the round's participants. */
    void size(FederationProgress p, List<String> participants, LearnerRegistry learners) {
        boolean recompute = recomputeEveryRound || p.semiSyncBudgetMs <= 0;
        Map<String, LearnerRecord> records = new HashMap<>();
        double slowestEpoch = 0;
        boolean allMeasured = true;
        for (String learner : participants) {
            LearnerRecord r = learners.get(learner);
            records.put(learner, r);
            if (r == null || r.msPerBatch <= 0) {
                allMeasured = false;
            } else {
                slowestEpoch = Math.max(slowestEpoch, r.msPerEpoch);
            }
        }
        if (recompute && allMeasured && slowestEpoch > 0) {
            p.semiSyncBudgetMs = lambda * slowestEpoch;
            p.localSteps = new HashMap<>();
        }
        if (p.semiSyncBudgetMs <= 0) {
            return;
        }
        for (String learner : participants) {
            LearnerRecord r = records.get(learner);
            if (!p.localSteps.containsKey(learner) && r != null && r.msPerBatch > 0) {
                p.localSteps.put(
                        learner, Math.max(1L, (long) Math.ceil(p.semiSyncBudgetMs / r.msPerBatch)));
            }
        }
        LOG.info(
                "Round budget {} ms: local steps {}", Math.round(p.semiSyncBudgetMs), p.localSteps);
    }
}
