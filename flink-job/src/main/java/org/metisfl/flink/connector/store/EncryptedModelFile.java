package org.metisfl.flink.connector.store;

import com.google.gson.Gson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * A stored encrypted version as a federation's initial model ({@code federation.initial-model:
 * <store>/<federation>/v000000000005.ckks}): its ciphertexts with the metadata beside them ({@code
 * v000000000005.json}). A CKKS federation under the same key starts from it without any key: the
 * job serves the ciphertexts as they are, with the weight sum they carry, and learners decrypt them
 * as they decrypted the stored version.
 *
 * <p>Read and checked without a key: the metadata's shard lengths against the file, every shard's
 * encoding, and the backend, parameter hash and key id inside every ciphertext against what the
 * federation expects ({@link #checkFits}).
 */
public final class EncryptedModelFile {
    private static final Gson GSON = new Gson();

    private final Path file;
    private final StoredModel meta;
    private final List<ShardCiphertexts> shards;

    private EncryptedModelFile(Path file, StoredModel meta, List<ShardCiphertexts> shards) {
        this.file = file;
        this.meta = meta;
        this.shards = shards;
    }

    /** True for a path that names a stored encrypted version ({@code *.ckks}). */
    public static boolean isEncryptedModelFile(String path) {
        return path.endsWith(ModelStore.CIPHERTEXTS);
    }

    /**
     * Reads {@code file} ({@code v<version>.ckks}) and its metadata ({@code v<version>.json} in the
     * same folder).
     *
     * @throws IOException if either cannot be read
     * @throws IllegalArgumentException naming the file and what is wrong: no encryption metadata,
     *     lengths that do not match, a malformed shard, shards of different keys or weight sums
     */
    public static EncryptedModelFile read(Path file) throws IOException {
        String name = file.getFileName().toString();
        if (!isEncryptedModelFile(name)) {
            throw new IllegalArgumentException(
                    file + " is no stored encrypted version (a v<version>.ckks file)");
        }
        Path json =
                file.resolveSibling(
                        name.substring(0, name.length() - ModelStore.CIPHERTEXTS.length())
                                + ".json");
        String metaText;
        try {
            metaText = Files.readString(json, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(
                    file
                            + " has no metadata beside it ("
                            + json.getFileName()
                            + "): give the .ckks file of a model store's version, with its .json");
        }
        StoredModel meta;
        try {
            meta = GSON.fromJson(metaText, StoredModel.class);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(json + " is no model store metadata: " + e, e);
        }
        if (meta == null || meta.encryption == null) {
            throw new IllegalArgumentException(
                    json + " describes no encrypted version (it has no 'encryption')");
        }
        byte[] bytes = Files.readAllBytes(file);
        StoredEncryption e = meta.encryption;
        if (e.totalBytes() != bytes.length) {
            throw new IllegalArgumentException(
                    file
                            + " holds "
                            + bytes.length
                            + " bytes, its metadata's shards "
                            + e.totalBytes()
                            + ": the file is truncated or not this version's");
        }
        List<ShardCiphertexts> shards = new ArrayList<>();
        int off = 0;
        for (int i = 0; i < e.shardBytes.size(); i++) {
            int len = Math.toIntExact(e.shardBytes.get(i));
            ShardCiphertexts sc;
            try {
                sc = ShardCiphertexts.decode(Arrays.copyOfRange(bytes, off, off + len));
            } catch (MalformedCiphertextException ex) {
                throw new IllegalArgumentException(
                        file + ": shard " + i + " is malformed: " + ex.getMessage(), ex);
            }
            if (sc.weightSum() != e.weightSum) {
                throw new IllegalArgumentException(
                        file
                                + ": shard "
                                + i
                                + " carries the weight sum "
                                + sc.weightSum()
                                + ", the metadata "
                                + e.weightSum);
            }
            shards.add(sc);
            off += len;
        }
        if (shards.isEmpty() || !(e.weightSum > 0)) {
            throw new IllegalArgumentException(
                    file
                            + ": no shards or no weight sum ("
                            + e.weightSum
                            + "): not a global model");
        }
        return new EncryptedModelFile(file, meta, shards);
    }

    public StoredModel metadata() {
        return meta;
    }

    public List<TensorSpecInfo> tensors() {
        return meta.tensors;
    }

    /**
     * Refuses a federation this model cannot start: another backend, other parameters, or another
     * key pair than the federation's public parameters (checked in every ciphertext's envelope).
     *
     * @throws IllegalArgumentException naming what differs and the fix
     */
    public void checkFits(String backendId, String parameterHash, String keyId) {
        for (ShardCiphertexts sc : shards) {
            for (byte[] c : sc.ciphertexts()) {
                HeEnvelope env;
                try {
                    env = HeEnvelope.of(c);
                } catch (MalformedCiphertextException ex) {
                    throw new IllegalArgumentException(
                            file + " holds a malformed ciphertext: " + ex.getMessage(), ex);
                }
                String hash = HexFormat.of().formatHex(env.parameterHash());
                String key = HexFormat.of().formatHex(env.keyId());
                if (!env.backendId().equals(backendId) || !hash.equals(parameterHash)) {
                    throw new IllegalArgumentException(
                            file
                                    + " is encrypted with backend "
                                    + env.backendId()
                                    + ", parameter hash "
                                    + hash
                                    + " (preset "
                                    + meta.encryption.preset
                                    + "); the federation uses "
                                    + backendId
                                    + ", "
                                    + parameterHash
                                    + ": use the stored version's backend and preset");
                }
                if (!key.equals(keyId)) {
                    throw new IllegalArgumentException(
                            "wrong key: "
                                    + file
                                    + " is encrypted under key id "
                                    + key
                                    + ", the federation's public parameters are key id "
                                    + keyId
                                    + ": give secure-aggregation.public-key the bundle the version"
                                    + " was made with, or export the version with 'metisfl models"
                                    + " export VERSION --key KEYS' and start from the plaintext"
                                    + " file (the job encrypts it under the new key)");
                }
            }
        }
    }

    /**
     * The whole model's ciphertexts in order as one payload, with the weight sum they carry (what
     * the coordinator installs as version 0, regrouped into the federation's shards).
     */
    public Payload payload() {
        List<byte[]> all = new ArrayList<>();
        for (ShardCiphertexts sc : shards) {
            all.addAll(sc.ciphertexts());
        }
        return Payload.ciphertext(
                meta.encryption.backendId,
                meta.encryption.parameterHash,
                (int) meta.values,
                new ShardCiphertexts(meta.encryption.weightSum, all).encode());
    }
}
