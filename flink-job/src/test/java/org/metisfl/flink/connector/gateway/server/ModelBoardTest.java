package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.TensorSpec;

class ModelBoardTest {
    private static final List<TensorSpec> TENSORS =
            List.of(TensorSpec.newBuilder().setName("w").addShape(4).build());

    private static List<ByteString> bytes(int n) {
        return List.of(ByteString.copyFrom(new byte[n]));
    }

    @Test
    void keepsTheNewestModelAndRefusesOlderOnes() {
        ModelBoard board = new ModelBoard(1024, false);
        assertThat(board.current()).isNull();
        assertThat(board.offer(2, TENSORS, bytes(16)).version()).isEqualTo(2);
        assertThat(board.offer(1, TENSORS, bytes(16))).isNull();
        assertThat(board.current().version()).isEqualTo(2);
        assertThat(board.offer(2, TENSORS, bytes(16))).as("the same version again").isNotNull();
        assertThat(board.current().totalBytes()).isEqualTo(16);
    }

    @Test
    void servesTheBytesInChunksOfAtMostTheChunkSize() {
        ModelBoard board = new ModelBoard(1024, false);
        board.offer(0, TENSORS, List.of(ByteString.copyFrom(new byte[2500])));
        assertThat(board.current().chunks())
                .allSatisfy(c -> assertThat(c.size()).isLessThanOrEqualTo(1024));
        assertThat(board.current().totalBytes()).isEqualTo(2500);
    }

    @Test
    void theInitialModelSlotGoesToOneLearnerAndOnlyWhileNoModelIsUp() {
        ModelBoard board = new ModelBoard(1024, true);
        assertThat(board.initialModelWanted()).isTrue();
        assertThat(board.takeInitialModelSlot()).isTrue();
        assertThat(board.takeInitialModelSlot()).isFalse();
        assertThat(board.initialModelWanted()).isFalse();

        ModelBoard published = new ModelBoard(1024, true);
        published.offer(0, TENSORS, bytes(16));
        assertThat(published.takeInitialModelSlot()).isFalse();

        ModelBoard fromFile = new ModelBoard(1024, false);
        assertThat(fromFile.initialModelWanted()).isFalse();
    }
}
