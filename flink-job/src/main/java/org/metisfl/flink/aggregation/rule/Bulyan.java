package org.metisfl.flink.aggregation.rule;

import static org.metisfl.flink.config.FederationOptions.KRUM_BYZANTINE;
import static org.metisfl.flink.config.FederationOptions.MAX_BUFFERED_UPDATES;
import static org.metisfl.flink.config.FederationOptions.MIN_LEARNERS;
import static org.metisfl.flink.config.FederationOptions.SELECTION_PARTICIPANTS;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.Payload;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bulyan (El Mhamdi, Guerraoui, Rouault, ICML 2018), as Flower has it: Krum applied repeatedly
 * selects θ = n - 2f updates (from the distances every shard contributes), then each coordinate is
 * the mean of the β = θ - 2f selected values closest to their median. It needs n >= 4f + 3
 * contributions: a configuration that cannot guarantee them is refused, and a round that ends with
 * fewer (a deadline with a low quorum) is aborted, the model staying as it was.
 */
public final class Bulyan extends BufferingRule implements Selection<Updates> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(Bulyan.class);

    private final int byzantine;

    /**
     * @param byzantine f, the faulty learners tolerated ({@code aggregation.krum-byzantine})
     */
    public Bulyan(int byzantine) {
        if (byzantine < 0) {
            throw new IllegalArgumentException(
                    "aggregation.krum-byzantine must be >= 0, was " + byzantine);
        }
        this.byzantine = byzantine;
    }

    /**
     * Bulyan as {@code c} configures it; refuses settings under which a round cannot reach 4f + 3
     * contributions.
     */
    public static Bulyan of(RuleOptions c) {
        Bulyan b = new Bulyan(c.krumByzantine());
        int need = b.minimumContributions();
        String why =
                "aggregation.rule bulyan with "
                        + KRUM_BYZANTINE.key()
                        + " = "
                        + c.krumByzantine()
                        + " needs at least 4f + 3 = "
                        + need
                        + " contributions per round, but ";
        if (c.minLearners() < need) {
            throw new InvalidConfigException(
                    why
                            + MIN_LEARNERS.key()
                            + " is "
                            + c.minLearners()
                            + "; set it to "
                            + need
                            + " or more, or lower "
                            + KRUM_BYZANTINE.key());
        }
        if (c.selectionParticipants() > 0 && c.selectionParticipants() < need) {
            throw new InvalidConfigException(
                    why
                            + SELECTION_PARTICIPANTS.key()
                            + " is "
                            + c.selectionParticipants()
                            + "; draw "
                            + need
                            + " or more, or lower "
                            + KRUM_BYZANTINE.key());
        }
        if (c.maxBufferedUpdates() < need) {
            throw new InvalidConfigException(
                    why
                            + MAX_BUFFERED_UPDATES.key()
                            + " is "
                            + c.maxBufferedUpdates()
                            + "; raise it to "
                            + need
                            + " or more");
        }
        return b;
    }

    /** The fewest contributions a round needs: 4f + 3. */
    public int minimumContributions() {
        return 4 * byzantine + 3;
    }

    @Override
    public String name() {
        return "bulyan";
    }

    @Override
    public Selection<Updates> selection() {
        return this;
    }

    @Override
    public Payload result(Updates acc) {
        throw new IllegalStateException("bulyan aggregates after the selection");
    }

    @Override
    public double[] partial(Updates acc, List<String> contributors) {
        return Krum.pairwiseSquaredDistances(acc, contributors);
    }

    @Override
    public List<String> select(double[] total, List<String> contributors, long round) {
        int n = contributors.size();
        if (n < minimumContributions()) {
            LOG.error(
                    "Round {}: Bulyan with f = {} needs at least 4f + 3 = {} contributions, the"
                            + " round closed with {}; the round is aborted and the model stays."
                            + " Raise round.quorum or lower aggregation.krum-byzantine.",
                    round,
                    byzantine,
                    minimumContributions(),
                    n);
            return List.of();
        }
        List<String> chosen = new ArrayList<>();
        for (int i : RobustAggregation.bulyanSelect(Krum.square(total, n), byzantine)) {
            chosen.add(contributors.get(i));
        }
        Collections.sort(chosen);
        LOG.info("Round {}: Bulyan selected {} of {} updates", round, chosen.size(), n);
        return chosen;
    }

    @Override
    public Payload resultOf(Updates acc, List<String> selected) {
        int beta = selected.size() - 2 * byzantine;
        return Payload.dense(RobustAggregation.meanAroundMedian(acc.valuesOf(selected), beta));
    }
}
