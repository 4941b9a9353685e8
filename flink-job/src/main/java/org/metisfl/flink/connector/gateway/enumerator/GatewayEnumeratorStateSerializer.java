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

    /** 2: with the revoked learners (version 1 had none). */
    private static final int VERSION = 2;

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
            out.writeInt(state.revoked().size());
            for (String learner : state.revoked()) {
                out.writeUTF(learner);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public GatewayEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1 && version != VERSION) {
            throw new IOException("unknown gateway enumerator state version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            String secret = in.readUTF();
            int n = in.readInt();
            List<Integer> unassigned = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                unassigned.add(in.readInt());
            }
            List<String> revoked = new ArrayList<>();
            if (version >= 2) {
                int r = in.readInt();
                for (int i = 0; i < r; i++) {
                    revoked.add(in.readUTF());
                }
            }
            return new GatewayEnumeratorState(secret, unassigned, revoked);
        }
    }
}
