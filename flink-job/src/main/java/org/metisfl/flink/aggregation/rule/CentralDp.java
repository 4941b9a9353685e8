package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.Random;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.config.PrivacyOptions;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.privacy.GaussianNoise;

/**
 * Central differential privacy around FedAvg: DP-FedAvg (McMahan et al., "Learning Differentially
 * Private Recurrent Language Models", ICLR 2018). The contributions are the updates' deltas,
 * clipped by the gateway to the round's clip norm C over the whole update (a shard cannot see the
 * whole norm); this wrapper adds each with weight 1, so one learner moves the sum by at most C, and
 * releases {@code (sum + N(0, (z C)^2)) / m} per value, m being the round's expected contributions
 * (its participants). The result is a delta ({@link #resultIsDelta()}): the coordinator adds it to
 * the round's global model.
 *
 * <p>The noise of a round at a shard comes from a SHA1PRNG keyed by 256 secret bits the operating
 * system's {@link java.security.SecureRandom} gave when the round's first update arrived; they are
 * kept (and checkpointed) in the wrapper's state, so a round that closes again after a failover
 * releases the same noise. {@code privacy.noise-seed} replaces them in tests; with adaptive
 * clipping the multiplier is lowered to leave the clipped count its share ({@link
 * PrivacyOptions#sumNoiseMultiplier}). The wrapper's own state is the number of contributions it
 * passed on.
 */
public final class CentralDp extends WrappingRule<CentralDp.Count, FedAvg.Sum> {
    private static final long serialVersionUID = 1L;

    private final PrivacyOptions options;

    CentralDp(AggregationRule<FedAvg.Sum> inner, PrivacyOptions options) {
        super(inner);
        this.options = options;
    }

    /** The rule wrapped in central DP if {@code privacy.mechanism} asks for it, else the rule. */
    @SuppressWarnings("unchecked")
    static AggregationRule<?> wrapIfConfigured(RuleOptions config, AggregationRule<?> rule) {
        if (!config.privacy().centralDp()) {
            return rule;
        }
        if (!(rule instanceof FedAvg)) {
            // FederationConfig refuses this with the reason; a rule built by hand must not slip by.
            throw new IllegalArgumentException(
                    "central-dp wraps fedavg only, not "
                            + rule.name()
                            + " (see privacy.mechanism)");
        }
        return new CentralDp((AggregationRule<FedAvg.Sum>) rule, config.privacy());
    }

    /**
     * How many contributions of the round this shard summed, and the secret seed of its noise:
     * drawn when the round's first update reaches the shard and checkpointed with the sum, so that
     * a round closed again after a failover releases the same noise, not a second independent one.
     */
    public static final class Count {
        int contributions;
        byte[] seed;

        public Count() {}

        Count(int contributions, byte[] seed) {
            this.contributions = contributions;
            this.seed = seed;
        }

        public int contributions() {
            return contributions;
        }
    }

    @Override
    protected String wrapperName() {
        return "central-dp";
    }

    @Override
    protected Count createState() {
        return new Count(0, options.noiseSeed().isPresent() ? null : GaussianNoise.secretSeed());
    }

    @Override
    protected Count mergeState(Count a, Count b) {
        return new Count(a.contributions + b.contributions, a.seed != null ? a.seed : b.seed);
    }

    @Override
    protected TypeSerializer<Count> stateSerializer() {
        return new CountSerializer();
    }

    /** Every clipped delta weighs 1: a weight would multiply it past the clip norm. */
    @Override
    protected Contribution onContribution(Count state, FedAvg.Sum inner, Contribution c) {
        state.contributions++;
        return c.weight() == 1.0 ? c : new Contribution(c.learner(), c.payload(), 1.0);
    }

    @Override
    protected Payload onResult(Count state, FedAvg.Sum inner, Payload result) {
        throw new IllegalStateException(
                "central-dp needs the round (its expected contributions and clip norm) to add"
                        + " noise: call result(acc, round)");
    }

    @Override
    protected Payload onResult(Count state, FedAvg.Sum inner, Payload result, RoundContext round) {
        if (round.expected() < 1) {
            throw new IllegalStateException(
                    "round " + round.round() + " has no expected contributions to divide by");
        }
        double clip = round.clipNorm() > 0 ? round.clipNorm() : options.clipNorm();
        double stddev = options.sumNoiseMultiplier(round.expected()) * clip;
        return Payload.dense(
                GaussianNoise.noisedMean(inner.sum, stddev, round.expected(), rng(state, round)));
    }

    @Override
    public boolean resultIsDelta() {
        return true;
    }

    private Random rng(Count state, RoundContext round) {
        if (options.noiseSeed().isPresent()) {
            return GaussianNoise.seeded(options.noiseSeed().get(), round.round(), round.shard());
        }
        if (state.seed == null) {
            state.seed = GaussianNoise.secretSeed();
        }
        return GaussianNoise.fromSecret(state.seed);
    }

    /** Format 1: the count, the seed's length (-1: none) and bytes. */
    public static final class CountSerializer extends StateSerializer<Count> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Count createInstance() {
            return new Count();
        }

        @Override
        public Count copy(Count from) {
            return new Count(from.contributions, from.seed == null ? null : from.seed.clone());
        }

        @Override
        protected void write(Count value, DataOutputView out) throws IOException {
            out.writeInt(value.contributions);
            out.writeInt(value.seed == null ? -1 : value.seed.length);
            if (value.seed != null) {
                out.write(value.seed);
            }
        }

        @Override
        protected Count read(int version, DataInputView in) throws IOException {
            int contributions = in.readInt();
            int n = in.readInt();
            byte[] seed = null;
            if (n >= 0) {
                seed = new byte[n];
                in.readFully(seed);
            }
            return new Count(contributions, seed);
        }
    }
}
