package org.metisfl.flink.connector.gateway.enumerator;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** Versioned serializer of {@link GatewayEnumeratorState}. */
public final class GatewayEnumeratorStateSerializer
        implements SimpleVersionedSerializer<GatewayEnumeratorState> {
    public static final GatewayEnumeratorStateSerializer INSTANCE =
            new GatewayEnumeratorStateSerializer();
    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(GatewayEnumeratorState state) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeUTF(state.secret());
            out.writeInt(state.unassigned().size());
            for (int i : state.unassigned()) {
                out.writeInt(i);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public GatewayEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException("unknown gateway enumerator state version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            String secret = in.readUTF();
            int n = in.readInt();
            List<Integer> unassigned = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                unassigned.add(in.readInt());
            }
            return new GatewayEnumeratorState(secret, unassigned);
        }
    }
}
