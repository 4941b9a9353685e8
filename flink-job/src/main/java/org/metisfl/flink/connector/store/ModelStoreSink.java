package org.metisfl.flink.connector.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.RoundResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps global model versions in a {@link ModelStore}, exactly once: the writer gathers each
 * published model from the coordinator's directives (every k-th version, the initial and the final
 * one) or takes each round's result, writes it to the store's {@code _pending/} and hands its name
 * to the checkpoint; the committer publishes it once that checkpoint completes, idempotently.
 *
 * <p>Across failures: a version written after the last completed checkpoint is not committed; the
 * coordinator, restored from that checkpoint, computes the version again and it is written again
 * (its orphaned pending files are deleted when the version is published). A committable restored
 * from a checkpoint is committed again, which publishes it if the first attempt did not get to. So
 * every version is published once, never twice, and never lost.
 */
public final class ModelStoreSink<T> implements Sink<T>, SupportsCommitter<String> {
    private static final long serialVersionUID = 1L;

    private final String storeUri;
    private final String federation;
    private final int every;
    private final int keepLast;
    private final boolean results;
    private final String hePreset;

    private ModelStoreSink(
            String storeUri,
            String federation,
            int every,
            int keepLast,
            boolean results,
            String hePreset) {
        this.storeUri = storeUri;
        this.federation = federation;
        this.every = every;
        this.keepLast = keepLast;
        this.results = results;
        this.hePreset = hePreset;
    }

    /** Stores the models the coordinator's directives publish. */
    public static ModelStoreSink<Directive> models(
            String storeUri, String federation, int every, int keepLast) {
        return models(storeUri, federation, every, keepLast, null);
    }

    /**
     * Stores the models the coordinator's directives publish; those of a CKKS federation as their
     * ciphertexts, noting {@code hePreset} (null: a plaintext federation) in their metadata.
     */
    public static ModelStoreSink<Directive> models(
            String storeUri, String federation, int every, int keepLast, String hePreset) {
        return new ModelStoreSink<>(storeUri, federation, every, keepLast, false, hePreset);
    }

    /** Stores each round's result next to its model version. */
    public static ModelStoreSink<RoundResult> results(
            String storeUri, String federation, int every) {
        return new ModelStoreSink<>(storeUri, federation, every, 0, true, null);
    }

    static boolean kept(long version, int every, boolean last) {
        return version == 0 || last || version % every == 0;
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) throws IOException {
        ModelStore store = ModelStore.open(storeUri, federation);
        if (!results && context.getRestoredCheckpointId().isEmpty()) {
            archiveEarlierRun(store, context.getProcessingTimeService().getCurrentProcessingTime());
        }
        return new Writer<>(
                results
                        ? new ResultGatherer(store, every)
                        : new ModelGatherer(
                                store,
                                federation,
                                every,
                                hePreset == null ? "" : hePreset,
                                () ->
                                        context.getProcessingTimeService()
                                                .getCurrentProcessingTime()));
    }

    /**
     * A job that starts without state (not restored from a checkpoint or savepoint) is a new run:
     * the versions of an earlier run of the same federation are moved aside, not mixed with its
     * own. (Nothing of this run is published before its first checkpoint completes, and a restart
     * after that is restored from a checkpoint.)
     */
    private static void archiveEarlierRun(ModelStore store, long nowMs) throws IOException {
        List<Long> earlier = store.versions();
        if (earlier.isEmpty()) {
            return;
        }
        String suffix =
                java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
                        .withZone(java.time.ZoneOffset.UTC)
                        .format(java.time.Instant.ofEpochMilli(nowMs));
        org.apache.flink.core.fs.Path moved = store.archive(suffix);
        LoggerFactory.getLogger(ModelStoreSink.class)
                .info(
                        "A new run of the federation: the earlier run's model versions {} moved"
                                + " to {}",
                        earlier,
                        moved);
    }

    @Override
    public Committer<String> createCommitter(CommitterInitContext context) throws IOException {
        return new StoreCommitter(storeUri, federation, keepLast);
    }

    @Override
    public SimpleVersionedSerializer<String> getCommittableSerializer() {
        return new NameSerializer();
    }

    /** Turns records into pending store entries; returns an entry's name, or null. */
    interface Gatherer<T> {
        String add(T record) throws IOException;
    }

    static final class Writer<T> implements CommittingSinkWriter<T, String> {
        private final Gatherer<Object> gatherer;
        private List<String> pending = new ArrayList<>();

        @SuppressWarnings("unchecked")
        Writer(Gatherer<?> gatherer) {
            this.gatherer = (Gatherer<Object>) gatherer;
        }

        @Override
        public void write(T element, Context context) throws IOException {
            String name = gatherer.add(element);
            if (name != null) {
                pending.add(name);
            }
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public Collection<String> prepareCommit() {
            List<String> out = pending;
            pending = new ArrayList<>();
            return out;
        }

        @Override
        public void close() {}
    }

    /**
     * Gathers MODEL_SHARD directives into the model the next PUBLISH names: dense values, or with
     * secure aggregation each shard's ciphertext bytes, kept as they are (the store holds exactly
     * what learners receive; the job cannot read the values).
     */
    static final class ModelGatherer implements Gatherer<Directive> {
        private static final Logger LOG = LoggerFactory.getLogger(ModelGatherer.class);

        private final ModelStore store;
        private final String federation;
        private final int every;
        private final String hePreset;
        private final java.util.function.LongSupplier clock;
        private long version = -1;
        private List<Payload> parts = new ArrayList<>();
        private long values;
        private long lastWritten = -1;

        ModelGatherer(
                ModelStore store,
                String federation,
                int every,
                String hePreset,
                java.util.function.LongSupplier clock) {
            this.store = store;
            this.federation = federation;
            this.every = every;
            this.hePreset = hePreset;
            this.clock = clock;
        }

        @Override
        public String add(Directive d) throws IOException {
            if (d.kind == Directive.Kind.MODEL_SHARD) {
                if (d.modelVersion != version || d.offset != values) {
                    parts = new ArrayList<>();
                    values = 0;
                    version = d.offset == 0 ? d.modelVersion : -1;
                    if (version < 0) {
                        return null;
                    }
                }
                Payload p = d.values();
                if (!parts.isEmpty() && parts.get(0).isDense() != p.isDense()) {
                    LOG.warn(
                            "Model v{} mixes plaintext and ciphertext shards: not stored", version);
                    parts = new ArrayList<>();
                    values = 0;
                    version = -1;
                    return null;
                }
                parts.add(p);
                values += p.size();
                return null;
            }
            if (d.kind != Directive.Kind.PUBLISH) {
                return null;
            }
            boolean complete =
                    d.modelVersion >= 0 && d.modelVersion == version && d.modelValues == values;
            long v = version;
            List<Payload> gathered = parts;
            parts = new ArrayList<>();
            values = 0;
            version = -1;
            if (!complete
                    || gathered.isEmpty()
                    || v == lastWritten
                    || !kept(v, every, d.finished)
                    || arrayLength(gathered) > Integer.MAX_VALUE - 8) {
                return null;
            }
            StoredModel meta = new StoredModel();
            meta.federation = federation;
            meta.version = v;
            meta.parentVersion = v - 1;
            meta.publishedAtMs = clock.getAsLong();
            meta.values = d.modelValues;
            meta.tensors = d.tensors == null ? List.of() : new ArrayList<>(d.tensors);
            meta.nextRound = d.planRound;
            meta.nextRoundParticipants =
                    d.participants == null ? List.of() : new ArrayList<>(d.participants);
            meta.evaluators = d.evaluators == null ? List.of() : new ArrayList<>(d.evaluators);
            meta.finished = d.finished;
            meta.finishReason = d.finishReason;
            String name;
            if (gathered.get(0).isDense()) {
                float[] all = new float[(int) d.modelValues];
                int off = 0;
                for (Payload p : gathered) {
                    float[] part = p.values();
                    System.arraycopy(part, 0, all, off, part.length);
                    off += part.length;
                }
                name = store.writePending(meta, meta.tensors, all);
            } else {
                meta.encryption = encryption(gathered, d.shardSize, hePreset);
                byte[] all = new byte[(int) arrayLength(gathered)];
                int off = 0;
                for (Payload p : gathered) {
                    byte[] part = p.ciphertext();
                    System.arraycopy(part, 0, all, off, part.length);
                    off += part.length;
                }
                name = store.writePendingEncrypted(meta, all);
            }
            lastWritten = v;
            LOG.info(
                    "Model v{}{} written to the model store (published at the next checkpoint)",
                    v,
                    meta.encryption == null
                            ? ""
                            : " (encrypted, key id " + meta.encryption.keyId + ")");
            return name;
        }

        /**
         * What learners are told of an encrypted model, read from its ciphertext shards without a
         * key: the scheme and parameter hash the payloads carry, the key id in the ciphertexts'
         * envelope, each shard's byte length and the weight sum the shards carry.
         */
        static StoredEncryption encryption(List<Payload> shards, int shardSize, String preset) {
            StoredEncryption e = new StoredEncryption();
            Payload first = shards.get(0);
            e.backendId = first.scheme();
            e.parameterHash = first.parameterHash();
            e.preset = preset;
            e.shardSize = shardSize;
            ShardCiphertexts sc = ShardCiphertexts.decode(first.ciphertext());
            e.weightSum = sc.weightSum();
            e.keyId =
                    sc.count() == 0
                            ? ""
                            : HexFormat.of()
                                    .formatHex(HeEnvelope.of(sc.ciphertexts().get(0)).keyId());
            for (Payload p : shards) {
                e.shardBytes.add((long) p.ciphertext().length);
            }
            return e;
        }

        /** The length of the array the whole model needs: values, or ciphertext bytes. */
        private static long arrayLength(List<Payload> parts) {
            long n = 0;
            for (Payload p : parts) {
                n += p.isDense() ? p.size() : p.ciphertext().length;
            }
            return n;
        }
    }

    /** Takes the round results of stored versions. */
    static final class ResultGatherer implements Gatherer<RoundResult> {
        private final ModelStore store;
        private final int every;

        ResultGatherer(ModelStore store, int every) {
            this.store = store;
            this.every = every;
        }

        @Override
        public String add(RoundResult r) throws IOException {
            return kept(r.round, every, r.last) ? store.writePendingResult(r) : null;
        }
    }

    /** Publishes pending entries once their checkpoint completed; then applies the retention. */
    static final class StoreCommitter implements Committer<String> {
        private static final Logger LOG = LoggerFactory.getLogger(StoreCommitter.class);
        private final ModelStore store;
        private final int keepLast;

        StoreCommitter(String storeUri, String federation, int keepLast) throws IOException {
            this.store = ModelStore.open(storeUri, federation);
            this.keepLast = keepLast;
        }

        @Override
        public void commit(Collection<CommitRequest<String>> requests) throws IOException {
            boolean published = false;
            for (CommitRequest<String> r : requests) {
                if (store.commit(r.getCommittable())) {
                    LOG.info(
                            "Published {} in the model store {}",
                            r.getCommittable(),
                            store.directory());
                    published = true;
                }
            }
            if (published) {
                store.retain(keepLast);
            }
        }

        @Override
        public void close() {}
    }

    /** A committable is a pending entry's name. */
    static final class NameSerializer implements SimpleVersionedSerializer<String> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(String name) {
            return name.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown model store committable version " + version);
            }
            return new String(serialized, StandardCharsets.UTF_8);
        }
    }
}
