package org.metisfl.flink.config;

import java.time.Duration;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

/**
 * Every key of a federation file, as typed Flink {@link ConfigOption}s. The YAML file nests them
 * (e.g. {@code round: {timeout: 5 min}}) or spells them dotted ({@code round.timeout: 5 min}).
 */
public final class FederationOptions {

    private FederationOptions() {}

    /** The description of a key as plain text. */
    public static String describe(ConfigOption<?> option) {
        return new org.apache.flink.configuration.description.HtmlFormatter()
                .format(option.description());
    }

    /** How a round is run. */
    public enum Protocol {
        /** Every participant trains the same local work; the round waits for all, or the quorum. */
        SYNCHRONOUS,
        /**
         * As synchronous, but each learner's local steps are sized to a common time budget (lambda
         * x the slowest learner's epoch time), so fast learners do more work and slow ones do not
         * stall the round.
         */
        SEMI_SYNCHRONOUS,
        /**
         * No rounds: every accepted update (or every buffer of them) makes a new model version, and
         * a learner gets its next task as soon as its update is accepted.
         */
        ASYNCHRONOUS
    }

    /** How the asynchronous protocol folds an update into the global model. */
    public enum AsyncRule {
        /** FedAsync (Xie et al. 2019): mix each update in with a staleness-weighted alpha. */
        FEDASYNC,
        /** FedRec (MetisFL): a learner's newer update replaces its previous contribution. */
        FEDREC,
        /** FedBuff (Nguyen et al. 2022): apply the mean of every K staleness-weighted deltas. */
        FEDBUFF
    }

    /** Staleness weighting of asynchronous updates. */
    public enum StalenessFunction {
        CONSTANT,
        POLYNOMIAL,
        HINGE
    }

    /** How a shard of the new model is computed from the round's updates. */
    public enum Rule {
        /** Weighted mean, folded incrementally: memory O(model). */
        FEDAVG,
        /** MetisFL's FedStride: the weighted mean folded in blocks of stride-length learners. */
        FEDSTRIDE,
        /** Coordinate-wise median; needs every update of the round (bounded). */
        MEDIAN,
        /** Coordinate-wise trimmed mean; needs every update of the round (bounded). */
        TRIMMED_MEAN,
        /** Krum (Blanchard et al. 2017): the one update closest to its n - f - 2 neighbours. */
        KRUM,
        /** Multi-Krum: the mean of the m updates with the best Krum scores. */
        MULTI_KRUM,
        /**
         * Bulyan (El Mhamdi et al. 2018): Krum selects n - 2f, then a coordinate-wise mean of the n
         * - 4f values closest to the median; needs 4f + 3 contributions.
         */
        BULYAN
    }

    /** Who may join a federation. */
    public enum Admission {
        /**
         * Learners join with an enrollment token issued by the operator ({@code metisfl enroll}).
         */
        ENROLLMENT,
        /**
         * Learners join with a client certificate whose common name is on {@code
         * security.allowed-identities} (needs {@code security.tls.client-auth: require}).
         */
        CERTIFICATE,
        /** Anyone who reaches the port joins: for local development only. */
        OPEN
    }

    /** Whether the learner port asks learners for a client certificate. */
    public enum ClientAuth {
        /** TLS: the gateway proves its identity; learners authenticate with tokens. */
        NONE,
        /** Mutual TLS: every learner presents a certificate issued by the trust roots. */
        REQUIRE
    }

    /** Server-side optimizer applied to the round's aggregate (Reddi et al., ICLR 2021). */
    public enum Optimizer {
        NONE,
        FEDAVGM,
        FEDADAGRAD,
        FEDADAM,
        FEDYOGI
    }

    /** A privacy mechanism that wraps the aggregation rule. */
    public enum PrivacyMechanism {
        /** No privacy mechanism: updates are aggregated as they are. */
        NONE,
        /**
         * Central differential privacy, DP-FedAvg (McMahan et al. 2018): each update's delta is
         * clipped to an L2 norm, Gaussian noise is added to the round's sum, and an accountant
         * reports epsilon per round. The controller is trusted with the updates.
         */
        CENTRAL_DP
    }

    /** How the clip norm of central DP is chosen. */
    public enum Clipping {
        /** privacy.clip-norm, every round. */
        FIXED,
        /**
         * Starts at privacy.clip-norm and follows privacy.target-quantile of the update norms
         * (Andrew et al. 2021).
         */
        ADAPTIVE
    }

    /** Where an update's delta is clipped. */
    public enum ClipOn {
        /** The learner clips before uploading; the job still enforces the bound. */
        LEARNER,
        /** The job clips each update against the round's global model as it arrives. */
        JOB
    }

    /** Whether a termination metric must rise above or fall below its cutoff. */
    public enum MetricGoal {
        MAX,
        MIN
    }

    /** What weighs each learner's update in FedAvg. */
    public enum Scaling {
        /** By the number of training examples the learner reports (MetisFL's default). */
        EXAMPLES,
        /** By the number of mini-batches the learner completed. */
        BATCHES,
        /** Every participant weighs the same. */
        PARTICIPANTS
    }

    /** Whether the job aggregates plaintext updates or ciphertexts it cannot read. */
    public enum SecureAggregation {
        /** Plaintext float32 updates. */
        NONE,
        /**
         * CKKS homomorphic encryption: learners encrypt their updates, the job adds weighted
         * ciphertexts without any key, learners decrypt the global model.
         */
        CKKS,
        /**
         * Threshold CKKS: a committee of learners makes the joint public key and decrypts each
         * round's aggregate with partial decryptions; the job combines them, so it learns the
         * global model (never an update nor a key share) and serves it in plaintext.
         */
        CKKS_THRESHOLD
    }

    /** Where the job keeps its state. */
    public enum StateBackend {
        ROCKSDB,
        HASHMAP
    }

    public static final ConfigOption<String> NAME =
            ConfigOptions.key("federation.name")
                    .stringType()
                    .defaultValue("federation")
                    .withDescription("Name of the federation; used in logs, results and job name.");

    public static final ConfigOption<Integer> ROUNDS =
            ConfigOptions.key("federation.rounds")
                    .intType()
                    .defaultValue(10)
                    .withDescription("Number of training rounds before the federation ends.");

    public static final ConfigOption<Integer> MIN_LEARNERS =
            ConfigOptions.key("federation.min-learners")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "Learners that must join before the first round starts (later"
                                    + " rounds run with the active learners there are).");

    public static final ConfigOption<String> INITIAL_MODEL =
            ConfigOptions.key("federation.initial-model")
                    .stringType()
                    .defaultValue("first-learner")
                    .withDescription(
                            "'first-learner' (take the weights of the first learner that joins)"
                                    + " or the path of a model file (a metisfl.v1.Model message).");

    public static final ConfigOption<String> RESULTS_FILE =
            ConfigOptions.key("federation.results-file")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "JSON-lines file that receives one line per round. Default:"
                                    + " results/<federation.name>.jsonl");

    public static final ConfigOption<String> MODEL_STORE_PATH =
            ConfigOptions.key("model-store.path")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Directory (a Flink file system URI: file:///..., s3://..., hdfs://...)"
                                    + " of the model store: the job writes global model versions"
                                    + " to <path>/<federation.name>/, each published once its"
                                    + " checkpoint completes. Default: no store.");

    public static final ConfigOption<Integer> MODEL_STORE_EVERY =
            ConfigOptions.key("model-store.every")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "Store every k-th model version (versions divisible by k; the initial"
                                    + " and the final model are always stored). Asynchronous:"
                                    + " among the versions published to the gateways (at most one"
                                    + " per async.publish-interval; a version overtaken by a newer"
                                    + " one within the interval is not stored).");

    public static final ConfigOption<Integer> MODEL_STORE_KEEP_LAST =
            ConfigOptions.key("model-store.keep-last")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "Keep only the newest N stored versions (older ones are deleted once a"
                                    + " new one is published); 0 keeps all.");

    public static final ConfigOption<String> PROTOCOL =
            ConfigOptions.key("protocol.type")
                    .stringType()
                    .defaultValue("synchronous")
                    .withDescription(
                            "Federation protocol: synchronous, semi-synchronous or asynchronous.");

    public static final ConfigOption<String> ASYNC_RULE =
            ConfigOptions.key("async.rule")
                    .stringType()
                    .defaultValue("fedasync")
                    .withDescription("Asynchronous rule: fedasync, fedrec or fedbuff.");

    public static final ConfigOption<Double> ASYNC_ALPHA =
            ConfigOptions.key("async.alpha")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription("fedasync: mixing weight (0, 1] of a fresh update.");

    public static final ConfigOption<StalenessFunction> ASYNC_STALENESS =
            ConfigOptions.key("async.staleness")
                    .enumType(StalenessFunction.class)
                    .defaultValue(StalenessFunction.POLYNOMIAL)
                    .withDescription(
                            "Weight of an update s versions stale: constant (1), polynomial"
                                    + " ((s+1)^-a) or hinge (1 if s <= b, else 1/(a(s-b)+1)).");

    public static final ConfigOption<Double> ASYNC_STALENESS_A =
            ConfigOptions.key("async.staleness-a")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription("The a of the polynomial and hinge staleness functions.");

    public static final ConfigOption<Long> ASYNC_STALENESS_B =
            ConfigOptions.key("async.staleness-b")
                    .longType()
                    .defaultValue(4L)
                    .withDescription("The b of the hinge staleness function.");

    public static final ConfigOption<Long> ASYNC_MAX_STALENESS =
            ConfigOptions.key("async.max-staleness")
                    .longType()
                    .defaultValue(10L)
                    .withDescription(
                            "Updates trained on a model more than this many versions old are"
                                    + " refused.");

    public static final ConfigOption<Integer> ASYNC_BUFFER_SIZE =
            ConfigOptions.key("async.buffer-size")
                    .intType()
                    .defaultValue(4)
                    .withDescription("fedbuff: updates per model version (K).");

    public static final ConfigOption<Double> ASYNC_SERVER_LEARNING_RATE =
            ConfigOptions.key("async.server-learning-rate")
                    .doubleType()
                    .defaultValue(1.0)
                    .withDescription("fedbuff: server learning rate applied to the mean delta.");

    public static final ConfigOption<Integer> ASYNC_EVALUATE_EVERY =
            ConfigOptions.key("async.evaluate-every")
                    .intType()
                    .defaultValue(10)
                    .withDescription(
                            "Asynchronous: the active learners evaluate every n-th model version"
                                    + " (one results line each); federation.rounds counts"
                                    + " versions.");

    public static final ConfigOption<Duration> ASYNC_EVALUATE_INTERVAL =
            ConfigOptions.key("async.evaluate-interval")
                    .durationType()
                    .defaultValue(Duration.ZERO)
                    .withDescription(
                            "Asynchronous: above 0, a published model version is evaluated at"
                                    + " most once per this interval (the first published version"
                                    + " at or past each multiple of it on the gateways' clock,"
                                    + " decided alike at every shard; with a model store, on"
                                    + " the coordinator's clock) instead of every"
                                    + " async.evaluate-every-th version.");

    public static final ConfigOption<Duration> ASYNC_PUBLISH_INTERVAL =
            ConfigOptions.key("async.publish-interval")
                    .durationType()
                    .defaultValue(Duration.ofMillis(100))
                    .withDescription(
                            "Asynchronous: the newest model version reaches the gateways at"
                                    + " most this often, besides every async.evaluate-every-th"
                                    + " version and the last (on the gateways' clock: the"
                                    + " aggregators publish a version when the updates' stamps"
                                    + " cross a multiple of it; with a model store the"
                                    + " coordinator throttles by its own clock).");

    public static final ConfigOption<Double> SEMI_SYNC_LAMBDA =
            ConfigOptions.key("semi-sync.lambda")
                    .doubleType()
                    .defaultValue(2.0)
                    .withDescription(
                            "Semi-synchronous: a round's time budget is lambda x the slowest"
                                    + " participant's epoch time; each learner runs"
                                    + " ceil(budget / its time per batch) local steps.");

    public static final ConfigOption<Boolean> SEMI_SYNC_RECOMPUTE =
            ConfigOptions.key("semi-sync.recompute-every-round")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Semi-synchronous: recompute the local steps every round from the"
                                    + " latest timings; false computes them once, after the first"
                                    + " round that measured every participant.");

    public static final ConfigOption<Integer> SELECTION_PARTICIPANTS =
            ConfigOptions.key("selection.participants")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "Learners drawn for each round; 0 draws by participation-ratio.");

    public static final ConfigOption<Double> SELECTION_RATIO =
            ConfigOptions.key("selection.participation-ratio")
                    .doubleType()
                    .defaultValue(1.0)
                    .withDescription(
                            "Fraction (0, 1] of the active learners drawn for each round.");

    public static final ConfigOption<Long> SELECTION_SEED =
            ConfigOptions.key("selection.seed")
                    .longType()
                    .defaultValue(42L)
                    .withDescription(
                            "Seed of the participant draw (the same seed, the same draw).");

    public static final ConfigOption<Duration> TERMINATION_MAX_DURATION =
            ConfigOptions.key("termination.max-duration")
                    .durationType()
                    .noDefaultValue()
                    .withDescription(
                            "End the federation once this much time has passed since its first"
                                    + " round started (checked when a round closes).");

    public static final ConfigOption<String> TERMINATION_METRIC =
            ConfigOptions.key("termination.metric")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "An evaluation metric (e.g. accuracy) that ends the federation once"
                                    + " the global model reaches termination.metric-cutoff.");

    public static final ConfigOption<Double> TERMINATION_METRIC_CUTOFF =
            ConfigOptions.key("termination.metric-cutoff")
                    .doubleType()
                    .noDefaultValue()
                    .withDescription("The cutoff of termination.metric.");

    public static final ConfigOption<MetricGoal> TERMINATION_METRIC_GOAL =
            ConfigOptions.key("termination.metric-goal")
                    .enumType(MetricGoal.class)
                    .defaultValue(MetricGoal.MAX)
                    .withDescription(
                            "max: stop when the metric is >= the cutoff (accuracy); min: when <="
                                    + " (loss).");

    public static final ConfigOption<Duration> ROUND_TIMEOUT =
            ConfigOptions.key("round.timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "Deadline of a round, counted from its start. At the deadline the"
                                    + " round closes with the updates it has, if they reach the"
                                    + " quorum.");

    public static final ConfigOption<Double> ROUND_QUORUM =
            ConfigOptions.key("round.quorum")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription(
                            "Fraction (0, 1] of a round's participants whose updates close the"
                                    + " round at its deadline; fewer and the round is aborted.");

    public static final ConfigOption<Duration> ROUND_PARTICIPANT_GRACE =
            ConfigOptions.key("round.participant-grace")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(5))
                    .withDescription(
                            "How long a round waits for a participant whose task stream closed"
                                    + " (it died, or its network did) to come back with its id."
                                    + " Past it the participant is dropped from the round: the"
                                    + " round no longer waits for it, refuses its update, and"
                                    + " records the drop in the round's result.");

    public static final ConfigOption<Duration> ROUND_RESTART_GRACE =
            ConfigOptions.key("round.restart-grace")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(60))
                    .withDescription(
                            "After the job restarts (a failover or a resume), how long its"
                                    + " learners have to reopen their task streams, on top of"
                                    + " round.participant-grace, before they count as gone (not"
                                    + " drawn, dropped from the running round). The default is"
                                    + " twice the learner client's longest reconnect backoff (30"
                                    + " s), so a learner whose backoff is at its cap gets two"
                                    + " attempts; raise it with the learners'"
                                    + " reconnect-max-backoff.");

    public static final ConfigOption<String> RULE =
            ConfigOptions.key("aggregation.rule")
                    .stringType()
                    .defaultValue("fedavg")
                    .withDescription(
                            "Aggregation rule: fedavg, fedstride, median, trimmed-mean, krum,"
                                    + " multi-krum or bulyan.");

    public static final ConfigOption<Integer> KRUM_BYZANTINE =
            ConfigOptions.key("aggregation.krum-byzantine")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "krum, multi-krum, bulyan: the number f of faulty learners tolerated;"
                                    + " a round needs more than 2f + 2 contributions (bulyan:"
                                    + " at least 4f + 3).");

    public static final ConfigOption<Integer> KRUM_SELECTED =
            ConfigOptions.key("aggregation.krum-selected")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "multi-krum: the m best-scored updates averaged; 0 means n - f.");

    public static final ConfigOption<Integer> STRIDE_LENGTH =
            ConfigOptions.key("aggregation.stride-length")
                    .intType()
                    .defaultValue(2)
                    .withDescription("fedstride: learners folded per block.");

    public static final ConfigOption<Double> TRIM_FRACTION =
            ConfigOptions.key("aggregation.trim-fraction")
                    .doubleType()
                    .defaultValue(0.1)
                    .withDescription(
                            "trimmed-mean: fraction [0, 0.5) of the smallest and of the largest"
                                    + " values dropped per coordinate.");

    public static final ConfigOption<Integer> MAX_BUFFERED_UPDATES =
            ConfigOptions.key("aggregation.max-buffered-updates")
                    .intType()
                    .defaultValue(100)
                    .withDescription(
                            "median and trimmed-mean keep every update of a round: at most this"
                                    + " many participants are drawn per round (memory: this x"
                                    + " the model).");

    public static final ConfigOption<String> OPTIMIZER =
            ConfigOptions.key("optimizer.type")
                    .stringType()
                    .defaultValue("none")
                    .withDescription(
                            "Server optimizer on the round's aggregate: none, fedavgm, fedadagrad,"
                                    + " fedadam or fedyogi.");

    public static final ConfigOption<Double> OPTIMIZER_LEARNING_RATE =
            ConfigOptions.key("optimizer.learning-rate")
                    .doubleType()
                    .noDefaultValue()
                    .withDescription(
                            "Server learning rate (default 1.0 for fedavgm, 0.01 for the adaptive"
                                    + " optimizers).");

    public static final ConfigOption<Double> OPTIMIZER_MOMENTUM =
            ConfigOptions.key("optimizer.momentum")
                    .doubleType()
                    .defaultValue(0.9)
                    .withDescription("fedavgm: server momentum.");

    public static final ConfigOption<Double> OPTIMIZER_BETA1 =
            ConfigOptions.key("optimizer.beta1")
                    .doubleType()
                    .defaultValue(0.9)
                    .withDescription("fedadam, fedyogi: first-moment decay.");

    public static final ConfigOption<Double> OPTIMIZER_BETA2 =
            ConfigOptions.key("optimizer.beta2")
                    .doubleType()
                    .defaultValue(0.99)
                    .withDescription("fedadam, fedyogi: second-moment decay.");

    public static final ConfigOption<Double> OPTIMIZER_TAU =
            ConfigOptions.key("optimizer.tau")
                    .doubleType()
                    .defaultValue(1e-3)
                    .withDescription("fedadagrad, fedadam, fedyogi: adaptivity (epsilon).");

    public static final ConfigOption<Scaling> SCALING =
            ConfigOptions.key("aggregation.scaling")
                    .enumType(Scaling.class)
                    .defaultValue(Scaling.EXAMPLES)
                    .withDescription("Weight of each update in the average.");

    public static final ConfigOption<String> PRIVACY_MECHANISM =
            ConfigOptions.key("privacy.mechanism")
                    .stringType()
                    .defaultValue("none")
                    .withDescription(
                            "none, or central-dp: DP-FedAvg (clip each update's delta, add Gaussian"
                                    + " noise to the round's sum, account epsilon). Needs a"
                                    + " synchronous or semi-synchronous protocol and the fedavg"
                                    + " rule; see docs/explanation/privacy.md.");

    public static final ConfigOption<Double> PRIVACY_NOISE_MULTIPLIER =
            ConfigOptions.key("privacy.noise-multiplier")
                    .doubleType()
                    .defaultValue(1.0)
                    .withDescription(
                            "central-dp: the noise's standard deviation on the round's sum, in"
                                    + " units of the clip norm (z in z x C).");

    public static final ConfigOption<Double> PRIVACY_CLIP_NORM =
            ConfigOptions.key("privacy.clip-norm")
                    .doubleType()
                    .defaultValue(1.0)
                    .withDescription(
                            "central-dp: the L2 norm C each update's delta (its weights minus the"
                                    + " round's global model) is clipped to; with adaptive"
                                    + " clipping, the first round's.");

    public static final ConfigOption<Clipping> PRIVACY_CLIPPING =
            ConfigOptions.key("privacy.clipping")
                    .enumType(Clipping.class)
                    .defaultValue(Clipping.FIXED)
                    .withDescription("central-dp: fixed or adaptive clip norm.");

    public static final ConfigOption<Double> PRIVACY_TARGET_QUANTILE =
            ConfigOptions.key("privacy.target-quantile")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription(
                            "adaptive clipping: the fraction of updates the clip norm should leave"
                                    + " unclipped, in (0, 1).");

    public static final ConfigOption<Double> PRIVACY_CLIP_LEARNING_RATE =
            ConfigOptions.key("privacy.clip-learning-rate")
                    .doubleType()
                    .defaultValue(0.2)
                    .withDescription(
                            "adaptive clipping: the geometric step eta of the clip norm per round.");

    public static final ConfigOption<Double> PRIVACY_CLIPPED_COUNT_STDDEV =
            ConfigOptions.key("privacy.clipped-count-stddev")
                    .doubleType()
                    .noDefaultValue()
                    .withDescription(
                            "adaptive clipping: standard deviation of the noise on the count of"
                                    + " unclipped updates; default max(participants / 20,"
                                    + " noise-multiplier). Must exceed noise-multiplier / 2.");

    public static final ConfigOption<Double> PRIVACY_DELTA =
            ConfigOptions.key("privacy.delta")
                    .doubleType()
                    .defaultValue(1e-5)
                    .withDescription(
                            "central-dp: the delta for which epsilon is reported; keep it below 1"
                                    + " / the number of learners.");

    public static final ConfigOption<ClipOn> PRIVACY_CLIP_ON =
            ConfigOptions.key("privacy.clip-on")
                    .enumType(ClipOn.class)
                    .defaultValue(ClipOn.JOB)
                    .withDescription(
                            "central-dp: where updates are clipped, learner or job (the job"
                                    + " enforces the bound either way).");

    public static final ConfigOption<Long> PRIVACY_NOISE_SEED =
            ConfigOptions.key("privacy.noise-seed")
                    .longType()
                    .noDefaultValue()
                    .withDescription(
                            "For tests only: a fixed seed makes the noise reproducible, and"
                                    + " therefore no protection. Default: a SecureRandom seeded"
                                    + " by the operating system.");

    public static final ConfigOption<Integer> SHARD_SIZE =
            ConfigOptions.key("aggregation.shard-size")
                    .intType()
                    .defaultValue(65_536)
                    .withDescription(
                            "Model values per shard; shards are the unit of parallel"
                                    + " aggregation and of state.");

    public static final ConfigOption<Boolean> PRE_AGGREGATE =
            ConfigOptions.key("aggregation.pre-aggregate")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Fold the updates a gateway has queued into one partial aggregate per"
                                    + " shard before they cross to the aggregators (local"
                                    + " pre-aggregation). Applies to synchronous rules that can"
                                    + " merge partial aggregates (fedavg, fedstride, and the sum"
                                    + " of ciphertexts under secure-aggregation: ckks or"
                                    + " ckks-threshold), with any gateway.parallelism (each"
                                    + " gateway folds the learners that joined through it), and to"
                                    + " the asynchronous fedbuff with async.buffer-size > 1 (each gateway"
                                    + " folds updates of one base version of the tasks it handed out; a"
                                    + " partial sum counts as its number of updates in the buffer); other"
                                    + " rules send every update on as it is.");

    public static final ConfigOption<Integer> TRAIN_EPOCHS =
            ConfigOptions.key("train.epochs")
                    .intType()
                    .defaultValue(1)
                    .withDescription("Local epochs per round.");

    public static final ConfigOption<Integer> TRAIN_BATCH_SIZE =
            ConfigOptions.key("train.batch-size")
                    .intType()
                    .defaultValue(64)
                    .withDescription("Local mini-batch size.");

    public static final ConfigOption<Double> TRAIN_LEARNING_RATE =
            ConfigOptions.key("train.learning-rate")
                    .doubleType()
                    .defaultValue(0.0)
                    .withDescription("Local learning rate; 0 keeps each learner's own.");

    public static final ConfigOption<Double> TRAIN_PROXIMAL_MU =
            ConfigOptions.key("train.proximal-mu")
                    .doubleType()
                    .defaultValue(0.0)
                    .withDescription(
                            "FedProx: weight mu of the proximal term (mu/2)||w - w_global||^2 the"
                                    + " learners add to their local loss; 0 is plain FedAvg.");

    public static final ConfigOption<Long> TRAIN_LOCAL_STEPS =
            ConfigOptions.key("train.local-steps")
                    .longType()
                    .defaultValue(0L)
                    .withDescription("If > 0, local mini-batches per round instead of epochs.");

    public static final ConfigOption<Boolean> EVALUATION_ENABLED =
            ConfigOptions.key("evaluation.enabled")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "After each round, the round's contributors evaluate the new global"
                                    + " model on their test data.");

    public static final ConfigOption<Duration> EVALUATION_TIMEOUT =
            ConfigOptions.key("evaluation.timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(2))
                    .withDescription(
                            "How long a round's results wait for evaluation reports before they"
                                    + " are written with those that came.");

    public static final ConfigOption<Integer> EVALUATION_MAX_LEARNERS =
            ConfigOptions.key("evaluation.max-learners")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "At most this many learners evaluate each evaluated model, drawn at"
                                    + " random (seeded by selection.seed and the round or"
                                    + " version, so a restored federation draws the same); 0"
                                    + " asks every one (a round's contributors; when"
                                    + " asynchronous, every active learner). Set it with many"
                                    + " learners: an asynchronous evaluation otherwise sends"
                                    + " a task to each of them.");

    public static final ConfigOption<Integer> EVALUATION_BATCH_SIZE =
            ConfigOptions.key("evaluation.batch-size")
                    .intType()
                    .defaultValue(256)
                    .withDescription("Evaluation batch size.");

    public static final ConfigOption<String> GATEWAY_HOST =
            ConfigOptions.key("gateway.host")
                    .stringType()
                    .defaultValue("127.0.0.1")
                    .withDescription("Address the learner gateway listens on.");

    public static final ConfigOption<String> GATEWAY_ADVERTISED_HOST =
            ConfigOptions.key("gateway.advertised-host")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Address under which the job reaches a gateway (default: the"
                                    + " listen address, or the task manager's host name when"
                                    + " it listens on 0.0.0.0).");

    public static final ConfigOption<Integer> GATEWAY_PORT =
            ConfigOptions.key("gateway.port")
                    .intType()
                    .defaultValue(50051)
                    .withDescription(
                            "Port of gateway 0; gateway i listens on port + i. 0 picks free ports.");

    public static final ConfigOption<Integer> GATEWAY_PARALLELISM =
            ConfigOptions.key("gateway.parallelism")
                    .intType()
                    .defaultValue(1)
                    .withDescription("Number of learner gateways (source subtasks).");

    public static final ConfigOption<MemorySize> GATEWAY_MAX_MESSAGE_SIZE =
            ConfigOptions.key("gateway.max-message-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4 mb"))
                    .withDescription("Largest gRPC message a gateway accepts.");

    public static final ConfigOption<MemorySize> GATEWAY_MAX_MODEL_SIZE =
            ConfigOptions.key("gateway.max-model-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("1 gb"))
                    .withDescription(
                            "Largest model (sum of tensor bytes) a gateway accepts; at most 2047"
                                    + " mb, the largest model the job can hold (it keeps a whole"
                                    + " model as one Java array, at most 2^31 - 1 bytes).");

    public static final ConfigOption<Duration> GATEWAY_DELIVERY_TIMEOUT =
            ConfigOptions.key("gateway.delivery-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(2))
                    .withDescription(
                            "How long the job keeps retrying to hand a new model or round plan to"
                                    + " one gateway before it fails (and restarts, so the"
                                    + " gateways announce themselves again).");

    /** Whether uploads must carry chunk offsets and a CRC-32C (see learner-protocol.md). */
    public enum UploadIntegrity {
        /** Every upload carries them; one without is refused (INVALID_ARGUMENT). */
        REQUIRED,
        /** Checked when present; uploads of older learners without them are accepted. */
        OPTIONAL
    }

    public static final ConfigOption<UploadIntegrity> GATEWAY_UPLOAD_INTEGRITY =
            ConfigOptions.key("gateway.upload-integrity")
                    .enumType(UploadIntegrity.class)
                    .defaultValue(UploadIntegrity.REQUIRED)
                    .withDescription(
                            "REQUIRED: every upload carries chunk offsets and a CRC-32C of its"
                                    + " bytes, and one that does not, or whose bytes do not match,"
                                    + " is refused. OPTIONAL: checked when present (learners"
                                    + " older than the integrity fields).");

    public static final ConfigOption<Integer> GATEWAY_MAX_CALLS_PER_CONNECTION =
            ConfigOptions.key("gateway.limits.max-calls-per-connection")
                    .intType()
                    .defaultValue(8192)
                    .withDescription(
                            "Concurrent calls (HTTP/2 streams) one connection may hold on the"
                                    + " learner port. A learner needs 3 (task stream, download,"
                                    + " upload); clients that multiplex many learners over one"
                                    + " connection (the simulator) need about 1 per learner plus"
                                    + " the uploads in flight. Past it the client queues new calls"
                                    + " (HTTP/2 flow control); a client that ignores the limit gets"
                                    + " its streams reset (REFUSED_STREAM).");

    public static final ConfigOption<MemorySize> GATEWAY_MAX_METADATA_SIZE =
            ConfigOptions.key("gateway.limits.max-metadata-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("8 kb"))
                    .withDescription(
                            "Largest header block (gRPC metadata, e.g. the bearer token) of a"
                                    + " call on the learner port; a larger one is refused with"
                                    + " RESOURCE_EXHAUSTED. The message size limit is"
                                    + " gateway.max-message-size.");

    public static final ConfigOption<Duration> GATEWAY_HANDSHAKE_TIMEOUT =
            ConfigOptions.key("gateway.limits.handshake-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(20))
                    .withDescription(
                            "A connection that has not completed its TLS and HTTP/2 handshake"
                                    + " within this time is closed.");

    public static final ConfigOption<Duration> GATEWAY_CONNECTION_IDLE_TIMEOUT =
            ConfigOptions.key("gateway.limits.connection-idle-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(15))
                    .withDescription(
                            "A connection without any call for this long is closed (GOAWAY);"
                                    + " a learner holds its task stream open, so only abandoned"
                                    + " connections are.");

    public static final ConfigOption<Integer> GATEWAY_MAX_LEARNERS =
            ConfigOptions.key("gateway.limits.max-learners")
                    .intType()
                    .defaultValue(250_000)
                    .withDescription(
                            "Learners one gateway admits at once (joined there, not left, token"
                                    + " not expired). A join past it gets RESOURCE_EXHAUSTED.");

    public static final ConfigOption<Integer> GATEWAY_JOIN_RATE =
            ConfigOptions.key("gateway.limits.join-rate")
                    .intType()
                    .defaultValue(2_000)
                    .withDescription(
                            "Joins per second one gateway admits (a token bucket holding one"
                                    + " second's worth): 100,000 learners join in under a minute."
                                    + " A join past it gets RESOURCE_EXHAUSTED; the learner retries"
                                    + " with backoff.");

    public static final ConfigOption<Integer> GATEWAY_JOIN_RATE_PER_ADDRESS =
            ConfigOptions.key("gateway.limits.join-rate-per-address")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "Joins per second one gateway admits from one client address (IPv4,"
                                    + " or the /64 prefix of an IPv6 address; a token bucket"
                                    + " holding one second's worth), besides"
                                    + " gateway.limits.join-rate. A join past it gets"
                                    + " RESOURCE_EXHAUSTED with the time until the address may"
                                    + " join again. 0 (the default) turns it off: simulated"
                                    + " learners, and learners behind one NAT, share an address.");

    public static final ConfigOption<Integer> GATEWAY_UPLOADS_IN_FLIGHT =
            ConfigOptions.key("gateway.limits.uploads-in-flight")
                    .intType()
                    .defaultValue(150_000)
                    .withDescription(
                            "SubmitUpdate calls one gateway holds at once (receiving, or waiting"
                                    + " for room in the ingest budget). Past it an upload gets"
                                    + " RESOURCE_EXHAUSTED.");

    public static final ConfigOption<Integer> GATEWAY_UPLOADS_PER_LEARNER =
            ConfigOptions.key("gateway.limits.uploads-per-learner")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "SubmitUpdate calls one learner may have in flight at once (for"
                                    + " different rounds or tasks; a learner's second upload for"
                                    + " the same round or task replaces the first, which ends with"
                                    + " ABORTED). Past it an upload gets RESOURCE_EXHAUSTED.");

    public static final ConfigOption<Duration> GATEWAY_UPLOAD_IDLE_TIMEOUT =
            ConfigOptions.key("gateway.limits.upload-idle-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(30))
                    .withDescription(
                            "An upload that sends nothing for this long while the gateway waits"
                                    + " for its next message (its header, or its bytes once the"
                                    + " ingest budget granted them) ends with DEADLINE_EXCEEDED."
                                    + " Time spent waiting for the budget does not count."
                                    + " Every other call whose one request message has not"
                                    + " arrived this long after it started (on the learner port"
                                    + " and the control endpoint) ends the same way.");

    public static final ConfigOption<MemorySize> GATEWAY_UPLOAD_MIN_RATE =
            ConfigOptions.key("gateway.limits.upload-min-rate")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64 kb"))
                    .withDescription(
                            "Bytes per second an upload must average, from the moment the ingest"
                                    + " budget granted it room, once gateway.limits.upload-rate-grace"
                                    + " has passed; a slower one ends with DEADLINE_EXCEEDED and"
                                    + " gives its room to the next. 0 disables the check.");

    public static final ConfigOption<Duration> GATEWAY_UPLOAD_RATE_GRACE =
            ConfigOptions.key("gateway.limits.upload-rate-grace")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription(
                            "How long after its grant an upload runs before"
                                    + " gateway.limits.upload-min-rate applies.");

    public static final ConfigOption<Integer> JOB_PARALLELISM =
            ConfigOptions.key("job.parallelism")
                    .intType()
                    .defaultValue(2)
                    .withDescription("Parallelism of the shard aggregation.");

    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL =
            ConfigOptions.key("job.checkpoint-interval")
                    .durationType()
                    .noDefaultValue()
                    .withDescription(
                            "Checkpoint interval. Learners' updates are acknowledged once the"
                                    + " checkpoint holding them completes. 0 disables"
                                    + " checkpoints (updates are then acknowledged on entry)."
                                    + " Default: from the initial model file's size, 1 s per"
                                    + " 12.5M parameters (each checkpoint writes the open sums,"
                                    + " 8 bytes per parameter, at an assumed 100 MB/s), at least"
                                    + " 1 s and at most 60 s; 1 s when the first learner's"
                                    + " weights are the initial model.");

    public static final ConfigOption<StateBackend> STATE_BACKEND =
            ConfigOptions.key("job.state-backend")
                    .enumType(StateBackend.class)
                    .defaultValue(StateBackend.ROCKSDB)
                    .withDescription("State backend.");

    public static final ConfigOption<String> CHECKPOINT_DIR =
            ConfigOptions.key("job.checkpoint-dir")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Checkpoint directory URI; default: the cluster's setting (the"
                                    + " embedded runner uses a folder in its work directory).");

    public static final ConfigOption<String> SECURE_AGGREGATION =
            ConfigOptions.key("secure-aggregation")
                    .stringType()
                    .defaultValue("none")
                    .withDescription(
                            "none, ckks or ckks-threshold: learners encrypt their updates with"
                                    + " CKKS and the job"
                                    + " adds weighted ciphertexts without any key (it never sees a"
                                    + " plaintext model); needs aggregation.rule: fedavg, no server"
                                    + " optimizer, and a synchronous or semi-synchronous protocol"
                                    + " or the asynchronous one with async.rule: fedbuff (learners"
                                    + " send encrypted deltas). ckks-threshold: no party holds the"
                                    + " secret key; a committee of learners makes the joint key"
                                    + " and decrypts each round's aggregate, from which the job"
                                    + " computes the global model (it learns it, never an update);"
                                    + " synchronous or semi-synchronous only, preset n13-q180-t.");

    public static final ConfigOption<Integer> SECURE_AGGREGATION_COMMITTEE_SIZE =
            ConfigOptions.key("secure-aggregation.committee.size")
                    .intType()
                    .defaultValue(3)
                    .withDescription(
                            "secure-aggregation: ckks-threshold: N, the number of learners on the"
                                    + " decryption committee (1 to federation.min-learners); the"
                                    + " coordinator draws them when enough learners are there.");

    public static final ConfigOption<Integer> SECURE_AGGREGATION_COMMITTEE_THRESHOLD =
            ConfigOptions.key("secure-aggregation.committee.threshold")
                    .intType()
                    .noDefaultValue()
                    .withDescription(
                            "secure-aggregation: ckks-threshold: t, how many members must answer"
                                    + " a decryption (2 to N; default N, n-out-of-n). With t < N"
                                    + " the members re-share their key shares (Shamir) before"
                                    + " training starts, and any t of them decrypt.");

    public static final ConfigOption<Duration> SECURE_AGGREGATION_DECRYPTION_TIMEOUT =
            ConfigOptions.key("secure-aggregation.committee.decryption-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(60))
                    .withDescription(
                            "secure-aggregation: ckks-threshold: how long the coordinator waits"
                                    + " for the answering members' partial decryptions of a"
                                    + " round. Then, with t < N, it asks another set of t members"
                                    + " (the silent ones left out); when fewer than t are left the"
                                    + " federation ends with a reason naming them.");

    public static final ConfigOption<String> SECURE_AGGREGATION_BACKEND =
            ConfigOptions.key("secure-aggregation.backend")
                    .stringType()
                    .defaultValue("metisfl-ckks")
                    .withDescription(
                            "secure-aggregation: ckks: the HE backend's id (metisfl-ckks, the pure"
                                    + " Java default, or openfhe-ckks where built).");

    public static final ConfigOption<String> SECURE_AGGREGATION_PRESET =
            ConfigOptions.key("secure-aggregation.preset")
                    .stringType()
                    .defaultValue("n13-q120")
                    .withDescription(
                            "secure-aggregation: ckks: the CKKS parameter preset (n13-q120,"
                                    + " n13-q180, n14-q180, or n13-q180-t, the preset with room"
                                    + " for threshold mode's smudging noise, the only one"
                                    + " ckks-threshold takes); aggregation.shard-size must be a"
                                    + " multiple of its values per ciphertext (8192 or 16384).");

    public static final ConfigOption<String> SECURE_AGGREGATION_PUBLIC_KEY =
            ConfigOptions.key("secure-aggregation.public-key")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "secure-aggregation: ckks: the path of the key bundle's public"
                                    + " parameters (ckks-public.properties from 'metisfl keys"
                                    + " generate'; never the secret key, which the job refuses)."
                                    + " Needed with an initial-model file (the job encrypts it"
                                    + " with the public key); when given, learners learn the key"
                                    + " id at join and updates under another key are refused.");

    public static final ConfigOption<Boolean> SECURITY_INSECURE =
            ConfigOptions.key("security.insecure")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Serve the learner port in plaintext, without TLS: anyone on the"
                                    + " network can read models and forge learners. For local"
                                    + " development only; the gateway logs a warning.");

    public static final ConfigOption<String> SECURITY_TLS_CERTIFICATE =
            ConfigOptions.key("security.tls.certificate")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "PEM certificate chain of the learner port (leaf first), a path on the"
                                    + " task managers. `bin/metisfl certs` creates development"
                                    + " files.");

    public static final ConfigOption<String> SECURITY_TLS_PRIVATE_KEY =
            ConfigOptions.key("security.tls.private-key")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "PKCS#8 PEM private key of security.tls.certificate, a path on the"
                                    + " task managers (readable by Flink's user only).");

    public static final ConfigOption<ClientAuth> SECURITY_TLS_CLIENT_AUTH =
            ConfigOptions.key("security.tls.client-auth")
                    .enumType(ClientAuth.class)
                    .defaultValue(ClientAuth.NONE)
                    .withDescription(
                            "REQUIRE for mutual TLS: every learner presents a certificate issued"
                                    + " by security.tls.trust-roots.");

    public static final ConfigOption<String> SECURITY_TLS_TRUST_ROOTS =
            ConfigOptions.key("security.tls.trust-roots")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "PEM CA certificates that issue learner certificates (mutual TLS).");

    public static final ConfigOption<Admission> SECURITY_ADMISSION =
            ConfigOptions.key("security.admission")
                    .enumType(Admission.class)
                    .defaultValue(Admission.ENROLLMENT)
                    .withDescription(
                            "Who may join: ENROLLMENT (an operator-issued enrollment token),"
                                    + " CERTIFICATE (a client certificate named in"
                                    + " security.allowed-identities) or OPEN (anyone who reaches"
                                    + " the port; development only).");

    public static final ConfigOption<String> SECURITY_ENROLLMENT_KEY =
            ConfigOptions.key("security.enrollment-key")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File holding the key enrollment tokens are signed with, a path on the"
                                    + " task managers (`bin/metisfl enroll init` creates it).");

    public static final ConfigOption<String> SECURITY_OPERATOR_KEY =
            ConfigOptions.key("security.operator-key")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File holding the key the operator's commands at the gateways'"
                                    + " control endpoints (`metisfl learners list|revoke`) are"
                                    + " authenticated with, a path on the task managers, made"
                                    + " like an enrollment key (`bin/metisfl enroll init --key"
                                    + " FILE`). Default: security.enrollment-key. Without"
                                    + " either, the gateways refuse every operator command.");

    public static final ConfigOption<String> SECURITY_ALLOWED_IDENTITIES =
            ConfigOptions.key("security.allowed-identities")
                    .stringType()
                    .defaultValue("")
                    .withDescription(
                            "Comma-separated common names of the learner certificates that may"
                                    + " join under CERTIFICATE admission.");

    public static final ConfigOption<Duration> SECURITY_TOKEN_LIFETIME =
            ConfigOptions.key("security.token-lifetime")
                    .durationType()
                    .defaultValue(Duration.ofHours(1))
                    .withDescription(
                            "How long a learner's session token is valid; the learner library"
                                    + " renews it before it expires.");
}
