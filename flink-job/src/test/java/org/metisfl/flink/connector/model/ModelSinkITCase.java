package org.metisfl.flink.connector.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * The model sink in a real Flink job: a gateway that stays unreachable fails the job, saying so.
 */
class ModelSinkITCase {

    @Test
    void aJobWhoseGatewayStaysUnreachableFailsWithTheGatewaysAddress() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // nothing listens here once it is closed
        }
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ANNOUNCE);
        e.gateway = 0;
        e.host = "127.0.0.1";
        e.port = port;
        e.secret = "s";
        e.controlFingerprint = "0".repeat(64);
        Directive publish = new Directive();
        publish.kind = Directive.Kind.PUBLISH;
        publish.modelVersion = 0;
        publish.modelValues = 4;
        publish.tensors = List.of(new TensorSpecInfo("w", new long[] {4}));
        publish.numShards = 1;
        publish.shardSize = 4;
        publish.planRound = 1;
        publish.participants = List.of("a");
        publish.quorum = 1;
        publish.deadline = 1;
        publish.localSteps = new HashMap<>();

        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);
        env.fromData(
                        TypeInformation.of(Directive.class),
                        Directive.announce(e),
                        Directive.modelShard(0, 0, 0, new float[] {1, 2, 3, 4}),
                        publish)
                .sinkTo(
                        ModelSink.builder()
                                .maxMessageBytes(64 * 1024)
                                .deliveryTimeout(Duration.ofSeconds(1))
                                .retryBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
                                .build());

        long start = System.nanoTime();
        assertThatThrownBy(env::execute)
                .satisfies(
                        t ->
                                assertThat(ExceptionUtils.stringifyException(t))
                                        .contains(
                                                "gateway 0 at 127.0.0.1:"
                                                        + port
                                                        + " stayed unreachable")
                                        .contains("gateway.delivery-timeout"));
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .isLessThan(Duration.ofSeconds(90)); // mostly the MiniCluster
    }
}
