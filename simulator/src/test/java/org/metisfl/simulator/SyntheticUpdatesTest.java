package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.UpdateChunk;

class SyntheticUpdatesTest {

    @Test
    void sendsTheDocumentedValuesInChunksSharedByLearnersOfOneVariant() {
        int values = 100_003;
        SyntheticUpdates u = new SyntheticUpdates(7, 3, values, 4096 + 1);

        assertThat(u.bytesPerUpdate()).isEqualTo(values * 4L);
        assertThat(u.chunksFor(1)).isSameAs(u.chunksFor(4));
        for (int variant = 0; variant < 3; variant++) {
            List<UpdateChunk> chunks = u.chunksFor(variant);
            assertThat(chunks)
                    .allSatisfy(c -> assertThat(c.getData().size()).isLessThanOrEqualTo(4097));
            ByteString all = ByteString.EMPTY;
            for (UpdateChunk c : chunks) {
                all = all.concat(c.getData());
            }
            float[] got = new float[values];
            all.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(got);
            float[] expected = SimulatedFederation.syntheticUpdate(7, variant, values);
            assertThat(java.util.Arrays.equals(got, expected)).isTrue();
            for (float f : got) {
                if (!(f >= -1f && f < 1f)) {
                    throw new AssertionError("value out of [-1, 1): " + f);
                }
            }
        }
        assertThat(SimulatedFederation.syntheticUpdate(7, 0, 10))
                .isNotEqualTo(SimulatedFederation.syntheticUpdate(7, 1, 10));
    }
}
