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
    void unknownVersionsAreRefused() {
        assertThatThrownBy(() -> GatewaySplitSerializer.INSTANCE.deserialize(99, new byte[0]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("99");
    }
}
