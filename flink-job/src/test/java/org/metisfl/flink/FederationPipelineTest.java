package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.InvalidConfigException;

class FederationPipelineTest {
    @TempDir Path dir;

    @Test
    void missingOrMalformedInitialModelIsRefusedBeforeTheJobStarts() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        FederationConfig missing =
                FederationConfig.of(
                        Map.of(
                                "federation.initial-model",
                                dir.resolve("nope.model").toString(),
                                "security.insecure",
                                "true",
                                "security.admission",
                                "open"));
        assertThatThrownBy(() -> FederationPipeline.build(env, missing))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("file not found");
        Path junk = Files.writeString(dir.resolve("junk.model"), "not a model");
        FederationConfig malformed =
                FederationConfig.of(
                        Map.of(
                                "federation.initial-model",
                                junk.toString(),
                                "security.insecure",
                                "true",
                                "security.admission",
                                "open"));
        assertThatThrownBy(() -> FederationPipeline.build(env, malformed))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("is not a model file");
    }

    @Test
    void anInitialModelLargerThanTheGatewaysLimitIsRefusedAtSubmit() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        // 300 float32 values: 1,200 bytes, one byte more than the configured limit allows.
        Path model = dir.resolve("big.model");
        org.metisfl.flink.model.ModelCodec.writeModelFile(
                model,
                List.of(new org.metisfl.flink.model.TensorSpecInfo("w", new long[] {300})),
                new float[300]);
        Map<String, String> base =
                Map.of(
                        "federation.initial-model",
                        model.toString(),
                        "security.insecure",
                        "true",
                        "security.admission",
                        "open");
        FederationConfig tooSmallLimit = FederationConfig.of(with(base, "1199b"));
        assertThatThrownBy(() -> FederationPipeline.build(env, tooSmallLimit))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("1200 bytes of values")
                .hasMessageContaining("gateway.max-model-size (1199 bytes)");
        FederationPipeline.build(env, FederationConfig.of(with(base, "1200b")));
    }

    private static Map<String, String> with(Map<String, String> base, String maxModelSize) {
        Map<String, String> m = new java.util.HashMap<>(base);
        m.put("gateway.max-model-size", maxModelSize);
        return m;
    }

    @Test
    void fedBuffFoldsAtTheGatewaysAndFedAsyncAndFedRecDoNot() {
        for (String rule : List.of("fedbuff", "fedasync", "fedrec")) {
            FederationConfig config =
                    FederationConfig.of(
                            Map.of(
                                    "security.insecure", "true",
                                    "security.admission", "open",
                                    "protocol.type", "asynchronous",
                                    "async.rule", rule));
            assertThat(FederationPipeline.preAggregation(config))
                    .as(rule)
                    .matches(f -> (f != null) == rule.equals("fedbuff"));
            FederationConfig off =
                    FederationConfig.of(
                            Map.of(
                                    "security.insecure", "true",
                                    "security.admission", "open",
                                    "protocol.type", "asynchronous",
                                    "async.rule", rule,
                                    "aggregation.pre-aggregate", "false"));
            assertThat(FederationPipeline.preAggregation(off)).as(rule + ", off").isNull();
        }
    }

    @Test
    void theNewModelReachesTheSinkWithoutANetworkExchange() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        FederationConfig config =
                FederationConfig.of(
                        Map.of("security.insecure", "true", "security.admission", "open"));
        FederationPipeline.build(env, config);
        List<String> vertices =
                StreamSupport.stream(
                                env.getStreamGraph().getJobGraph().getVertices().spliterator(),
                                false)
                        .map(JobVertex::getName)
                        .toList();
        // The model sink has no job vertex of its own: it is chained to the coordinator.
        assertThat(vertices)
                .anySatisfy(
                        v -> assertThat(v).contains("round-coordinator").contains("model-sink"));
        assertThat(vertices).noneSatisfy(v -> assertThat(v).startsWith("Sink: model-sink"));
    }

    /**
     * The model path's announcement copies reach every aggregator subtask under the max parallelism
     * the job is configured with; with the keys of Flink's default max parallelism (as before) some
     * subtask would miss every copy under it.
     */
    @Test
    void announcementCopiesReachEveryAggregatorSubtaskUnderTheConfiguredMaxParallelism() {
        FederationConfig config =
                FederationConfig.of(
                        Map.of(
                                "job.parallelism", "3",
                                "security.insecure", "true",
                                "security.admission", "open"));
        int misses = 0;
        for (int maxParallelism : new int[] {256, 512, 1024, 4096, 32768}) {
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
            env.getConfig().setMaxParallelism(maxParallelism);
            org.metisfl.flink.aggregation.ShardKeys keys =
                    FederationPipeline.aggregatorKeys(env, config);
            assertThat(keys.maxParallelism()).isEqualTo(maxParallelism);
            assertThat(announcementSubtasks(keys, maxParallelism)).containsExactly(0, 1, 2);
            if (!announcementSubtasks(
                            new org.metisfl.flink.aggregation.ShardKeys(3), maxParallelism)
                    .equals(java.util.Set.of(0, 1, 2))) {
                misses++;
            }
        }
        // What the fix is for: the default's keys miss a subtask under some of these.
        assertThat(misses).isPositive();
        // Nothing configured: Flink's default for job.parallelism, as Flink gives the aggregator.
        assertThat(
                        FederationPipeline.aggregatorKeys(
                                        StreamExecutionEnvironment.getExecutionEnvironment(),
                                        config)
                                .maxParallelism())
                .isEqualTo(
                        org.apache.flink.runtime.state.KeyGroupRangeAssignment
                                .computeDefaultMaxParallelism(3));
    }

    /** The aggregator subtasks the router's copies of one announcement land on. */
    private static java.util.Set<Integer> announcementSubtasks(
            org.metisfl.flink.aggregation.ShardKeys keys, int maxParallelism) {
        FederationPipeline.Router router = new FederationPipeline.Router(keys);
        List<org.metisfl.flink.model.GatewayEvent> copies = new java.util.ArrayList<>();
        router.processElement(
                org.metisfl.flink.model.GatewayEvent.announce(0, "127.0.0.1", 1, "s"),
                router.new Context() {
                    @Override
                    public Long timestamp() {
                        return null;
                    }

                    @Override
                    public org.apache.flink.streaming.api.TimerService timerService() {
                        throw new UnsupportedOperationException();
                    }

                    @Override
                    public <X> void output(org.apache.flink.util.OutputTag<X> tag, X value) {
                        // the announcement's own copy for the coordinator
                    }
                },
                new org.apache.flink.util.Collector<>() {
                    @Override
                    public void collect(org.metisfl.flink.model.GatewayEvent e) {
                        copies.add(e);
                    }

                    @Override
                    public void close() {}
                });
        java.util.Set<Integer> subtasks = new java.util.TreeSet<>();
        for (org.metisfl.flink.model.GatewayEvent c : copies) {
            subtasks.add(
                    org.apache.flink.runtime.state.KeyGroupRangeAssignment
                            .assignKeyToParallelOperator(
                                    keys.keyOf(c.shard), maxParallelism, keys.parallelism()));
        }
        return subtasks;
    }
}
