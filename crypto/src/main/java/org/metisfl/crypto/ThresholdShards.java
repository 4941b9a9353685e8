package org.metisfl.crypto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;

/**
 * Threshold mode at the level of a model shard, the unit the federation moves: what {@link
 * KeyBundle}'s shard operations are to shared-key mode. Learners encrypt a shard under the
 * committee's joint key; each committee member turns the global model's shard into its partial
 * decryptions (one per ciphertext, in the same {@link ShardCiphertexts} container, the weight sum
 * echoed); whoever holds all members' partial shards combines them into the weighted mean.
 *
 * <pre>{@code
 * ThresholdShards ts = ThresholdShards.of(HeBackends.context("metisfl-ckks", "n13-q180-t"));
 * byte[] upd = ts.encryptShard(committee.jointKey(), values);       // a learner
 * byte[] mine = ts.partialDecryptShard(myShare, globalShard);      // each committee member
 * float[] mean = ts.combineShard(committee, globalShard, allParts); // the combiner
 * }</pre>
 */
public final class ThresholdShards {

    private final HeContext he;
    private final ThresholdHe th;

    private ThresholdShards(HeContext he, ThresholdHe th) {
        this.he = he;
        this.th = th;
    }

    /**
     * @throws IllegalArgumentException if the context's backend has no threshold mode
     */
    public static ThresholdShards of(HeContext he) {
        ThresholdHe th =
                he.threshold()
                        .orElseThrow(
                                () ->
                                        new IllegalArgumentException(
                                                "backend "
                                                        + he.backendId()
                                                        + " has no threshold mode; use"
                                                        + " metisfl-ckks"));
        return new ThresholdShards(he, th);
    }

    public ThresholdHe threshold() {
        return th;
    }

    /** A learner's shard of an update, encrypted under the joint key (public-key ciphertexts). */
    public byte[] encryptShard(PublicKey jointKey, float[] values) {
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : he.encrypt(jointKey, values)) {
            cts.add(he.serialize(c));
        }
        return ShardCiphertexts.update(cts).encode();
    }

    /**
     * A committee member's partial decryptions of a shard of the global model (the smudging scales
     * with the shard's weight sum, 1 for an initial model).
     */
    public byte[] partialDecryptShard(SecretKeyShare share, byte[] shard) {
        ShardCiphertexts sc = ShardCiphertexts.decode(shard);
        double w = sc.weightSum() > 0 ? sc.weightSum() : 1;
        List<byte[]> parts = new ArrayList<>(sc.count());
        for (byte[] b : sc.ciphertexts()) {
            parts.add(th.serialize(th.partialDecrypt(share, he.deserializeCiphertext(b), w)));
        }
        return new ShardCiphertexts(sc.weightSum(), parts).encode();
    }

    /**
     * t-out-of-n: a member's partial decryptions of a shard for the set of answering members (at
     * least t, this member among them; every member of the set must use the same list).
     */
    public byte[] partialDecryptShard(
            ShamirKeyShare share, Committee committee, byte[] shard, List<String> answering) {
        ShardCiphertexts sc = ShardCiphertexts.decode(shard);
        double w = sc.weightSum() > 0 ? sc.weightSum() : 1;
        List<byte[]> parts = new ArrayList<>(sc.count());
        for (byte[] b : sc.ciphertexts()) {
            parts.add(
                    th.serialize(
                            th.partialDecrypt(
                                    share, committee, he.deserializeCiphertext(b), w, answering)));
        }
        return new ShardCiphertexts(sc.weightSum(), parts).encode();
    }

    /**
     * t-out-of-n: the shard's weighted mean from the partial shards of a set of at least t members,
     * all made for that set.
     */
    public float[] combineShard(
            Committee committee, int threshold, byte[] shard, List<byte[]> partialShards) {
        return combine(
                shard, partialShards, (c, parts) -> th.combine(committee, threshold, c, parts));
    }

    /**
     * The shard's weighted mean (Σ w·x / Σ w, float32) from every committee member's partial shard;
     * a shard with weight sum 0 (an initial model) is returned as decrypted.
     *
     * @throws IllegalArgumentException when a member's partial shard is missing, or does not match
     *     the shard (count, weight sum, ciphertexts)
     */
    public float[] combineShard(Committee committee, byte[] shard, List<byte[]> partialShards) {
        return combine(shard, partialShards, (c, parts) -> th.combine(committee, c, parts));
    }

    private interface Combiner {
        double[] combine(Ciphertext c, List<PartialDecryption> parts);
    }

    private float[] combine(byte[] shard, List<byte[]> partialShards, Combiner combiner) {
        ShardCiphertexts sc = ShardCiphertexts.decode(shard);
        List<ShardCiphertexts> members = new ArrayList<>(partialShards.size());
        for (byte[] p : partialShards) {
            ShardCiphertexts m = ShardCiphertexts.decode(p);
            if (m.count() != sc.count() || m.weightSum() != sc.weightSum()) {
                throw new IllegalArgumentException(
                        "a partial shard of "
                                + m.count()
                                + " partial decryptions (weight sum "
                                + m.weightSum()
                                + ") does not match the shard of "
                                + sc.count()
                                + " ciphertexts (weight sum "
                                + sc.weightSum()
                                + ")");
            }
            members.add(m);
        }
        List<double[]> values = new ArrayList<>(sc.count());
        int total = 0;
        for (int j = 0; j < sc.count(); j++) {
            Ciphertext c = he.deserializeCiphertext(sc.ciphertexts().get(j));
            List<PartialDecryption> parts = new ArrayList<>(members.size());
            for (ShardCiphertexts m : members) {
                parts.add(th.deserializePartialDecryption(m.ciphertexts().get(j)));
            }
            double[] v = combiner.combine(c, parts);
            values.add(v);
            total += v.length;
        }
        double div = sc.weightSum() > 0 ? sc.weightSum() : 1;
        float[] out = new float[total];
        int pos = 0;
        for (double[] v : values) {
            for (double x : v) {
                out[pos++] = (float) (x / div);
            }
        }
        return out;
    }

    /**
     * Writes a member's secret share (additive or Shamir, serialized) to a new file readable by its
     * owner only (where the file system has POSIX permissions): a committee member must keep it
     * across restarts, or the committee cannot decrypt. Refuses to overwrite a file.
     */
    public static void writeSecret(Path file, byte[] serializedShare) throws IOException {
        HeEnvelope.Kind kind = HeEnvelope.of(serializedShare).kind();
        if (kind != HeEnvelope.Kind.SECRET_KEY_SHARE && kind != HeEnvelope.Kind.SHAMIR_KEY_SHARE) {
            throw new IllegalArgumentException(
                    "not a secret key share or Shamir key share but a " + kind);
        }
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        try {
            Files.createFile(
                    file,
                    PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file);
        }
        Files.write(file, serializedShare, StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** Reads a member's additive secret share written by {@link #writeSecret}. */
    public SecretKeyShare loadSecretShare(Path file) throws IOException {
        return th.deserializeSecretKeyShare(readKind(file, HeEnvelope.Kind.SECRET_KEY_SHARE));
    }

    /** Reads a member's Shamir share written by {@link #writeSecret}. */
    public ShamirKeyShare loadShamirShare(Path file) throws IOException {
        return th.deserializeShamirKeyShare(readKind(file, HeEnvelope.Kind.SHAMIR_KEY_SHARE));
    }

    private static byte[] readKind(Path file, HeEnvelope.Kind kind) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        HeEnvelope env;
        try {
            env = HeEnvelope.of(bytes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    file + " is not a MetisFL key file: " + e.getMessage(), e);
        }
        if (env.kind() != kind) {
            throw new IllegalArgumentException(file + " holds a " + env.kind() + ", not a " + kind);
        }
        return bytes;
    }

    /**
     * Writes the committee's public parameters to {@code dir}/{@value KeyBundle#PUBLIC_FILE}: the
     * same properties {@link KeyBundle#write} writes for a shared key (backend, preset, parameter
     * hash, key id, the joint public key), plus the committee ({@code threshold.members}: the
     * member ids, comma-separated, and {@code threshold.t}: how many must answer, N for
     * n-out-of-n). A job given this file as {@code secure-aggregation.public-key} encrypts the
     * initial model under the joint key and refuses updates under any other key, as in shared-key
     * mode; it never gets a share. Refuses to overwrite the file.
     */
    public void writePublicParameters(Path dir, String preset, Committee committee, int threshold)
            throws IOException {
        if (!CkksParameters.preset(preset).equals(he.parameters())
                || !java.util.Arrays.equals(
                        he.parameterHash(), committee.jointKey().parameterHash())) {
            throw new IllegalArgumentException(
                    "preset "
                            + preset
                            + " is not the committee's parameters ("
                            + he.parameters()
                            + ")");
        }
        if (threshold < 1 || threshold > committee.size()) {
            throw new IllegalArgumentException(
                    "threshold " + threshold + " must be between 1 and " + committee.size());
        }
        Properties p = new Properties();
        p.setProperty("secure-aggregation", "ckks");
        p.setProperty("secure-aggregation.backend", he.backendId());
        p.setProperty("secure-aggregation.preset", preset);
        p.setProperty("parameter-hash", HexFormat.of().formatHex(he.parameterHash()));
        p.setProperty("key-id", HexFormat.of().formatHex(committee.jointKey().keyId()));
        p.setProperty(
                "public-key",
                Base64.getEncoder().encodeToString(he.serialize(committee.jointKey())));
        p.setProperty("threshold.members", String.join(",", committee.memberIds()));
        p.setProperty("threshold.t", Integer.toString(threshold));
        Files.createDirectories(dir);
        try (var out =
                Files.newBufferedWriter(
                        dir.resolve(KeyBundle.PUBLIC_FILE), StandardOpenOption.CREATE_NEW)) {
            p.store(
                    out,
                    "MetisFL CKKS public parameters of a threshold committee's joint key (no"
                            + " share): for the federation file");
        }
    }

    /** A member's share id in hex, as {@link Committee#memberIds()} lists it. */
    public static String memberId(PublicKeyShare share) {
        return HexFormat.of().formatHex(share.shareId());
    }
}
