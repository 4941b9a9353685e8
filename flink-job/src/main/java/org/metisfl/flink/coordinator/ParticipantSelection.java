package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.CoordinatorOptions;

/**
 * Draws a round's participants from the active learners: all of them, a fixed number, or a
 * fraction; for rules that keep every update, at most {@code aggregation.max-buffered-updates}; and
 * the learners that evaluate a model: at most {@code evaluation.max-learners} of its candidates.
 * Each draw depends only on the seed, the round (or version) and the candidates, so a restored
 * federation draws the same learners.
 */
final class ParticipantSelection {

    private ParticipantSelection() {}

    static List<String> draw(List<String> active, long round, CoordinatorOptions config) {
        List<String> sorted = new ArrayList<>(active);
        Collections.sort(sorted);
        int n = sorted.size();
        int k =
                config.selectionParticipants() > 0
                        ? Math.min(n, config.selectionParticipants())
                        : Math.max(1, (int) Math.ceil(config.selectionRatio() * n - 1e-9));
        if (Rules.of(config.rules()).buffersUpdates()) {
            k = Math.min(k, config.rules().maxBufferedUpdates());
        }
        return sample(sorted, k, config.selectionSeed() * 1_000_003L + round);
    }

    /**
     * The learners asked to evaluate the model of {@code round} (a version when asynchronous):
     * every candidate, or {@code evaluation.max-learners} of them drawn with their own seed (not
     * the participants' draw of the same round).
     */
    static List<String> evaluators(
            Collection<String> candidates, long round, CoordinatorOptions config) {
        List<String> sorted = new ArrayList<>(candidates);
        Collections.sort(sorted);
        int max = config.evaluationMaxLearners();
        int k = max > 0 ? Math.min(max, sorted.size()) : sorted.size();
        return sample(sorted, k, (config.selectionSeed() ^ EVALUATOR_SEED) * 1_000_003L + round);
    }

    private static final long EVALUATOR_SEED = 0x5DEECE66DL;

    /** {@code k} of the sorted learners, drawn with {@code seed}, sorted. */
    private static List<String> sample(List<String> sorted, int k, long seed) {
        if (k >= sorted.size()) {
            return sorted;
        }
        Collections.shuffle(sorted, new Random(seed));
        List<String> chosen = new ArrayList<>(sorted.subList(0, k));
        Collections.sort(chosen);
        return chosen;
    }
}
