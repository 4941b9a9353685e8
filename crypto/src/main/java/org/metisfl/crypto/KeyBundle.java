package org.metisfl.crypto;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
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
 * A federation's CKKS key bundle in shared-key mode (MetisFL's model): the secret key every learner
 * holds, and the public parameters that name the backend, preset and parameter hash the federation
 * configuration must match. The job never gets the secret key; keep the secret key file out of the
 * job jar, the federation YAML and version control.
 *
 * <pre>{@code
 * KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);   // the operator, once
 * KeyBundle keys = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE)); // each learner
 * byte[] shard = keys.encryptShard(values);                    // an update's shard
 * float[] mean = keys.decryptShard(globalShard);               // the global model's shard
 * }</pre>
 */
public final class KeyBundle {

    /** The secret key (HE envelope: backend id, parameter hash, key id; then the key). */
    public static final String SECRET_FILE = "ckks-secret.key";

    /** The public parameters (properties: backend, preset, parameter hash, key id, public key). */
    public static final String PUBLIC_FILE = "ckks-public.properties";

    private final HeContext he;
    private final String preset;
    private final SecretKey secretKey;
    private final PublicKey publicKey;

    private KeyBundle(HeContext he, String preset, SecretKey secretKey, PublicKey publicKey) {
        this.he = he;
        this.preset = preset;
        this.secretKey = secretKey;
        this.publicKey = publicKey;
    }

    /** A fresh key pair of backend {@code backend} with parameter preset {@code preset}. */
    public static KeyBundle generate(String backend, String preset) {
        HeContext he = HeBackends.context(backend, preset);
        KeyPair keys = he.generateKeys();
        return new KeyBundle(he, preset, keys.secretKey(), keys.publicKey());
    }

    /**
     * Reads a secret key file written by {@link #write}.
     *
     * @throws IOException if it cannot be read
     * @throws IllegalArgumentException if it is no secret key, or of a backend or parameters this
     *     build does not know
     */
    public static KeyBundle load(Path secretKeyFile) throws IOException {
        byte[] bytes = Files.readAllBytes(secretKeyFile);
        HeEnvelope env;
        try {
            env = HeEnvelope.of(bytes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    secretKeyFile + " is not a MetisFL key file: " + e.getMessage(), e);
        }
        if (env.kind() != HeEnvelope.Kind.SECRET_KEY) {
            throw new IllegalArgumentException(
                    secretKeyFile
                            + " holds a "
                            + env.kind()
                            + ", not a secret key; give the learner "
                            + SECRET_FILE);
        }
        for (String preset : CkksParameters.presetNames()) {
            HeContext he = HeBackends.context(env.backendId(), preset);
            if (java.util.Arrays.equals(he.parameterHash(), env.parameterHash())) {
                return new KeyBundle(he, preset, he.deserializeSecretKey(bytes), null);
            }
        }
        throw new IllegalArgumentException(
                secretKeyFile
                        + ": its parameter hash "
                        + HexFormat.of().formatHex(env.parameterHash())
                        + " is none of the presets "
                        + CkksParameters.presetNames()
                        + " of backend "
                        + env.backendId());
    }

    /**
     * Writes {@link #SECRET_FILE} (owner read/write only where the file system has POSIX
     * permissions) and {@link #PUBLIC_FILE} into {@code dir}; refuses to overwrite a secret key.
     */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path secret = dir.resolve(SECRET_FILE);
        if (Files.exists(secret)) {
            throw new FileAlreadyExistsException(
                    secret.toString(),
                    null,
                    "a secret key is already there; learners holding it could not read models"
                            + " encrypted under a new one: remove it first if you mean to");
        }
        try {
            Files.createFile(
                    secret,
                    PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(secret);
        }
        Files.write(secret, he.serialize(secretKey), StandardOpenOption.TRUNCATE_EXISTING);
        Properties p = new Properties();
        p.setProperty("secure-aggregation", "ckks");
        p.setProperty("secure-aggregation.backend", he.backendId());
        p.setProperty("secure-aggregation.preset", preset);
        p.setProperty("parameter-hash", parameterHash());
        p.setProperty("key-id", HexFormat.of().formatHex(secretKey.keyId()));
        if (publicKey != null) {
            p.setProperty(
                    "public-key", Base64.getEncoder().encodeToString(he.serialize(publicKey)));
        }
        try (var out = Files.newBufferedWriter(dir.resolve(PUBLIC_FILE))) {
            p.store(out, "MetisFL CKKS public parameters (no secret): for the federation file");
        }
    }

    public String backendId() {
        return he.backendId();
    }

    public String preset() {
        return preset;
    }

    /** Lower-case hex SHA-256 of the parameters, as ciphertext payloads carry it. */
    public String parameterHash() {
        return HexFormat.of().formatHex(he.parameterHash());
    }

    /** The fingerprint of the key pair (hex), shown to tell bundles apart. */
    public String keyId() {
        return HexFormat.of().formatHex(secretKey.keyId());
    }

    /** How many values one ciphertext carries; a shard is a whole number of them. */
    public int valuesPerCiphertext() {
        return he.valuesPerCiphertext();
    }

    /** Encrypts one shard of an update (compact secret-key ciphertexts) into its wire bytes. */
    public byte[] encryptShard(float[] values) {
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : he.encrypt(secretKey, values)) {
            cts.add(he.serialize(c));
        }
        return ShardCiphertexts.update(cts).encode();
    }

    /**
     * Decrypts one shard of the global model: the controller's encrypted weighted sum divided by
     * its plaintext weight total, i.e. the weighted mean, rounded to float32 (which also keeps the
     * noise-carrying low bits from ever going back to the controller, see the threat model).
     *
     * @throws IllegalArgumentException for bytes that are no shard of ciphertexts under this key
     *     and these parameters
     */
    public float[] decryptShard(byte[] shard) {
        ShardCiphertexts sc = ShardCiphertexts.decode(shard);
        if (!(sc.weightSum() > 0)) {
            throw new IllegalArgumentException(
                    "the shard carries no weight sum (" + sc.weightSum() + "): not an aggregate");
        }
        List<Ciphertext> cts = new ArrayList<>(sc.count());
        for (byte[] b : sc.ciphertexts()) {
            cts.add(he.deserializeCiphertext(b));
        }
        double[] sum = he.decrypt(secretKey, cts);
        float[] out = new float[sum.length];
        for (int i = 0; i < sum.length; i++) {
            out[i] = (float) (sum[i] / sc.weightSum());
        }
        return out;
    }
}
