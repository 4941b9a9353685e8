package org.metisfl.flink.connector.gateway.split;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** Versioned serializer of {@link GatewaySplit} (checkpointed by the reader and enumerator). */
public final class GatewaySplitSerializer implements SimpleVersionedSerializer<GatewaySplit> {
    public static final GatewaySplitSerializer INSTANCE = new GatewaySplitSerializer();
    private static final int VERSION = 1;

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
        }
        return bytes.toByteArray();
    }

    @Override
    public GatewaySplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException("unknown gateway split version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            return new GatewaySplit(in.readInt(), in.readUTF());
        }
    }
}
