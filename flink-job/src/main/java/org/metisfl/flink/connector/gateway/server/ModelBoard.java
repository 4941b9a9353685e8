package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import java.util.List;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.TensorSpec;

/**
 * The global model as this gateway serves it to learners: the newest version the job published,
 * kept as the encoded chunks the sink delivered (never copied per download), and whether the
 * federation still waits for a learner's weights as its initial model.
 */
public final class ModelBoard {

    /**
     * The global model as served to learners: its version, tensors and bytes, and for an encrypted
     * model (secure aggregation) its {@code Encryption} (served as {@code ModelHeader.encryption};
     * the bytes are then the shards' ciphertexts), else null.
     */
    public record ModelSnapshot(
            long version, List<TensorSpec> tensors, ModelChunks bytes, Encryption encryption) {

        public ModelSnapshot(long version, List<TensorSpec> tensors, ModelChunks bytes) {
            this(version, tensors, bytes, null);
        }

        public boolean encrypted() {
            return encryption != null;
        }

        /** The bytes in chunks of at most the gateway's chunk size, to send as they are. */
        public List<ByteString> chunks() {
            return bytes.chunks();
        }

        public long totalBytes() {
            return bytes.totalBytes();
        }
    }

    private final int chunkBytes;
    private final boolean initialModelFromLearner;
    private volatile ModelSnapshot model;
    private volatile boolean initialModelTaken;

    /**
     * @param chunkBytes the largest chunk a download sends
     * @param initialModelFromLearner true when the first learner's weights are the initial model
     */
    public ModelBoard(int chunkBytes, boolean initialModelFromLearner) {
        this.chunkBytes = chunkBytes;
        this.initialModelFromLearner = initialModelFromLearner;
    }

    public int chunkBytes() {
        return chunkBytes;
    }

    /** The current model, or null before the job published one. */
    public ModelSnapshot current() {
        return model;
    }

    /**
     * Puts up a model the job published unless the board holds a newer one; returns the model now
     * up, or null if {@code version} was older.
     */
    public ModelSnapshot offer(long version, List<TensorSpec> tensors, List<ByteString> chunks) {
        return offer(version, tensors, chunks, null);
    }

    /** As {@link #offer(long, List, List)}, for a model encrypted as {@code encryption} says. */
    public synchronized ModelSnapshot offer(
            long version,
            List<TensorSpec> tensors,
            List<ByteString> chunks,
            Encryption encryption) {
        if (model != null && version < model.version()) {
            return null;
        }
        model =
                new ModelSnapshot(
                        version,
                        List.copyOf(tensors),
                        ModelChunks.of(chunks, chunkBytes),
                        encryption);
        return model;
    }

    /** True while the federation waits for a learner's weights as its initial model. */
    public boolean initialModelWanted() {
        return initialModelFromLearner && model == null && !initialModelTaken;
    }

    /** Claims the initial-model slot of this gateway; false if it was taken. */
    public synchronized boolean takeInitialModelSlot() {
        if (!initialModelWanted()) {
            return false;
        }
        initialModelTaken = true;
        return true;
    }
}
