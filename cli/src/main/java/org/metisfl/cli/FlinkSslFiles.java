package org.metisfl.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.metisfl.transport.DevCertificates;
import org.metisfl.transport.PemFiles;

/**
 * The keystores of Flink's own SSL for a development cluster ({@code bin/flink-cluster start
 * --ssl}), made with the development CA's tooling (REST: issued by the CA):
 *
 * <ul>
 *   <li>{@code internal.p12}: the key and certificate every JobManager and TaskManager presents on
 *       its internal connections (RPC, data exchange, blob server), and {@code internal-trust.p12},
 *       which trusts that one certificate only (not the CA, which also signs learner certificates:
 *       a learner's certificate never opens an internal connection);
 *   <li>{@code rest.p12}: the REST endpoint's key and certificate (localhost, 127.0.0.1 and each
 *       host), and {@code rest-trust.p12} with the CA (Flink's own REST clients); the CLI checks
 *       the endpoint against the CA's PEM file;
 *   <li>{@code password}: the stores' random password, readable by the owner only.
 * </ul>
 */
final class FlinkSslFiles {
    static final String INTERNAL = "internal.p12";
    static final String INTERNAL_TRUST = "internal-trust.p12";
    static final String REST = "rest.p12";
    static final String REST_TRUST = "rest-trust.p12";
    static final String PASSWORD = "password";

    private FlinkSslFiles() {}

    /** Creates the files in {@code dir} (replacing earlier ones) from the CA of {@code pki}. */
    static void create(DevCertificates pki, Path dir, List<String> hosts, Duration validity)
            throws IOException, GeneralSecurityException {
        Files.createDirectories(dir);
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        char[] password =
                Base64.getUrlEncoder().withoutPadding().encodeToString(random).toCharArray();
        ownerOnly(Files.writeString(dir.resolve(PASSWORD), new String(password) + "\n"));

        X509Certificate ca =
                PemFiles.certificates(pki.caCertificate(), "CA certificate", Instant.now()).get(0);
        Path pem = dir.resolve("pem");
        Files.createDirectories(pem);
        // Self-signed, not of the CA: the internal trust store must hold exactly the certificate
        // the peers present (a JSSE client offers its certificate only to a server that names its
        // issuer), and the CA also signs learner certificates.
        DevCertificates.selfSigned(
                "metisfl-flink-internal",
                List.of("localhost", "127.0.0.1"),
                validity,
                pem.resolve("internal.pem"),
                pem.resolve("internal.key"));
        List<String> restNames = new java.util.ArrayList<>(List.of("localhost", "127.0.0.1"));
        hosts.stream().filter(h -> !restNames.contains(h)).forEach(restNames::add);
        pki.issueService(
                "metisfl-flink-rest",
                restNames,
                false,
                validity,
                pem.resolve("rest.pem"),
                pem.resolve("rest.key"));

        X509Certificate internal = leaf(pem.resolve("internal.pem"));
        keyStore(dir.resolve(INTERNAL), pem.resolve("internal.key"), internal, null, password);
        trustStore(dir.resolve(INTERNAL_TRUST), internal, password);
        keyStore(
                dir.resolve(REST),
                pem.resolve("rest.key"),
                leaf(pem.resolve("rest.pem")),
                ca,
                password);
        trustStore(dir.resolve(REST_TRUST), ca, password);
        Files.copy(
                pki.caCertificate(),
                dir.resolve("ca.pem"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        // The PEM keys are in the stores now.
        Files.delete(pem.resolve("internal.key"));
        Files.delete(pem.resolve("rest.key"));
    }

    private static X509Certificate leaf(Path pem) {
        return PemFiles.certificates(pem, "certificate", Instant.now()).get(0);
    }

    private static void keyStore(
            Path file, Path keyPem, X509Certificate cert, X509Certificate ca, char[] password)
            throws IOException, GeneralSecurityException {
        PrivateKey key = PemFiles.privateKey(keyPem, "private key");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(
                "flink",
                key,
                password,
                ca == null ? new Certificate[] {cert} : new Certificate[] {cert, ca});
        write(ks, file, password);
    }

    private static void trustStore(Path file, X509Certificate trusted, char[] password)
            throws IOException, GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("trusted", trusted);
        write(ks, file, password);
    }

    private static void write(KeyStore ks, Path file, char[] password)
            throws IOException, GeneralSecurityException {
        Files.deleteIfExists(file);
        Files.createFile(file);
        ownerOnly(file);
        try (OutputStream out = Files.newOutputStream(file)) {
            ks.store(out, password);
        }
    }

    private static Path ownerOnly(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException notPosix) {
            // no POSIX permissions on this file system
        }
        return file;
    }

    /** The password of the stores in {@code dir}. */
    static String password(Path dir) throws IOException {
        return Files.readString(dir.resolve(PASSWORD), StandardCharsets.US_ASCII).strip();
    }
}
