package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.Encryption;

/**
 * The model path at a gateway: a model version whose shards come one by one from the shard
 * aggregators' sinks (in any order, from several senders) and whose PUBLISH comes from the
 * coordinator's sink. A version is ready once its PUBLISH and all {@code num_shards} of its shards
 * are in; then the PUBLISH is applied with the shards' chunks in shard order, as if the model had
 * come with it. Encrypted shards (the CKKS secure sum) each carry their backend, parameter hash and
 * byte length; the ready PUBLISH then carries the model's {@link Encryption} with every shard's
 * byte length in shard order, as the coordinator's sink would have sent it. Not thread-safe: the
 * gateway calls it under its directive lock.
 */
final class ShardedModel {

    /** A PUBLISH ready to apply with its model's chunks. */
    record Ready(DirectiveHeader publish, List<ByteString> chunks) {}

    /** One shard's chunks, and for a ciphertext shard its encryption (one shard byte length). */
    private record Shard(List<ByteString> chunks, Encryption encryption) {}

    /** version -> shard index -> shard; only versions newer than the one served. */
    private final TreeMap<Long, TreeMap<Integer, Shard>> shards = new TreeMap<>();

    /** The newest PUBLISH waiting for its shards, or null. */
    private DirectiveHeader pending;

    /** The federation is over: only the waiting PUBLISH's shards are kept (see {@link #end}). */
    private boolean ended;

    /**
     * Keeps shard {@code index} of model {@code version}, unless that version is served already.
     */
    void addShard(long version, int index, List<ByteString> chunks, long served) {
        addShard(version, index, chunks, null, served);
    }

    /**
     * As {@link #addShard(long, int, List, long)}, for a shard encrypted as {@code encryption} says
     * (null for plaintext values).
     */
    void addShard(
            long version, int index, List<ByteString> chunks, Encryption encryption, long served) {
        if (version <= served
                || (pending != null && version < pending.getModelVersion())
                || (ended && (pending == null || version != pending.getModelVersion()))) {
            return;
        }
        shards.computeIfAbsent(version, v -> new TreeMap<>())
                .put(index, new Shard(chunks == null ? List.of() : chunks, encryption));
    }

    /**
     * Keeps a PUBLISH of a version not served yet until its shards are in; a later PUBLISH of the
     * same or a newer version replaces it (a PUBLISH carries the whole current state).
     */
    void publish(DirectiveHeader header) {
        if (pending == null || header.getModelVersion() >= pending.getModelVersion()) {
            pending = header;
            shards.headMap(header.getModelVersion()).clear();
        }
    }

    /**
     * The federation is over: no PUBLISH comes any more, so the shards of any version but the
     * waiting PUBLISH's (if one waits) are dropped, now and when they come. Asynchronous
     * aggregators go on making and publishing versions from the updates in flight until the job
     * ends; without this the gateway would hold their shards until then.
     */
    void end() {
        ended = true;
        shards.keySet()
                .removeIf(v -> pending == null || v.longValue() != pending.getModelVersion());
    }

    /** How many versions have shards held here (a test's view). */
    int heldVersions() {
        return shards.size();
    }

    /** The PUBLISH waiting, or null. */
    DirectiveHeader pending() {
        return pending;
    }

    /**
     * The waiting PUBLISH with its model if every shard of it is in (and forgets both), else null.
     */
    Ready takeReady() {
        if (pending == null) {
            return null;
        }
        TreeMap<Integer, Shard> in = shards.get(pending.getModelVersion());
        if (in == null) {
            return null;
        }
        List<ByteString> chunks = new ArrayList<>();
        Encryption.Builder encryption = null;
        for (int index = 0; index < pending.getNumShards(); index++) {
            Shard shard = in.get(index);
            if (shard == null) {
                return null;
            }
            if (shard.encryption() != null) {
                if (encryption == null) {
                    encryption = shard.encryption().toBuilder().clearShardBytes();
                }
                encryption.addAllShardBytes(shard.encryption().getShardBytesList());
            }
            chunks.addAll(shard.chunks());
        }
        if (encryption != null && encryption.getShardBytesCount() != pending.getNumShards()) {
            // Ciphertext and plaintext shards of one version cannot both be right: serve neither.
            throw new IllegalStateException(
                    "model v"
                            + pending.getModelVersion()
                            + " has "
                            + encryption.getShardBytesCount()
                            + " encrypted shards of "
                            + pending.getNumShards());
        }
        DirectiveHeader publish =
                encryption == null
                        ? pending
                        : pending.toBuilder().setEncryption(encryption).build();
        Ready ready = new Ready(publish, chunks);
        shards.headMap(pending.getModelVersion(), true).clear();
        pending = null;
        return ready;
    }
}
