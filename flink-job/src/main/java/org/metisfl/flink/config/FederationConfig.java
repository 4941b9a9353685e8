package org.metisfl.flink.config;

import static org.metisfl.flink.config.FederationOptions.*;

import java.io.Serializable;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.metisfl.flink.config.FederationOptions.ClipOn;
import org.metisfl.flink.config.FederationOptions.Clipping;
import org.metisfl.flink.config.FederationOptions.MetricGoal;
import org.metisfl.flink.config.FederationOptions.Optimizer;
import org.metisfl.flink.config.FederationOptions.PrivacyMechanism;
import org.metisfl.flink.config.FederationOptions.Protocol;
import org.metisfl.flink.config.FederationOptions.Rule;
import org.metisfl.flink.config.FederationOptions.Scaling;
import org.metisfl.flink.config.FederationOptions.SecureAggregation;
import org.metisfl.flink.config.FederationOptions.StateBackend;

/**
 * A validated, immutable snapshot of a federation's configuration, read once from the {@link
 * FederationOptions} keys. The job's entry points read it; each operator receives only its own
 * part: {@link GatewayOptions}, {@link RuleOptions} (the aggregators), {@link CoordinatorOptions}.
 */
public final class FederationConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The value of {@code federation.initial-model} that takes the first learner's weights. */
    public static final String FIRST_LEARNER = "first-learner";

    private final String name;
    private final int rounds;
    private final int minLearners;
    private final String initialModel;
    private final String resultsFile;
    private final String modelStorePath;
    private final int modelStoreEvery;
    private final int modelStoreKeepLast;
    private final Protocol protocol;
    private final long roundTimeoutMs;
    private final long participantGraceMs;
    private final long restartGraceMs;
    private final double quorum;
    private final Scaling scaling;
    private final double semiSyncLambda;
    private final boolean semiSyncRecompute;
    private final Rule rule;
    private final int strideLength;
    private final double trimFraction;
    private final int maxBufferedUpdates;
    private final int krumByzantine;
    private final int krumSelected;
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
    private final double proximalMu;
    private final FederationOptions.AsyncRule asyncRule;
    private final double asyncAlpha;
    private final FederationOptions.StalenessFunction asyncStaleness;
    private final double asyncStalenessA;
    private final long asyncStalenessB;
    private final long asyncMaxStaleness;
    private final int asyncBufferSize;
    private final double asyncServerLearningRate;
    private final int asyncEvaluateEvery;
    private final long asyncPublishIntervalMs;
    private final long asyncEvaluateIntervalMs;
    private final int shardSize;
    private final boolean preAggregate;
    private final int trainEpochs;
    private final int trainBatchSize;
    private final double trainLearningRate;
    private final long trainLocalSteps;
    private final boolean evaluationEnabled;
    private final long evaluationTimeoutMs;
    private final int evaluationMaxLearners;
    private final int evaluationBatchSize;
    private final String gatewayHost;
    private final String gatewayAdvertisedHost;
    private final int gatewayPort;
    private final int gatewayParallelism;
    private final int maxMessageBytes;

    /**
     * The largest model (bytes of float32 values) a federation can run: 2047 MiB. The initial
     * model, the coordinator's global model, its checkpointed state and model files each hold a
     * whole model as one Java array (or one protobuf message), which holds at most 2^31 - 1 bytes;
     * 1 MiB below that leaves room for a model file's framing. {@code gateway.max-model-size} may
     * not exceed it.
     */
    public static final long MAX_MODEL_BYTES = 2047L << 20;

    private final long maxModelBytes;
    private final Duration deliveryTimeout;
    private final int jobParallelism;
    private final long checkpointIntervalMs;
    private final StateBackend stateBackend;
    private final String checkpointDir;
    private final SecureAggregation secureAggregation;
    private final String hePublicKeyFile;

    /** Read at validation only; the snapshot keeps the key id, not the public key's bytes. */
    private transient org.metisfl.flink.model.CkksPublicParameters hePublic;

    private final int committeeSize;
    private final int committeeThreshold;
    private final long decryptionTimeoutMs;

    private String heKeyId;
    private final String heBackend;
    private final String hePreset;
    private final PrivacyMechanism privacy;
    private final double noiseMultiplier;
    private final double clipNorm;
    private final Clipping clipping;
    private final double targetQuantile;
    private final double clipLearningRate;
    private final Double clippedCountStddev;
    private final double privacyDelta;
    private final ClipOn clipOn;
    private final Long noiseSeed;

    /** The {@code security.*} keys as given; see {@link #security()}. */
    private final Map<String, String> security;

    private final GatewayLimits gatewayLimits;

    private FederationConfig(Configuration c) {
        Map<String, String> sec = new java.util.TreeMap<>();
        c.toMap()
                .forEach(
                        (k, v) -> {
                            if (k.startsWith("security.")) {
                                sec.put(k, v);
                            }
                        });
        security = Map.copyOf(sec);
        gatewayLimits = GatewayLimits.from(c);
        name = c.get(NAME);
        rounds = c.get(ROUNDS);
        minLearners = c.get(MIN_LEARNERS);
        initialModel = c.get(INITIAL_MODEL);
        resultsFile = c.getOptional(RESULTS_FILE).orElse("results/" + name + ".jsonl");
        modelStorePath = c.getOptional(MODEL_STORE_PATH).orElse(null);
        modelStoreEvery = c.get(MODEL_STORE_EVERY);
        modelStoreKeepLast = c.get(MODEL_STORE_KEEP_LAST);
        protocol = parseEnum(Protocol.class, PROTOCOL, c.get(PROTOCOL));
        roundTimeoutMs = c.get(ROUND_TIMEOUT).toMillis();
        participantGraceMs = c.get(ROUND_PARTICIPANT_GRACE).toMillis();
        restartGraceMs = c.get(ROUND_RESTART_GRACE).toMillis();
        quorum = c.get(ROUND_QUORUM);
        privacy = parseEnum(PrivacyMechanism.class, PRIVACY_MECHANISM, c.get(PRIVACY_MECHANISM));
        // Central DP bounds each learner's influence by the clip norm only with equal weights.
        scaling =
                privacy == PrivacyMechanism.CENTRAL_DP && !c.contains(SCALING)
                        ? Scaling.PARTICIPANTS
                        : c.get(SCALING);
        semiSyncLambda = c.get(SEMI_SYNC_LAMBDA);
        semiSyncRecompute = c.get(SEMI_SYNC_RECOMPUTE);
        rule = parseEnum(Rule.class, RULE, c.get(RULE));
        strideLength = c.get(STRIDE_LENGTH);
        trimFraction = c.get(TRIM_FRACTION);
        maxBufferedUpdates = c.get(MAX_BUFFERED_UPDATES);
        krumByzantine = c.get(KRUM_BYZANTINE);
        krumSelected = c.get(KRUM_SELECTED);
        optimizer = parseEnum(Optimizer.class, OPTIMIZER, c.get(OPTIMIZER));
        optimizerLearningRate =
                c.getOptional(OPTIMIZER_LEARNING_RATE)
                        .orElse(optimizer == Optimizer.FEDAVGM ? 1.0 : 0.01);
        optimizerMomentum = c.get(OPTIMIZER_MOMENTUM);
        optimizerBeta1 = c.get(OPTIMIZER_BETA1);
        optimizerBeta2 = c.get(OPTIMIZER_BETA2);
        optimizerTau = c.get(OPTIMIZER_TAU);
        selectionParticipants = c.get(SELECTION_PARTICIPANTS);
        selectionRatio = c.get(SELECTION_RATIO);
        selectionSeed = c.get(SELECTION_SEED);
        maxDurationMs = c.getOptional(TERMINATION_MAX_DURATION).map(Duration::toMillis).orElse(-1L);
        terminationMetric = c.getOptional(TERMINATION_METRIC).orElse(null);
        terminationCutoff = c.getOptional(TERMINATION_METRIC_CUTOFF).orElse(Double.NaN);
        terminationGoal = c.get(TERMINATION_METRIC_GOAL);
        proximalMu = c.get(TRAIN_PROXIMAL_MU);
        asyncRule = parseEnum(FederationOptions.AsyncRule.class, ASYNC_RULE, c.get(ASYNC_RULE));
        asyncAlpha = c.get(ASYNC_ALPHA);
        asyncStaleness = c.get(ASYNC_STALENESS);
        asyncStalenessA = c.get(ASYNC_STALENESS_A);
        asyncStalenessB = c.get(ASYNC_STALENESS_B);
        asyncMaxStaleness = c.get(ASYNC_MAX_STALENESS);
        asyncBufferSize = c.get(ASYNC_BUFFER_SIZE);
        asyncServerLearningRate = c.get(ASYNC_SERVER_LEARNING_RATE);
        asyncEvaluateEvery = c.get(ASYNC_EVALUATE_EVERY);
        asyncPublishIntervalMs = c.get(ASYNC_PUBLISH_INTERVAL).toMillis();
        asyncEvaluateIntervalMs = c.get(ASYNC_EVALUATE_INTERVAL).toMillis();
        shardSize = c.get(SHARD_SIZE);
        preAggregate = c.get(PRE_AGGREGATE);
        trainEpochs = c.get(TRAIN_EPOCHS);
        trainBatchSize = c.get(TRAIN_BATCH_SIZE);
        trainLearningRate = c.get(TRAIN_LEARNING_RATE);
        trainLocalSteps = c.get(TRAIN_LOCAL_STEPS);
        evaluationEnabled = c.get(EVALUATION_ENABLED);
        evaluationTimeoutMs = c.get(EVALUATION_TIMEOUT).toMillis();
        evaluationMaxLearners = c.get(EVALUATION_MAX_LEARNERS);
        evaluationBatchSize = c.get(EVALUATION_BATCH_SIZE);
        gatewayHost = c.get(GATEWAY_HOST);
        gatewayAdvertisedHost = c.getOptional(GATEWAY_ADVERTISED_HOST).orElse(null);
        gatewayPort = c.get(GATEWAY_PORT);
        gatewayParallelism = c.get(GATEWAY_PARALLELISM);
        long messageBytes = c.get(GATEWAY_MAX_MESSAGE_SIZE).getBytes();
        maxModelBytes = c.get(GATEWAY_MAX_MODEL_SIZE).getBytes();
        deliveryTimeout = c.get(GATEWAY_DELIVERY_TIMEOUT);
        jobParallelism = c.get(JOB_PARALLELISM);
        checkpointIntervalMs =
                c.getOptional(CHECKPOINT_INTERVAL)
                        .map(Duration::toMillis)
                        .orElseGet(() -> defaultCheckpointIntervalMs(initialModelBytes()));
        stateBackend = c.get(STATE_BACKEND);
        checkpointDir = c.getOptional(CHECKPOINT_DIR).orElse(null);
        secureAggregation =
                parseEnum(SecureAggregation.class, SECURE_AGGREGATION, c.get(SECURE_AGGREGATION));
        heBackend = c.get(SECURE_AGGREGATION_BACKEND);
        hePreset =
                c.getOptional(SECURE_AGGREGATION_PRESET)
                        .orElse(
                                secureAggregation == SecureAggregation.CKKS_THRESHOLD
                                        ? org.metisfl.crypto.CkksParameters.THRESHOLD_PRESET
                                        : SECURE_AGGREGATION_PRESET.defaultValue());
        committeeSize = c.get(SECURE_AGGREGATION_COMMITTEE_SIZE);
        committeeThreshold =
                c.getOptional(SECURE_AGGREGATION_COMMITTEE_THRESHOLD).orElse(committeeSize);
        decryptionTimeoutMs = c.get(SECURE_AGGREGATION_DECRYPTION_TIMEOUT).toMillis();
        hePublicKeyFile = c.getOptional(SECURE_AGGREGATION_PUBLIC_KEY).orElse(null);
        noiseMultiplier = c.get(PRIVACY_NOISE_MULTIPLIER);
        clipNorm = c.get(PRIVACY_CLIP_NORM);
        clipping = c.get(PRIVACY_CLIPPING);
        targetQuantile = c.get(PRIVACY_TARGET_QUANTILE);
        clipLearningRate = c.get(PRIVACY_CLIP_LEARNING_RATE);
        clippedCountStddev = c.getOptional(PRIVACY_CLIPPED_COUNT_STDDEV).orElse(null);
        privacyDelta = c.get(PRIVACY_DELTA);
        clipOn = c.get(PRIVACY_CLIP_ON);
        noiseSeed = c.getOptional(PRIVACY_NOISE_SEED).orElse(null);

        check(
                !name.isBlank() && name.matches("[A-Za-z0-9._-]+"),
                NAME,
                name,
                "use letters, digits, '.', '_' or '-'");
        check(rounds >= 1, ROUNDS, rounds, "set it to 1 or more");
        check(modelStoreEvery >= 1, MODEL_STORE_EVERY, modelStoreEvery, "set it to 1 or more");
        check(
                modelStoreKeepLast >= 0,
                MODEL_STORE_KEEP_LAST,
                modelStoreKeepLast,
                "set it to 0 (keep all) or more");
        check(
                modelStorePath == null || !modelStorePath.isBlank(),
                MODEL_STORE_PATH,
                modelStorePath,
                "give a directory, or remove the key for no store");
        check(minLearners >= 1, MIN_LEARNERS, minLearners, "set it to 1 or more");
        check(
                !initialModel.isBlank(),
                INITIAL_MODEL,
                initialModel,
                "use '" + FIRST_LEARNER + "' or the path of a model file");
        check(
                roundTimeoutMs >= 1,
                ROUND_TIMEOUT,
                c.get(ROUND_TIMEOUT),
                "use a positive duration such as '5 min'");
        check(
                participantGraceMs >= 0,
                ROUND_PARTICIPANT_GRACE,
                c.get(ROUND_PARTICIPANT_GRACE),
                "use a duration of 0 or more, such as '5 s'");
        check(
                restartGraceMs >= 0,
                ROUND_RESTART_GRACE,
                c.get(ROUND_RESTART_GRACE),
                "use a duration of 0 or more, such as '60 s'");
        check(
                quorum > 0 && quorum <= 1,
                ROUND_QUORUM,
                quorum,
                "use a fraction of the participants in (0, 1], e.g. 0.5");
        check(
                shardSize >= 1024 && shardSize <= (1 << 24),
                SHARD_SIZE,
                shardSize,
                "use a value between 1024 and 16777216 values");
        check(trainEpochs >= 1, TRAIN_EPOCHS, trainEpochs, "set it to 1 or more");
        check(trainBatchSize >= 1, TRAIN_BATCH_SIZE, trainBatchSize, "set it to 1 or more");
        check(
                trainLearningRate >= 0 && Double.isFinite(trainLearningRate),
                TRAIN_LEARNING_RATE,
                trainLearningRate,
                "use 0 (the learner's own) or a positive rate");
        check(
                trainLocalSteps >= 0,
                TRAIN_LOCAL_STEPS,
                trainLocalSteps,
                "use 0 (train by epochs) or a positive number of mini-batches");
        check(
                evaluationTimeoutMs >= 1,
                EVALUATION_TIMEOUT,
                c.get(EVALUATION_TIMEOUT),
                "use a positive duration");
        check(
                evaluationMaxLearners >= 0,
                EVALUATION_MAX_LEARNERS,
                evaluationMaxLearners,
                "use 0 (every learner evaluates) or a positive number of learners");
        check(
                evaluationBatchSize >= 1,
                EVALUATION_BATCH_SIZE,
                evaluationBatchSize,
                "set it to 1 or more");
        check(
                gatewayPort == 0 || (gatewayPort > 0 && gatewayPort + gatewayParallelism <= 65536),
                GATEWAY_PORT,
                gatewayPort,
                "use 0 (free ports) or a port in 1..65535");
        check(
                gatewayParallelism >= 1,
                GATEWAY_PARALLELISM,
                gatewayParallelism,
                "set it to 1 or more");
        check(
                messageBytes >= 64 * 1024 && messageBytes <= Integer.MAX_VALUE,
                GATEWAY_MAX_MESSAGE_SIZE,
                c.get(GATEWAY_MAX_MESSAGE_SIZE),
                "use a size between 64 kb and 2 gb");
        maxMessageBytes = (int) messageBytes;
        check(
                maxModelBytes >= 4 && maxModelBytes <= MAX_MODEL_BYTES,
                GATEWAY_MAX_MODEL_SIZE,
                c.get(GATEWAY_MAX_MODEL_SIZE),
                "use a size between 4 bytes and "
                        + (MAX_MODEL_BYTES >> 20)
                        + " mb, the largest model the job can hold: it keeps a whole model as one"
                        + " Java array (the initial model, the coordinator's global model and its"
                        + " checkpointed state, model files), and Java arrays hold at most 2^31 - 1"
                        + " bytes");
        check(
                !deliveryTimeout.isNegative() && !deliveryTimeout.isZero(),
                GATEWAY_DELIVERY_TIMEOUT,
                deliveryTimeout,
                "use a positive duration, e.g. 2 min");
        check(jobParallelism >= 1, JOB_PARALLELISM, jobParallelism, "set it to 1 or more");
        check(
                checkpointIntervalMs == 0 || checkpointIntervalMs >= 10,
                CHECKPOINT_INTERVAL,
                Duration.ofMillis(checkpointIntervalMs),
                "use 0 (off) or at least 10 ms");
        check(
                semiSyncLambda > 0 && Double.isFinite(semiSyncLambda),
                SEMI_SYNC_LAMBDA,
                semiSyncLambda,
                "use a positive factor, e.g. 2");
        check(strideLength >= 1, STRIDE_LENGTH, strideLength, "set it to 1 or more");
        check(
                trimFraction >= 0 && trimFraction < 0.5,
                TRIM_FRACTION,
                trimFraction,
                "use a fraction in [0, 0.5)");
        check(
                maxBufferedUpdates >= 1,
                MAX_BUFFERED_UPDATES,
                maxBufferedUpdates,
                "set it to 1 or more");
        check(krumByzantine >= 0, KRUM_BYZANTINE, krumByzantine, "use 0 or more");
        check(krumSelected >= 0, KRUM_SELECTED, krumSelected, "use 0 (n - f) or a positive count");
        check(
                optimizerLearningRate > 0 && Double.isFinite(optimizerLearningRate),
                OPTIMIZER_LEARNING_RATE,
                optimizerLearningRate,
                "use a positive rate");
        check(
                optimizerMomentum >= 0 && optimizerMomentum < 1,
                OPTIMIZER_MOMENTUM,
                optimizerMomentum,
                "use a value in [0, 1)");
        check(
                optimizerBeta1 >= 0 && optimizerBeta1 < 1,
                OPTIMIZER_BETA1,
                optimizerBeta1,
                "use a value in [0, 1)");
        check(
                optimizerBeta2 >= 0 && optimizerBeta2 < 1,
                OPTIMIZER_BETA2,
                optimizerBeta2,
                "use a value in [0, 1)");
        check(optimizerTau > 0, OPTIMIZER_TAU, optimizerTau, "use a small positive value");
        check(
                selectionParticipants >= 0,
                SELECTION_PARTICIPANTS,
                selectionParticipants,
                "use 0 (draw by ratio) or a positive count");
        check(
                selectionRatio > 0 && selectionRatio <= 1,
                SELECTION_RATIO,
                selectionRatio,
                "use a fraction in (0, 1]");
        check(maxDurationMs != 0, TERMINATION_MAX_DURATION, "0", "use a positive duration");
        check(
                (terminationMetric == null) == Double.isNaN(terminationCutoff),
                TERMINATION_METRIC_CUTOFF,
                terminationCutoff,
                "set termination.metric and termination.metric-cutoff together");
        check(
                proximalMu >= 0 && Double.isFinite(proximalMu),
                TRAIN_PROXIMAL_MU,
                proximalMu,
                "use 0 (off) or a positive weight such as 0.01");
        check(asyncAlpha > 0 && asyncAlpha <= 1, ASYNC_ALPHA, asyncAlpha, "use a value in (0, 1]");
        check(
                asyncStalenessA >= 0 && Double.isFinite(asyncStalenessA),
                ASYNC_STALENESS_A,
                asyncStalenessA,
                "use a value >= 0");
        check(asyncStalenessB >= 0, ASYNC_STALENESS_B, asyncStalenessB, "use a value >= 0");
        check(
                asyncMaxStaleness >= 0,
                ASYNC_MAX_STALENESS,
                asyncMaxStaleness,
                "use 0 (only fresh updates) or more");
        check(asyncBufferSize >= 1, ASYNC_BUFFER_SIZE, asyncBufferSize, "set it to 1 or more");
        check(
                asyncServerLearningRate > 0 && Double.isFinite(asyncServerLearningRate),
                ASYNC_SERVER_LEARNING_RATE,
                asyncServerLearningRate,
                "use a positive rate");
        check(
                asyncEvaluateEvery >= 1,
                ASYNC_EVALUATE_EVERY,
                asyncEvaluateEvery,
                "set it to 1 or more");
        check(
                asyncEvaluateIntervalMs >= 0,
                ASYNC_EVALUATE_INTERVAL,
                c.get(ASYNC_EVALUATE_INTERVAL),
                "set it to 0 (evaluate every async.evaluate-every-th version) or more");
        if (protocol == Protocol.ASYNCHRONOUS) {
            check(
                    rule == Rule.FEDAVG,
                    RULE,
                    c.get(RULE),
                    "the asynchronous protocol folds updates with async.rule; remove"
                            + " aggregation.rule or set protocol.type to synchronous");
            check(
                    optimizer == Optimizer.NONE,
                    OPTIMIZER,
                    c.get(OPTIMIZER),
                    "server optimizers apply to rounds; use async.rule: fedbuff with"
                            + " async.server-learning-rate, or a synchronous protocol");
        }
        if (privacy == PrivacyMechanism.CENTRAL_DP) {
            checkPrivacy(c);
        }
        if (secureAggregation == SecureAggregation.CKKS) {
            checkSecureAggregation(c);
        }
        if (secureAggregation == SecureAggregation.CKKS_THRESHOLD) {
            checkThreshold(c);
        }
    }

    /**
     * Threshold mode: the shared-key mode's refusals, plus the committee (1 <= t <= N <= min
     * learners), the preset with room for the smudging noise, no public key (the committee makes
     * it) and a synchronous protocol (each round's aggregate is decrypted before the next).
     */
    private void checkThreshold(Configuration c) {
        String mode = " (secure-aggregation: ckks-threshold)";
        check(
                protocol != Protocol.ASYNCHRONOUS,
                PROTOCOL,
                c.get(PROTOCOL),
                "the committee decrypts each round's aggregate before the next round starts,"
                        + " which needs rounds"
                        + mode
                        + "; use protocol.type: synchronous or semi-synchronous, or"
                        + " secure-aggregation: ckks");
        check(
                hePublicKeyFile == null,
                SECURE_AGGREGATION_PUBLIC_KEY,
                hePublicKeyFile,
                "the committee of learners makes the federation's joint public key"
                        + mode
                        + "; remove secure-aggregation.public-key");
        check(
                org.metisfl.crypto.CkksParameters.THRESHOLD_PRESET.equals(hePreset),
                SECURE_AGGREGATION_PRESET,
                hePreset,
                "threshold decryption adds smudging noise that only "
                        + org.metisfl.crypto.CkksParameters.THRESHOLD_PRESET
                        + " has room for"
                        + mode
                        + "; set secure-aggregation.preset: "
                        + org.metisfl.crypto.CkksParameters.THRESHOLD_PRESET
                        + " or remove it");
        check(
                committeeSize >= 1 && committeeSize <= minLearners,
                SECURE_AGGREGATION_COMMITTEE_SIZE,
                committeeSize,
                "the committee is drawn among the learners there when training starts: use 1 to"
                        + " federation.min-learners ("
                        + minLearners
                        + "), or raise federation.min-learners");
        check(
                committeeThreshold >= 1 && committeeThreshold <= committeeSize,
                SECURE_AGGREGATION_COMMITTEE_THRESHOLD,
                committeeThreshold,
                "t members of the committee of "
                        + committeeSize
                        + " decrypt together: use 1 to "
                        + committeeSize
                        + " (secure-aggregation.committee.size), or remove it for n-out-of-n");
        check(
                decryptionTimeoutMs > 0,
                SECURE_AGGREGATION_DECRYPTION_TIMEOUT,
                decryptionTimeoutMs + " ms",
                "set a positive duration, e.g. 60 s");
        checkSecureAggregation(c);
    }

    /** The job only adds and weights ciphertexts: refuse everything that needs more. */
    private void checkSecureAggregation(Configuration c) {
        String why = " cannot work on ciphertexts the job cannot read (secure-aggregation: ckks)";
        check(
                rule == Rule.FEDAVG,
                RULE,
                c.get(RULE),
                "median, trimmed-mean, krum, multi-krum and bulyan compare or rank individual"
                        + " values and"
                        + why
                        + "; set aggregation.rule: fedavg or secure-aggregation: none");
        check(
                optimizer == Optimizer.NONE,
                OPTIMIZER,
                c.get(OPTIMIZER),
                "a server optimizer transforms the plaintext aggregate and"
                        + why
                        + "; set optimizer.type: none or secure-aggregation: none");
        check(
                protocol != Protocol.ASYNCHRONOUS
                        || asyncRule == FederationOptions.AsyncRule.FEDBUFF,
                ASYNC_RULE,
                c.get(ASYNC_RULE),
                "fedasync and fedrec mix each update into the model with a staleness weight"
                        + " (model = (1 - a)·model + a·update), which weights the already weighted"
                        + " model again; the CKKS backend weights each term once and has no"
                        + " rescaling, so they cannot run on ciphertexts; use async.rule: fedbuff"
                        + " (learners send encrypted deltas, each weighted once) or a synchronous"
                        + " protocol");
        check(
                privacy != PrivacyMechanism.CENTRAL_DP,
                PRIVACY_MECHANISM,
                c.get(PRIVACY_MECHANISM),
                "central DP clips plaintext updates and adds noise to the plaintext aggregate, which"
                        + why
                        + "; set privacy.mechanism: none or secure-aggregation: none");
        try {
            org.metisfl.crypto.HeBackends.get(heBackend);
        } catch (RuntimeException e) {
            check(false, SECURE_AGGREGATION_BACKEND, heBackend, e.getMessage());
        }
        check(
                org.metisfl.crypto.CkksParameters.presetNames().contains(hePreset),
                SECURE_AGGREGATION_PRESET,
                hePreset,
                "use one of " + org.metisfl.crypto.CkksParameters.presetNames());
        if (secureAggregation == SecureAggregation.CKKS) {
            checkPublicParameters();
        }
        int perCiphertext =
                org.metisfl.crypto.CkksParameters.preset(hePreset).valuesPerCiphertext();
        check(
                shardSize % perCiphertext == 0,
                SHARD_SIZE,
                shardSize,
                "with secure-aggregation: ckks a shard is a whole number of ciphertexts: use a"
                        + " multiple of "
                        + perCiphertext
                        + " (secure-aggregation.preset "
                        + hePreset
                        + "), e.g. "
                        + Math.max(perCiphertext, shardSize / perCiphertext * perCiphertext));
    }

    /**
     * Reads {@code secure-aggregation.public-key} (never a secret key) and checks it against the
     * configured backend and preset; an initial-model file needs it (the job encrypts the file).
     */
    private void checkPublicParameters() {
        if (hePublicKeyFile == null) {
            check(
                    initialModelFile().isEmpty(),
                    SECURE_AGGREGATION_PUBLIC_KEY,
                    "(not set)",
                    "with secure-aggregation: ckks the job encrypts the initial model file "
                            + initialModel
                            + " with the federation's public key: set it to the key bundle's"
                            + " ckks-public.properties ('metisfl keys generate'), or use"
                            + " federation.initial-model: "
                            + FIRST_LEARNER);
            return;
        }
        try {
            hePublic =
                    org.metisfl.flink.model.CkksPublicParameters.read(
                            java.nio.file.Path.of(hePublicKeyFile));
        } catch (java.io.IOException e) {
            check(
                    false,
                    SECURE_AGGREGATION_PUBLIC_KEY,
                    hePublicKeyFile,
                    "cannot read it ("
                            + e
                            + "); give the path of the key bundle's ckks-public.properties");
        } catch (IllegalArgumentException e) {
            check(false, SECURE_AGGREGATION_PUBLIC_KEY, hePublicKeyFile, e.getMessage());
        }
        check(
                hePublic.backend().equals(heBackend) && hePublic.preset().equals(hePreset),
                SECURE_AGGREGATION_PUBLIC_KEY,
                hePublicKeyFile,
                "its keys are of backend "
                        + hePublic.backend()
                        + ", preset "
                        + hePublic.preset()
                        + ", the federation sets secure-aggregation.backend "
                        + heBackend
                        + " and secure-aggregation.preset "
                        + hePreset
                        + "; make them agree (the bundle's file prints the right keys)");
        String hash =
                java.util.HexFormat.of()
                        .formatHex(
                                org.metisfl.flink.model.HeContexts.of(heBackend, hePreset)
                                        .parameterHash());
        check(
                hePublic.parameterHash().equals(hash),
                SECURE_AGGREGATION_PUBLIC_KEY,
                hePublicKeyFile,
                "its parameter hash "
                        + hePublic.parameterHash()
                        + " is not this build's "
                        + hash
                        + " for "
                        + heBackend
                        + "/"
                        + hePreset
                        + "; generate the bundle with this version's 'metisfl keys generate'");
        heKeyId = hePublic.keyId();
    }

    /** Central DP holds only where its noise covers one bounded sum per round. */
    private void checkPrivacy(Configuration c) {
        check(
                protocol != Protocol.ASYNCHRONOUS,
                PRIVACY_MECHANISM,
                "central-dp",
                "the asynchronous protocol applies each update (or a small buffer) to the model as"
                        + " it arrives, so no round sum exists to carry the noise and one"
                        + " learner's update would reach the model almost unnoised; use"
                        + " protocol.type: synchronous or semi-synchronous");
        check(
                rule == Rule.FEDAVG,
                RULE,
                c.get(RULE),
                "central-dp wraps fedavg only: median, trimmed-mean, krum, multi-krum and bulyan"
                        + " pick or"
                        + " rank individual updates, so their result is not a sum whose"
                        + " sensitivity the clip norm bounds and Gaussian noise cannot protect it"
                        + " (fedstride computes the same mean as fedavg); set aggregation.rule:"
                        + " fedavg or privacy.mechanism: none");
        check(
                scaling == Scaling.PARTICIPANTS,
                SCALING,
                c.get(SCALING),
                "with central-dp every update must weigh the same, or one learner's weight would"
                        + " multiply its clipped update past the clip norm; set"
                        + " aggregation.scaling: participants (the default under central-dp)");
        check(
                noiseMultiplier > 0 && Double.isFinite(noiseMultiplier),
                PRIVACY_NOISE_MULTIPLIER,
                noiseMultiplier,
                "use a positive multiplier such as 1.0 (0 adds no noise and gives no privacy;"
                        + " use privacy.mechanism: none for that)");
        check(
                clipNorm > 0 && Double.isFinite(clipNorm),
                PRIVACY_CLIP_NORM,
                clipNorm,
                "use a positive L2 norm such as 1.0");
        check(
                privacyDelta > 0 && privacyDelta < 1,
                PRIVACY_DELTA,
                privacyDelta,
                "use a probability in (0, 1) below 1 / the number of learners, e.g. 1e-5");
        check(
                targetQuantile > 0 && targetQuantile < 1,
                PRIVACY_TARGET_QUANTILE,
                targetQuantile,
                "use a fraction in (0, 1), e.g. 0.5 for the median norm");
        check(
                clipLearningRate > 0 && Double.isFinite(clipLearningRate),
                PRIVACY_CLIP_LEARNING_RATE,
                clipLearningRate,
                "use a positive step such as 0.2");
        check(
                clippedCountStddev == null || clippedCountStddev > noiseMultiplier / 2,
                PRIVACY_CLIPPED_COUNT_STDDEV,
                clippedCountStddev,
                "it must exceed privacy.noise-multiplier / 2 = "
                        + noiseMultiplier / 2
                        + ", or the count of unclipped updates alone would spend the whole"
                        + " privacy budget");
    }

    /** Reads and validates a snapshot; throws {@link InvalidConfigException} naming the key. */
    public static FederationConfig from(Configuration configuration) {
        try {
            return new FederationConfig(configuration);
        } catch (IllegalArgumentException e) {
            if (e instanceof InvalidConfigException) {
                throw e;
            }
            throw new InvalidConfigException(e.getMessage(), e);
        }
    }

    /** A snapshot of the defaults with the given keys overridden (tests, programmatic use). */
    public static FederationConfig of(Map<String, String> settings) {
        return FederationConfigLoader.fromFlatMap(settings, "settings");
    }

    private static <E extends Enum<E>> E parseEnum(
            Class<E> type, ConfigOption<?> key, String value) {
        String wanted = value.trim().replace('-', '_').toUpperCase(java.util.Locale.ROOT);
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(wanted)) {
                return e;
            }
        }
        java.util.List<String> names = new java.util.ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        }
        throw new InvalidConfigException(
                "invalid value '" + value + "' for key '" + key.key() + "': use one of " + names);
    }

    private static void check(boolean ok, ConfigOption<?> key, Object value, String fix) {
        if (!ok) {
            throw new InvalidConfigException(
                    "invalid value '" + value + "' for key '" + key.key() + "': " + fix);
        }
    }

    public String name() {
        return name;
    }

    /** The {@code gateway.upload-integrity} and {@code gateway.limits.*} keys. */
    public GatewayLimits gatewayLimits() {
        return gatewayLimits;
    }

    /**
     * The {@code security.*} settings as a Flink configuration, read and validated by the gateway's
     * security snapshot ({@code GatewaySecurity.from}) when a job graph is built, so that only a
     * federation that runs a gateway needs certificates.
     */
    public Configuration security() {
        return Configuration.fromMap(security);
    }

    public int rounds() {
        return rounds;
    }

    public int minLearners() {
        return minLearners;
    }

    /** Bytes of open sums a checkpoint is assumed to write per millisecond (100 MB/s). */
    static final long CHECKPOINT_BYTES_PER_MS = 100_000;

    /** Bounds of the default checkpoint interval. */
    static final long MIN_DEFAULT_CHECKPOINT_MS = 1_000;

    static final long MAX_DEFAULT_CHECKPOINT_MS = 60_000;

    /**
     * The default checkpoint interval for a model of {@code modelBytes} float32 bytes (negative:
     * unknown): every checkpoint copies the open rounds' sums (8 bytes per parameter, twice the
     * model's bytes) and writes them asynchronously; at an assumed 100 MB/s of writing, the
     * interval leaves each checkpoint its time to finish before the next. At least 1 s (the
     * acknowledgement latency learners wait for), at most 60 s; 1 s when the size is unknown.
     */
    static long defaultCheckpointIntervalMs(long modelBytes) {
        if (modelBytes < 0) {
            return MIN_DEFAULT_CHECKPOINT_MS;
        }
        long writeMs = 2 * modelBytes / CHECKPOINT_BYTES_PER_MS;
        return Math.max(MIN_DEFAULT_CHECKPOINT_MS, Math.min(MAX_DEFAULT_CHECKPOINT_MS, writeMs));
    }

    /** The initial model file's size in bytes (about 4 per parameter), or -1 if not known here. */
    private long initialModelBytes() {
        if (FIRST_LEARNER.equals(initialModel) || initialModel == null) {
            return -1;
        }
        try {
            java.nio.file.Path p = java.nio.file.Path.of(initialModel);
            return java.nio.file.Files.isRegularFile(p) ? java.nio.file.Files.size(p) : -1;
        } catch (java.io.IOException | RuntimeException e) {
            return -1; // a URI of a remote file system: the size is not known at submit
        }
    }

    /** The initial model file, or empty when the first learner's weights are the initial model. */
    public Optional<String> initialModelFile() {
        return FIRST_LEARNER.equals(initialModel) ? Optional.empty() : Optional.of(initialModel);
    }

    public String resultsFile() {
        return resultsFile;
    }

    /** The model store's directory (a Flink file system URI), if the job keeps models. */
    public Optional<String> modelStorePath() {
        return Optional.ofNullable(modelStorePath);
    }

    public int modelStoreEvery() {
        return modelStoreEvery;
    }

    public int modelStoreKeepLast() {
        return modelStoreKeepLast;
    }

    public Protocol protocol() {
        return protocol;
    }

    public long roundTimeoutMs() {
        return roundTimeoutMs;
    }

    public Duration roundTimeout() {
        return Duration.ofMillis(roundTimeoutMs);
    }

    /** How long a round waits for a participant whose task stream closed before dropping it. */
    public long participantGraceMs() {
        return participantGraceMs;
    }

    /**
     * After a job restart, how long learners have to reopen their task streams (on top of the
     * participant grace) before they count as gone.
     */
    public long restartGraceMs() {
        return restartGraceMs;
    }

    /** The fraction of a round's participants whose updates close it at its deadline. */
    public double quorum() {
        return quorum;
    }

    /** Contributions needed to close a round of {@code participants} at its deadline. */
    public int quorumOf(int participants) {
        return Math.max(1, (int) Math.ceil(quorum * participants - 1e-9));
    }

    public Scaling scaling() {
        return scaling;
    }

    public double semiSyncLambda() {
        return semiSyncLambda;
    }

    public boolean semiSyncRecompute() {
        return semiSyncRecompute;
    }

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

    public double proximalMu() {
        return proximalMu;
    }

    public boolean asynchronous() {
        return protocol == Protocol.ASYNCHRONOUS;
    }

    public FederationOptions.AsyncRule asyncRule() {
        return asyncRule;
    }

    public double asyncAlpha() {
        return asyncAlpha;
    }

    /** How an asynchronous update's weight falls with its staleness. */
    public FederationOptions.StalenessFunction asyncStaleness() {
        return asyncStaleness;
    }

    /** The staleness function's a. */
    public double asyncStalenessA() {
        return asyncStalenessA;
    }

    /** The hinge staleness function's b. */
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

    /** {@code aggregation.pre-aggregate}: whether the gateway may fold updates it has queued. */
    public boolean preAggregate() {
        return preAggregate;
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

    public boolean evaluationEnabled() {
        return evaluationEnabled;
    }

    public long evaluationTimeoutMs() {
        return evaluationTimeoutMs;
    }

    /** {@code evaluation.max-learners}: learners drawn to evaluate a model; 0 = every one. */
    public int evaluationMaxLearners() {
        return evaluationMaxLearners;
    }

    public int evaluationBatchSize() {
        return evaluationBatchSize;
    }

    public String gatewayHost() {
        return gatewayHost;
    }

    public Optional<String> gatewayAdvertisedHost() {
        return Optional.ofNullable(gatewayAdvertisedHost);
    }

    public int gatewayPort() {
        return gatewayPort;
    }

    public int gatewayParallelism() {
        return gatewayParallelism;
    }

    public int maxMessageBytes() {
        return maxMessageBytes;
    }

    public long maxModelBytes() {
        return maxModelBytes;
    }

    /** How long the model sink retries one gateway before the job fails. */
    public Duration deliveryTimeout() {
        return deliveryTimeout;
    }

    public int jobParallelism() {
        return jobParallelism;
    }

    public long checkpointIntervalMs() {
        return checkpointIntervalMs;
    }

    public boolean checkpointsEnabled() {
        return checkpointIntervalMs > 0;
    }

    public StateBackend stateBackend() {
        return stateBackend;
    }

    public Optional<String> checkpointDir() {
        return Optional.ofNullable(checkpointDir);
    }

    /** The privacy mechanism wrapping the rule (none or central DP). */
    public PrivacyMechanism privacy() {
        return privacy;
    }

    public boolean centralDp() {
        return privacy == PrivacyMechanism.CENTRAL_DP;
    }

    public double noiseMultiplier() {
        return noiseMultiplier;
    }

    /** The clip norm of the first round (of every round with fixed clipping). */
    public double clipNorm() {
        return clipNorm;
    }

    public Clipping clipping() {
        return clipping;
    }

    public double targetQuantile() {
        return targetQuantile;
    }

    public double clipLearningRate() {
        return clipLearningRate;
    }

    /**
     * Adaptive clipping: the noise stddev on the count of unclipped updates of a round with {@code
     * participants}: the configured one, or max(participants / 20, noise-multiplier) (Andrew et al.
     * suggest m / 20 for large m; the floor keeps the count's share of the budget at a quarter when
     * m is small).
     */
    public double clippedCountStddevOf(int participants) {
        return clippedCountStddev != null
                ? clippedCountStddev
                : Math.max(participants / 20.0, noiseMultiplier);
    }

    /** The configured privacy.clipped-count-stddev, or null for the default. */
    Double configuredClippedCountStddev() {
        return clippedCountStddev;
    }

    public double privacyDelta() {
        return privacyDelta;
    }

    public ClipOn clipOn() {
        return clipOn;
    }

    /** The noise seed, for tests only; empty means SecureRandom. */
    public Optional<Long> noiseSeed() {
        return Optional.ofNullable(noiseSeed);
    }

    /** {@code secure-aggregation}: none, or ckks (the job aggregates ciphertexts). */
    public SecureAggregation secureAggregation() {
        return secureAggregation;
    }

    /** {@code secure-aggregation.committee.size}: N (threshold mode). */
    public int committeeSize() {
        return committeeSize;
    }

    /** {@code secure-aggregation.committee.threshold}: t, N by default (threshold mode). */
    public int committeeThreshold() {
        return committeeThreshold;
    }

    /** {@code secure-aggregation.committee.decryption-timeout} in ms (threshold mode). */
    public long decryptionTimeoutMs() {
        return decryptionTimeoutMs;
    }

    /** True for {@code secure-aggregation: ckks-threshold}. */
    public boolean threshold() {
        return secureAggregation == SecureAggregation.CKKS_THRESHOLD;
    }

    /** {@code secure-aggregation.backend}. */
    public String heBackend() {
        return heBackend;
    }

    /** {@code secure-aggregation.preset}. */
    public String hePreset() {
        return hePreset;
    }

    /** {@code secure-aggregation.public-key}: the public parameters file, if given. */
    public Optional<String> hePublicKeyFile() {
        return Optional.ofNullable(hePublicKeyFile);
    }

    /** The key pair's id from {@code secure-aggregation.public-key}, if given and CKKS is on. */
    public Optional<String> heKeyId() {
        return Optional.ofNullable(heKeyId);
    }
}
