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
}
