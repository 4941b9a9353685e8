package org.metisfl.flink.model;

import java.io.IOException;
import java.io.Serializable;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Properties;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.PublicKey;

/**
 * The public half of a federation's CKKS key bundle as the job holds it: the {@code
 * ckks-public.properties} file {@code metisfl keys generate} writes (backend, preset, parameter
 * hash, key id, public key). The job never takes a secret key: {@link #read} refuses a secret key
 * file with a message saying where it belongs.
 *
 * @param backend the HE backend's id
 * @param preset the parameter preset
 * @param parameterHash lower-case hex SHA-256 of the parameters
 * @param keyId lower-case hex fingerprint of the key pair
 * @param publicKey the serialized public key (its HE envelope first)
 */
public record CkksPublicParameters(
        String backend, String preset, String parameterHash, String keyId, byte[] publicKey)
        implements Serializable {

    /**
     * Reads and checks a public parameters file.
     *
     * @throws IllegalArgumentException naming the file and the fix: a secret key, a missing field,
     *     a public key that is not one or does not match the file's parameters
     * @throws IOException if the file cannot be read
     */
    public static CkksPublicParameters read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        HeEnvelope.Kind secret = secretKind(bytes);
        if (secret == HeEnvelope.Kind.SECRET_KEY) {
            throw new IllegalArgumentException(
                    file
                            + " is a CKKS secret key: the job must never hold it (whoever reads"
                            + " the job's files could decrypt every update). Give the job the"
                            + " bundle's ckks-public.properties and keep ckks-secret.key with the"
                            + " learners");
        }
        if (secret != null) {
            throw new IllegalArgumentException(
                    file
                            + " is a committee member's CKKS "
                            + (secret == HeEnvelope.Kind.SHAMIR_KEY_SHARE
                                    ? "Shamir key share"
                                    : "secret key share")
                            + " (threshold mode): the job must never hold it (with the other"
                            + " members' shares, whoever reads the job's files could decrypt"
                            + " every update). Give the job the committee's"
                            + " ckks-public.properties (ThresholdShards.writePublicParameters)"
                            + " and keep each share with its member");
        }
        Properties p = new Properties();
        try {
            p.load(new StringReader(new String(bytes, StandardCharsets.ISO_8859_1)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    file + " is not a properties file: " + e.getMessage(), e);
        }
        for (String k : p.stringPropertyNames()) {
            if (k.toLowerCase(java.util.Locale.ROOT).contains("secret")) {
                throw new IllegalArgumentException(
                        file
                                + " holds a '"
                                + k
                                + "' entry: the job takes the public parameters only; give it"
                                + " the ckks-public.properties written by 'metisfl keys generate'");
            }
        }
        String backend = required(p, file, "secure-aggregation.backend");
        String preset = required(p, file, "secure-aggregation.preset");
        String hash = required(p, file, "parameter-hash").toLowerCase(java.util.Locale.ROOT);
        String keyId = required(p, file, "key-id").toLowerCase(java.util.Locale.ROOT);
        byte[] key;
        try {
            key = Base64.getDecoder().decode(required(p, file, "public-key"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    file + ": public-key is not Base64: " + e.getMessage(), e);
        }
        HeEnvelope env;
        try {
            env = HeEnvelope.of(key);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(
                    file + ": public-key is no MetisFL HE key: " + e.getMessage(), e);
        }
        if (env.kind() != HeEnvelope.Kind.PUBLIC_KEY) {
            throw new IllegalArgumentException(
                    file
                            + ": public-key holds a "
                            + env.kind()
                            + (secretKind(key) != null ? ", which the job must never hold" : "")
                            + "; regenerate the bundle with 'metisfl keys generate'");
        }
        String envHash = HexFormat.of().formatHex(env.parameterHash());
        String envKey = HexFormat.of().formatHex(env.keyId());
        if (!env.backendId().equals(backend) || !envHash.equals(hash) || !envKey.equals(keyId)) {
            throw new IllegalArgumentException(
                    file
                            + ": the public key (backend "
                            + env.backendId()
                            + ", parameter hash "
                            + envHash
                            + ", key id "
                            + envKey
                            + ") does not match the file's other entries; regenerate the bundle");
        }
        return new CkksPublicParameters(backend, preset, hash, keyId, key);
    }

    /** True for bytes that are a serialized secret key (an HE envelope of that kind). */
    static boolean isSecretKey(byte[] bytes) {
        return secretKind(bytes) == HeEnvelope.Kind.SECRET_KEY;
    }

    /**
     * The kind of secret serialized bytes are (a secret key, a threshold member's secret key share
     * or Shamir key share), or null for anything else.
     */
    static HeEnvelope.Kind secretKind(byte[] bytes) {
        HeEnvelope.Kind kind;
        try {
            kind = HeEnvelope.of(bytes).kind();
        } catch (RuntimeException e) {
            return null;
        }
        return switch (kind) {
            case SECRET_KEY, SECRET_KEY_SHARE, SHAMIR_KEY_SHARE -> kind;
            default -> null;
        };
    }

    private static String required(Properties p, Path file, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(
                    file
                            + " has no '"
                            + key
                            + "': not a ckks-public.properties from 'metisfl keys generate'");
        }
        return v.trim();
    }

    /** The public key in {@code he}, which must be the context of these parameters. */
    public PublicKey publicKey(HeContext he) {
        return he.deserializePublicKey(publicKey);
    }
}
