package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;

class RawLearnerTest {
    private static final int VALUES = 40_000; // 160,000 bytes: three chunks at the default size

    @Test
    void playsARoundAndSeesTheGatewaysAnswersUnchanged() throws Exception {
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(1)
                                .rounds(2)
                                .modelValues(VALUES)
                                .chunkBytes(48 * 1024)
                                .build()
                                .start();
                RawLearner l = RawLearner.connect("127.0.0.1:" + gateway.port())) {
            l.join("raw", 10);
            assertThat(l.id()).isNotEmpty();
            l.openTaskStream();
            Task t = l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(10));
            assertThat(t.getRound()).isEqualTo(1);

            RawLearner.Model m = l.getModel();
            assertThat(m.values()).hasSize(VALUES).containsOnly(0f);
            // SHA-256 of 160,000 zero bytes, computed independently (sha256sum).
            assertThat(m.sha256())
                    .isEqualTo("b9ce164d30e4101b009fe4be765a070593cfbdd48f897853de159a8c177fabe8");

            List<TensorSpec> tensors = m.tensors();
            List<UpdateChunk> chunks = l.updateChunks(1, tensors, m.values(), 10, Map.of());
            assertThat(chunks).hasSize(1 + 3);
            assertThat(chunks.get(1).getData().size()).isEqualTo(RawLearner.DEFAULT_CHUNK_BYTES);

            // Half an update: the gateway's refusal reaches the caller as it was sent.
            assertThatThrownBy(() -> l.submitRaw(chunks.subList(0, 2)))
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e ->
                                    assertThat(e.getStatus().getCode())
                                            .isEqualTo(Status.Code.INVALID_ARGUMENT));
            assertThat(l.submit(1, tensors, m.values(), 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(gateway.updates()).isEqualTo(1);
            assertThat(gateway.rejected()).isEqualTo(1);
            assertThat(l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(10)).getRound())
                    .isEqualTo(2);
        }
    }

    @Test
    void refusesAnAddressWithoutAPort() {
        assertThatThrownBy(() -> RawLearner.connect("localhost"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("host:port");
    }
}
