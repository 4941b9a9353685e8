package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.CoordinatorOptions;

/**
 * Draws a round's participants from the active learners: all of them, a fixed number, or a
 * fraction; for rules that keep every update, at most {@code aggregation.max-buffered-updates}. The
 * draw depends only on the seed, the round and the active set, so a restored federation draws the
 * same participants.
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
        if (k >= n) {
            return sorted;
        }
        Collections.shuffle(sorted, new Random(config.selectionSeed() * 1_000_003L + round));
        List<String> chosen = new ArrayList<>(sorted.subList(0, k));
        Collections.sort(chosen);
        return chosen;
    }
}
