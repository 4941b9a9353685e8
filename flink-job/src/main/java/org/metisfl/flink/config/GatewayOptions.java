package org.metisfl.flink.config;

import java.io.Serializable;
import java.util.Optional;
import org.metisfl.flink.config.FederationOptions.Scaling;

/**
 * What a learner gateway needs of a federation's configuration: where it listens, the message and
 * model size limits, what it validates in an update, and the local work of the tasks it hands out.
 * An immutable snapshot taken from the validated {@link FederationConfig}; accessors are named as
 * there.
 */
public final class GatewayOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String federationName;
    private final String host;
    private final String advertisedHost;
    private final int port;
    private final int parallelism;
    private final int maxMessageBytes;
    private final long maxModelBytes;
    private final boolean checkpointsEnabled;
    private final boolean initialModelFromLearner;
    private final boolean asynchronous;
    private final boolean modelToAggregators;
    private final long asyncMaxStaleness;
    private final Scaling scaling;
    private final int shardSize;
    private final int trainEpochs;
    private final int trainBatchSize;
    private final double trainLearningRate;
    private final long trainLocalSteps;
    private final double proximalMu;
    private final PrivacyOptions privacy;
    private final int evaluationBatchSize;
    private final boolean encrypted;
    private final String heBackend;
    private final String hePreset;
    private final String heKeyId;
    private final GatewayLimits limits;
    private final ThresholdOptions threshold;

    private GatewayOptions(FederationConfig c, boolean modelToAggregators) {
        this.modelToAggregators = modelToAggregators;
        federationName = c.name();
        host = c.gatewayHost();
        advertisedHost = c.gatewayAdvertisedHost().orElse(null);
        port = c.gatewayPort();
        parallelism = c.gatewayParallelism();
        maxMessageBytes = c.maxMessageBytes();
        maxModelBytes = c.maxModelBytes();
        checkpointsEnabled = c.checkpointsEnabled();
        initialModelFromLearner = c.initialModelFile().isEmpty();
        asynchronous = c.asynchronous();
        asyncMaxStaleness = c.asyncMaxStaleness();
        scaling = c.scaling();
        shardSize = c.shardSize();
        trainEpochs = c.trainEpochs();
        trainBatchSize = c.trainBatchSize();
        trainLearningRate = c.trainLearningRate();
        trainLocalSteps = c.trainLocalSteps();
        proximalMu = c.proximalMu();
        privacy = PrivacyOptions.from(c);
        evaluationBatchSize = c.evaluationBatchSize();
        threshold = ThresholdOptions.from(c);
        encrypted =
                c.secureAggregation() == FederationOptions.SecureAggregation.CKKS
                        || threshold != null;
        heBackend = encrypted ? c.heBackend() : null;
        hePreset = encrypted ? c.hePreset() : null;
        heKeyId = encrypted ? c.heKeyId().orElse(null) : null;
        limits = c.gatewayLimits();
    }

    /** The gateway's part of a validated configuration. */
    public static GatewayOptions from(FederationConfig config) {
        return new GatewayOptions(config, config.asynchronous());
    }

    /**
     * As {@link #from(FederationConfig)}; {@code modelToAggregators}: the gateway hands the first
     * model it serves to the aggregators, shard by shard (the asynchronous protocol always; the
     * synchronous one when a server optimizer runs at the shards and needs the global model).
     */
    public static GatewayOptions from(FederationConfig config, boolean modelToAggregators) {
        return new GatewayOptions(config, config.asynchronous() || modelToAggregators);
    }

    /** The federation's name (its metric group). */
    public String federationName() {
        return federationName;
    }

    public String gatewayHost() {
        return host;
    }

    public Optional<String> gatewayAdvertisedHost() {
        return Optional.ofNullable(advertisedHost);
    }

    /** The first gateway's port (gateway i listens on port + i), or 0 for free ports. */
    public int gatewayPort() {
        return port;
    }

    public int gatewayParallelism() {
        return parallelism;
    }

    public int maxMessageBytes() {
        return maxMessageBytes;
    }

    public long maxModelBytes() {
        return maxModelBytes;
    }

    public boolean checkpointsEnabled() {
        return checkpointsEnabled;
    }

    /** True when the first learner's weights are the initial model (no model file). */
    public boolean initialModelFromLearner() {
        return initialModelFromLearner;
    }

    public boolean asynchronous() {
        return asynchronous;
    }

    /** True if the gateway hands the first model it serves to the aggregators, shard by shard. */
    public boolean modelToAggregators() {
        return modelToAggregators;
    }

    public long asyncMaxStaleness() {
        return asyncMaxStaleness;
    }

    public Scaling scaling() {
        return scaling;
    }

    public int shardSize() {
        return shardSize;
    }

    public int trainEpochs() {
        return trainEpochs;
    }

    public int trainBatchSize() {
        return trainBatchSize;
    }

    public double trainLearningRate() {
        return trainLearningRate;
    }

    public long trainLocalSteps() {
        return trainLocalSteps;
    }

    /** The {@code privacy.*} keys: central DP clips updates at the gateway or the learner. */
    public PrivacyOptions privacy() {
        return privacy;
    }

    public double proximalMu() {
        return proximalMu;
    }

    public int evaluationBatchSize() {
        return evaluationBatchSize;
    }

    /**
     * True for {@code secure-aggregation: ckks}: updates and models are ciphertexts ({@link
     * #heBackend()}, {@link #hePreset()}), plaintext uploads are refused.
     */
    public boolean encrypted() {
        return encrypted;
    }

    /**
     * True if learners upload the encryption of their delta from the model version they trained on
     * (asynchronous protocol with CKKS, i.e. FedBuff over ciphertexts), not their model.
     */
    public boolean encryptedDeltas() {
        return encrypted && asynchronous;
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
     * The key pair's id (lower-case hex) from {@code secure-aggregation.public-key}, or empty when
     * the job was not given the public parameters.
     */
    public Optional<String> heKeyId() {
        return Optional.ofNullable(heKeyId);
    }

    /**
     * Threshold mode ({@code secure-aggregation: ckks-threshold}), or null: updates are ciphertexts
     * under the committee's joint key ({@link #encrypted()} is true), models are plaintext.
     */
    public ThresholdOptions threshold() {
        return threshold;
    }

    /** What one participant, and all together, may cost the gateway. */
    public GatewayLimits limits() {
        return limits;
    }
}
