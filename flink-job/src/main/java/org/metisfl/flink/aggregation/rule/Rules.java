package org.metisfl.flink.aggregation.rule;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.AsyncRule;
import org.metisfl.flink.config.FederationOptions.Rule;
import org.metisfl.flink.config.FederationOptions.SecureAggregation;
import org.metisfl.flink.config.RuleOptions;

/**
 * The registry of aggregation rules: {@code aggregation.rule}'s name to the rule's class, the
 * wrapping rules applied around it, and {@code async.rule}'s name to the asynchronous rule's class.
 *
 * <p>Adding a rule is one class and one line here (plus its name in {@link Rule}, the
 * configuration's vocabulary). Adding a wrapper (central DP, secure sum) is one class and one line
 * in {@link #WRAPPERS}: a function that returns the wrapper around the rule when the configuration
 * asks for it, else the rule unchanged. Wrappers apply in list order, the first innermost.
 */
public final class Rules {

    private static final Map<Rule, Function<RuleOptions, AggregationRule<?>>> RULES =
            new EnumMap<>(Rule.class);

    private static final List<BiFunction<RuleOptions, AggregationRule<?>, AggregationRule<?>>>
            WRAPPERS = List.of(CentralDp::wrapIfConfigured);

    private static final Map<AsyncRule, Function<RuleOptions, AsyncAggregationRule<?>>> ASYNC =
            new EnumMap<>(AsyncRule.class);

    static {
        RULES.put(Rule.FEDAVG, c -> new FedAvg());
        RULES.put(Rule.FEDSTRIDE, c -> new FedStride(c.strideLength()));
        RULES.put(Rule.MEDIAN, c -> new Median());
        RULES.put(Rule.TRIMMED_MEAN, c -> new TrimmedMean(c.trimFraction()));
        RULES.put(Rule.KRUM, c -> new Krum(c.krumByzantine(), 0, false));
        RULES.put(Rule.MULTI_KRUM, c -> new Krum(c.krumByzantine(), c.krumSelected(), true));
        RULES.put(Rule.BULYAN, Bulyan::of);

        ASYNC.put(AsyncRule.FEDASYNC, c -> new FedAsync(c.asyncAlpha()));
        ASYNC.put(AsyncRule.FEDREC, c -> new FedRec());
        ASYNC.put(
                AsyncRule.FEDBUFF,
                c -> new FedBuff(c.asyncBufferSize(), c.asyncServerLearningRate()));
    }

    private Rules() {}

    /**
     * The synchronous rule {@code config} names, wrapped as configured; throws {@link
     * org.metisfl.flink.config.InvalidConfigException} if the settings cannot hold for it.
     */
    public static AggregationRule<?> of(FederationConfig config) {
        return of(RuleOptions.of(config));
    }

    /** The synchronous rule {@code options} name, wrapped as configured. */
    public static AggregationRule<?> of(RuleOptions config) {
        if (config.secureAggregation() == SecureAggregation.CKKS
                || config.secureAggregation() == SecureAggregation.CKKS_THRESHOLD) {
            // The configuration allows only fedavg here; over ciphertexts it is a secure sum.
            return new SecureSum(config.heBackend(), config.hePreset());
        }
        Function<RuleOptions, AggregationRule<?>> factory = RULES.get(config.rule());
        if (factory == null) {
            throw new IllegalStateException(
                    "aggregation.rule " + config.rule() + " has no class registered in Rules");
        }
        AggregationRule<?> rule = factory.apply(config);
        for (BiFunction<RuleOptions, AggregationRule<?>, AggregationRule<?>> w : WRAPPERS) {
            rule = w.apply(config, rule);
        }
        return rule;
    }

    /** The asynchronous rule {@code config} names ({@code async.rule}). */
    public static AsyncAggregationRule<?> async(RuleOptions config) {
        if (config.secureAggregation() == SecureAggregation.CKKS) {
            // The configuration allows only fedbuff here; over ciphertexts learners send deltas.
            return new SecureFedBuff(
                    config.asyncBufferSize(),
                    config.asyncServerLearningRate(),
                    config.heBackend(),
                    config.hePreset());
        }
        Function<RuleOptions, AsyncAggregationRule<?>> factory = ASYNC.get(config.asyncRule());
        if (factory == null) {
            throw new IllegalStateException(
                    "async.rule " + config.asyncRule() + " has no class registered in Rules");
        }
        return factory.apply(config);
    }

    /** The staleness weighting {@code config} names ({@code async.staleness*}). */
    public static Staleness staleness(RuleOptions config) {
        return switch (config.asyncStaleness()) {
            case CONSTANT -> Staleness.constant();
            case POLYNOMIAL -> Staleness.polynomial(config.asyncStalenessA());
            case HINGE -> Staleness.hinge(config.asyncStalenessA(), config.asyncStalenessB());
        };
    }

    /** True if every rule name of the configuration has a class (a test pins it). */
    static boolean complete() {
        return RULES.keySet().containsAll(List.of(Rule.values()))
                && ASYNC.keySet().containsAll(List.of(AsyncRule.values()));
    }
}
