package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.flink.connector.store.StoredEncryption;
import org.metisfl.flink.connector.store.StoredModel;

/**
 * Decrypts a CKKS federation's stored versions on the operator's side (never in the job): each
 * shard of the stored ciphertexts with the learners' key bundle, as a learner decrypts a download.
 */
final class EncryptedVersions {
    private EncryptedVersions() {}

    /** The key bundle at {@code path}: a {@code ckks-secret.key}, or the folder holding one. */
    static KeyBundle loadKey(CliEnvironment env, String path) {
        Path p = env.resolve(path);
        Path file = Files.isDirectory(p) ? p.resolve(KeyBundle.SECRET_FILE) : p;
        if (!Files.isRegularFile(file)) {
            throw new CliException(
                    "--key "
                            + path
                            + ": no "
                            + KeyBundle.SECRET_FILE
                            + " there; give the federation's secret key file or its folder",
                    CliException.USAGE);
        }
        try {
            return KeyBundle.load(file);
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException("--key " + path + ": " + e.getMessage(), CliException.USAGE, e);
        }
    }

    /**
     * The values of stored version {@code version}, decrypted with {@code key}.
     *
     * @throws CliException if {@code key} is another key pair or of other parameters than the
     *     version's, or the stored ciphertexts do not decrypt to the metadata's values
     */
    static float[] decrypt(long version, StoredModel meta, byte[] ciphertexts, KeyBundle key) {
        StoredEncryption e = meta.encryption;
        if (!key.backendId().equals(e.backendId) || !key.parameterHash().equals(e.parameterHash)) {
            throw new CliException(
                    "wrong key: v"
                            + version
                            + " is encrypted with "
                            + e.backendId
                            + " "
                            + e.preset
                            + " (parameter hash "
                            + e.parameterHash
                            + "), --key is "
                            + key.backendId()
                            + " "
                            + key.preset()
                            + " (parameter hash "
                            + key.parameterHash()
                            + "): give the key bundle of the federation that stored it",
                    CliException.USAGE);
        }
        if (!key.keyId().equals(e.keyId)) {
            throw new CliException(
                    "wrong key: v"
                            + version
                            + " is encrypted under key id "
                            + e.keyId
                            + ", --key holds key id "
                            + key.keyId()
                            + ": give the key bundle of the federation that stored it",
                    CliException.USAGE);
        }
        float[] out = new float[Math.toIntExact(meta.values)];
        int off = 0;
        int pos = 0;
        for (long len : e.shardBytes) {
            float[] v;
            try {
                v = key.decryptShard(Arrays.copyOfRange(ciphertexts, off, off + (int) len));
            } catch (RuntimeException ex) {
                throw new CliException(
                        "v" + version + ": a stored shard does not decrypt: " + ex.getMessage(),
                        CliException.FAILED,
                        ex);
            }
            if (pos + v.length > out.length) {
                throw new CliException(
                        "v" + version + ": the shards hold more values than its " + meta.values);
            }
            System.arraycopy(v, 0, out, pos, v.length);
            pos += v.length;
            off += (int) len;
        }
        if (pos != out.length || off != ciphertexts.length) {
            throw new CliException(
                    "v"
                            + version
                            + ": the stored shards hold "
                            + pos
                            + " values in "
                            + off
                            + " of "
                            + ciphertexts.length
                            + " bytes, the metadata says "
                            + meta.values
                            + " values");
        }
        return out;
    }
}
