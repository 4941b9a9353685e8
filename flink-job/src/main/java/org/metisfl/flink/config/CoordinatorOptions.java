package org.metisfl.flink.config;

import java.io.Serializable;
import java.util.Optional;
import org.metisfl.flink.config.FederationOptions.MetricGoal;
import org.metisfl.flink.config.FederationOptions.Optimizer;
import org.metisfl.flink.config.FederationOptions.Protocol;

/**
 * What the round coordinator needs of a federation's configuration: an immutable snapshot taken
 * from the validated {@link FederationConfig}, so the coordinator depends on nothing else of it.
 * Accessors are named as in {@link FederationConfig}.
 */
public final class CoordinatorOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String name;
    private final int rounds;
    private final int minLearners;
    private final String initialModelFile;
    private final String heBackend;
    private final String hePreset;
    private final String hePublicKeyFile;
    private final Protocol protocol;
    private final long roundTimeoutMs;
    private final long participantGraceMs;
    private final long restartGraceMs;
    private final double quorum;
    private final double semiSyncLambda;
    private final boolean semiSyncRecompute;
    private final RuleOptions rules;
    private final Optimizer optimizer;
    private final double optimizerLearningRate;
    private final double optimizerMomentum;
    private final double optimizerBeta1;
    private final double optimizerBeta2;
    private final double optimizerTau;
    private final int selectionParticipants;
    private final double selectionRatio;
    private final long selectionSeed;
    private final long maxDurationMs;
    private final String terminationMetric;
    private final double terminationCutoff;
    private final MetricGoal terminationGoal;
    private final int asyncEvaluateEvery;
    private final long asyncPublishIntervalMs;
    private final long asyncEvaluateIntervalMs;
    private final int shardSize;
    private final boolean evaluationEnabled;
    private final long evaluationTimeoutMs;
    private final int evaluationMaxLearners;
    private final PrivacyOptions privacy;
    private final ThresholdOptions threshold;

    private CoordinatorOptions(FederationConfig c) {
        name = c.name();
        rounds = c.rounds();
        minLearners = c.minLearners();
        initialModelFile = c.initialModelFile().orElse(null);
        boolean encrypted = c.secureAggregation() == FederationOptions.SecureAggregation.CKKS;
        heBackend = encrypted ? c.heBackend() : null;
        hePreset = encrypted ? c.hePreset() : null;
        hePublicKeyFile = encrypted ? c.hePublicKeyFile().orElse(null) : null;
        protocol = c.protocol();
        roundTimeoutMs = c.roundTimeoutMs();
        participantGraceMs = c.participantGraceMs();
        restartGraceMs = c.restartGraceMs();
        quorum = c.quorum();
        semiSyncLambda = c.semiSyncLambda();
        semiSyncRecompute = c.semiSyncRecompute();
        rules = RuleOptions.of(c);
        optimizer = c.optimizer();
        optimizerLearningRate = c.optimizerLearningRate();
        optimizerMomentum = c.optimizerMomentum();
        optimizerBeta1 = c.optimizerBeta1();
        optimizerBeta2 = c.optimizerBeta2();
        optimizerTau = c.optimizerTau();
        selectionParticipants = c.selectionParticipants();
        selectionRatio = c.selectionRatio();
        selectionSeed = c.selectionSeed();
        maxDurationMs = c.maxDurationMs();
        terminationMetric = c.terminationMetric().orElse(null);
        terminationCutoff = c.terminationCutoff();
        terminationGoal = c.terminationGoal();
        asyncEvaluateEvery = c.asyncEvaluateEvery();
        asyncPublishIntervalMs = c.asyncPublishIntervalMs();
        asyncEvaluateIntervalMs = c.asyncEvaluateIntervalMs();
        shardSize = c.shardSize();
        evaluationEnabled = c.evaluationEnabled();
        evaluationTimeoutMs = c.evaluationTimeoutMs();
        evaluationMaxLearners = c.evaluationMaxLearners();
        privacy = PrivacyOptions.from(c);
        threshold = ThresholdOptions.from(c);
    }

    /**
     * Threshold mode, or null: the committee's keying before the first round and each round's
     * decryption (the global model itself stays plaintext, {@link #encrypted()} is false).
     */
    public ThresholdOptions threshold() {
        return threshold;
    }

    /** The coordinator's part of a validated configuration. */
    /** The privacy mechanism's settings (central DP accounting and adaptive clipping). */
    public PrivacyOptions privacy() {
        return privacy;
    }

    public static CoordinatorOptions from(FederationConfig config) {
        return new CoordinatorOptions(config);
    }

    public String name() {
        return name;
    }

    public int rounds() {
        return rounds;
    }

    public int minLearners() {
        return minLearners;
    }

    /** The initial model file, or empty when the first learner's weights are the initial model. */
    public Optional<String> initialModelFile() {
        return Optional.ofNullable(initialModelFile);
    }

    /** True for {@code secure-aggregation: ckks}: the global model is ciphertexts. */
    public boolean encrypted() {
        return heBackend != null;
    }

    /** {@code secure-aggregation.backend} when {@link #encrypted()}, else null. */
    public String heBackend() {
        return heBackend;
    }

    /** {@code secure-aggregation.preset} when {@link #encrypted()}, else null. */
    public String hePreset() {
        return hePreset;
    }

    /**
     * {@code secure-aggregation.public-key} (a path, read where the coordinator runs) when {@link
     * #encrypted()}; the job encrypts an initial model file with it.
     */
    public Optional<String> hePublicKeyFile() {
        return Optional.ofNullable(hePublicKeyFile);
    }

    public Protocol protocol() {
        return protocol;
    }

    public boolean asynchronous() {
        return protocol == Protocol.ASYNCHRONOUS;
    }

    public boolean semiSynchronous() {
        return protocol == Protocol.SEMI_SYNCHRONOUS;
    }

    public long roundTimeoutMs() {
        return roundTimeoutMs;
    }

    /** How long a round waits for a participant whose task stream closed before dropping it. */
    public long participantGraceMs() {
        return participantGraceMs;
    }

    /**
     * After a job restart, how long learners have to reopen their task streams (on top of the
     * participant grace) before they count as gone ({@code round.restart-grace}).
     */
    public long restartGraceMs() {
        return restartGraceMs;
    }

    /** The fraction of a round's participants whose updates close it at its deadline. */
    public double quorum() {
        return quorum;
    }

    public double semiSyncLambda() {
        return semiSyncLambda;
    }

    public boolean semiSyncRecompute() {
        return semiSyncRecompute;
    }

    /** The aggregation rule's settings (for the selection phase and the participant cap). */
    public RuleOptions rules() {
        return rules;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    public double optimizerLearningRate() {
        return optimizerLearningRate;
    }

    public double optimizerMomentum() {
        return optimizerMomentum;
    }

    public double optimizerBeta1() {
        return optimizerBeta1;
    }

    public double optimizerBeta2() {
        return optimizerBeta2;
    }

    public double optimizerTau() {
        return optimizerTau;
    }

    public int selectionParticipants() {
        return selectionParticipants;
    }

    public double selectionRatio() {
        return selectionRatio;
    }

    public long selectionSeed() {
        return selectionSeed;
    }

    /** Wall-clock limit of the federation in ms, or -1 for none. */
    public long maxDurationMs() {
        return maxDurationMs;
    }

    public Optional<String> terminationMetric() {
        return Optional.ofNullable(terminationMetric);
    }

    public double terminationCutoff() {
        return terminationCutoff;
    }

    public MetricGoal terminationGoal() {
        return terminationGoal;
    }

    public int asyncEvaluateEvery() {
        return asyncEvaluateEvery;
    }

    public long asyncPublishIntervalMs() {
        return asyncPublishIntervalMs;
    }

    /** {@code async.evaluate-interval} in ms; 0: every {@code async.evaluate-every}-th version. */
    public long asyncEvaluateIntervalMs() {
        return asyncEvaluateIntervalMs;
    }

    public int shardSize() {
        return shardSize;
    }

    public boolean evaluationEnabled() {
        return evaluationEnabled;
    }

    public long evaluationTimeoutMs() {
        return evaluationTimeoutMs;
    }

    public int evaluationMaxLearners() {
        return evaluationMaxLearners;
    }
}
