package org.metisfl.flink.connector.gateway.split;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** Versioned serializer of {@link GatewaySplit} (checkpointed by the reader and enumerator). */
public final class GatewaySplitSerializer implements SimpleVersionedSerializer<GatewaySplit> {
    public static final GatewaySplitSerializer INSTANCE = new GatewaySplitSerializer();
    private static final int VERSION = 2;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(GatewaySplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(split.index());
            out.writeUTF(split.secret());
            out.writeInt(split.enrollmentUses().size());
            for (Map.Entry<String, Integer> e : split.enrollmentUses().entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue());
            }
            out.writeInt(split.revoked().size());
            for (String learner : split.revoked()) {
                out.writeUTF(learner);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public GatewaySplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1 && version != VERSION) {
            throw new IOException("unknown gateway split version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            int index = in.readInt();
            String secret = in.readUTF();
            if (version == 1) {
                return new GatewaySplit(index, secret);
            }
            Map<String, Integer> uses = new HashMap<>();
            for (int n = in.readInt(); n > 0; n--) {
                uses.put(in.readUTF(), in.readInt());
            }
            Set<String> revoked = new HashSet<>();
            for (int n = in.readInt(); n > 0; n--) {
                revoked.add(in.readUTF());
            }
            return new GatewaySplit(index, secret, uses, revoked);
        }
    }
}
