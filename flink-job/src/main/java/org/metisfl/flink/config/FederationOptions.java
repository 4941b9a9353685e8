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

    /** How a round is run. Only the synchronous protocol exists so far. */
    public enum Protocol {
        SYNCHRONOUS
    }

    /** What weighs each learner's update in FedAvg. */
    public enum Scaling {
        /** By the number of training examples the learner reports (MetisFL's default). */
        EXAMPLES,
        /** Every participant weighs the same. */
        PARTICIPANTS
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
                    .withDescription("Learners that must join before the first round starts.");

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

    public static final ConfigOption<Protocol> PROTOCOL =
            ConfigOptions.key("protocol.type")
                    .enumType(Protocol.class)
                    .defaultValue(Protocol.SYNCHRONOUS)
                    .withDescription("Federation protocol.");

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

    public static final ConfigOption<String> RULE =
            ConfigOptions.key("aggregation.rule")
                    .stringType()
                    .defaultValue("fedavg")
                    .withDescription("Aggregation rule. Available: fedavg.");

    public static final ConfigOption<Scaling> SCALING =
            ConfigOptions.key("aggregation.scaling")
                    .enumType(Scaling.class)
                    .defaultValue(Scaling.EXAMPLES)
                    .withDescription("Weight of each update in the average.");

    public static final ConfigOption<Integer> SHARD_SIZE =
            ConfigOptions.key("aggregation.shard-size")
                    .intType()
                    .defaultValue(65_536)
                    .withDescription(
                            "Model values per shard; shards are the unit of parallel"
                                    + " aggregation and of state.");

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
                    .withDescription("Largest model (sum of tensor bytes) a gateway accepts.");

    public static final ConfigOption<Integer> JOB_PARALLELISM =
            ConfigOptions.key("job.parallelism")
                    .intType()
                    .defaultValue(2)
                    .withDescription("Parallelism of the shard aggregation.");

    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL =
            ConfigOptions.key("job.checkpoint-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(1))
                    .withDescription(
                            "Checkpoint interval. Learners' updates are acknowledged once the"
                                    + " checkpoint holding them completes. 0 disables"
                                    + " checkpoints (updates are then acknowledged on entry).");

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
}
