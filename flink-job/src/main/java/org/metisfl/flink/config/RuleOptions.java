package org.metisfl.flink.config;

import java.io.Serializable;
import org.metisfl.flink.config.FederationOptions.AsyncRule;
import org.metisfl.flink.config.FederationOptions.Rule;
import org.metisfl.flink.config.FederationOptions.SecureAggregation;
import org.metisfl.flink.config.FederationOptions.StalenessFunction;

/**
 * What the aggregation rules need of a federation's configuration ({@code aggregation.*} rule keys,
 * {@code async.*} rule keys, and the counts a rule checks its guarantees against): an immutable
 * snapshot of the validated {@link FederationConfig}, given to {@code Rules} by every part that
 * builds a rule (the aggregators, the coordinator's selection phase and participant draw).
 */
public final class RuleOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Rule rule;
    private final int strideLength;
    private final double trimFraction;
    private final int maxBufferedUpdates;
    private final int krumByzantine;
    private final int krumSelected;
    private final int minLearners;
    private final int selectionParticipants;
    private final AsyncRule asyncRule;
    private final double asyncAlpha;
    private final StalenessFunction asyncStaleness;
    private final double asyncStalenessA;
    private final long asyncStalenessB;
    private final long asyncMaxStaleness;
    private final int asyncBufferSize;
    private final double asyncServerLearningRate;
    private final SecureAggregation secureAggregation;
    private final String heBackend;
    private final String hePreset;
    private final PrivacyOptions privacy;

    private RuleOptions(FederationConfig c) {
        rule = c.rule();
        strideLength = c.strideLength();
        trimFraction = c.trimFraction();
        maxBufferedUpdates = c.maxBufferedUpdates();
        krumByzantine = c.krumByzantine();
        krumSelected = c.krumSelected();
        minLearners = c.minLearners();
        selectionParticipants = c.selectionParticipants();
        asyncRule = c.asyncRule();
        asyncAlpha = c.asyncAlpha();
        asyncStaleness = c.asyncStaleness();
        asyncStalenessA = c.asyncStalenessA();
        asyncStalenessB = c.asyncStalenessB();
        asyncMaxStaleness = c.asyncMaxStaleness();
        asyncBufferSize = c.asyncBufferSize();
        asyncServerLearningRate = c.asyncServerLearningRate();
        secureAggregation = c.secureAggregation();
        heBackend = c.heBackend();
        hePreset = c.hePreset();
        privacy = PrivacyOptions.from(c);
    }

    public static RuleOptions of(FederationConfig config) {
        return new RuleOptions(config);
    }

    /** The {@code privacy.*} keys: a privacy mechanism wraps the rule. */
    public PrivacyOptions privacy() {
        return privacy;
    }

    /** {@code aggregation.rule}. */
    public Rule rule() {
        return rule;
    }

    public int strideLength() {
        return strideLength;
    }

    public double trimFraction() {
        return trimFraction;
    }

    public int maxBufferedUpdates() {
        return maxBufferedUpdates;
    }

    public int krumByzantine() {
        return krumByzantine;
    }

    /** multi-krum: the m best-scored updates averaged; 0 means n - f. */
    public int krumSelected() {
        return krumSelected;
    }

    public int minLearners() {
        return minLearners;
    }

    public int selectionParticipants() {
        return selectionParticipants;
    }

    /** {@code async.rule}. */
    public AsyncRule asyncRule() {
        return asyncRule;
    }

    public double asyncAlpha() {
        return asyncAlpha;
    }

    public StalenessFunction asyncStaleness() {
        return asyncStaleness;
    }

    public double asyncStalenessA() {
        return asyncStalenessA;
    }

    public long asyncStalenessB() {
        return asyncStalenessB;
    }

    public long asyncMaxStaleness() {
        return asyncMaxStaleness;
    }

    public int asyncBufferSize() {
        return asyncBufferSize;
    }

    public double asyncServerLearningRate() {
        return asyncServerLearningRate;
    }

    /** {@code secure-aggregation}. */
    public SecureAggregation secureAggregation() {
        return secureAggregation;
    }

    /** {@code secure-aggregation.backend}. */
    public String heBackend() {
        return heBackend;
    }

    /** {@code secure-aggregation.preset}. */
    public String hePreset() {
        return hePreset;
    }
}
