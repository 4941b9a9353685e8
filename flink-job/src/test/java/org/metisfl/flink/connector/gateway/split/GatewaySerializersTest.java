package org.metisfl.flink.connector.gateway.split;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.connector.gateway.enumerator.GatewayEnumeratorState;
import org.metisfl.flink.connector.gateway.enumerator.GatewayEnumeratorStateSerializer;

class GatewaySerializersTest {
    @Test
    void splitRoundTripsThroughItsSerializer() throws IOException {
        GatewaySplit s = new GatewaySplit(3, "s3cr3t");
        GatewaySplitSerializer ser = GatewaySplitSerializer.INSTANCE;
        GatewaySplit back = ser.deserialize(ser.getVersion(), ser.serialize(s));
        assertThat(back.index()).isEqualTo(3);
        assertThat(back.secret()).isEqualTo("s3cr3t");
        assertThat(back.splitId()).isEqualTo("gateway-3");
    }

    @Test
    void enumeratorStateRoundTripsThroughItsSerializer() throws IOException {
        GatewayEnumeratorState s = new GatewayEnumeratorState("k", List.of(2, 0));
        GatewayEnumeratorStateSerializer ser = GatewayEnumeratorStateSerializer.INSTANCE;
        GatewayEnumeratorState back = ser.deserialize(ser.getVersion(), ser.serialize(s));
        assertThat(back).isEqualTo(s);
        assertThat(back.unassigned()).containsExactly(0, 2);
    }

    @Test
    void enumeratorStateKeepsTheRevokedLearnersInOrder() throws IOException {
        GatewayEnumeratorState s =
                new GatewayEnumeratorState(
                        "k", List.of(1), List.of("learner-00000000000000b2", "learner-a1"));
        GatewayEnumeratorStateSerializer ser = GatewayEnumeratorStateSerializer.INSTANCE;
        GatewayEnumeratorState back = ser.deserialize(ser.getVersion(), ser.serialize(s));
        assertThat(back.revoked()).containsExactly("learner-00000000000000b2", "learner-a1");
        assertThat(back.secret()).isEqualTo("k");
    }

    @Test
    void enumeratorStateOfVersionOneRestoresWithNothingRevoked() throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeUTF("secret");
            out.writeInt(1);
            out.writeInt(3);
        }
        GatewayEnumeratorState back =
                GatewayEnumeratorStateSerializer.INSTANCE.deserialize(1, bytes.toByteArray());
        assertThat(back.secret()).isEqualTo("secret");
        assertThat(back.unassigned()).containsExactly(3);
        assertThat(back.revoked()).isEmpty();
    }

    @Test
    void unknownVersionsAreRefused() {
        assertThatThrownBy(() -> GatewaySplitSerializer.INSTANCE.deserialize(99, new byte[0]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("99");
    }
}
