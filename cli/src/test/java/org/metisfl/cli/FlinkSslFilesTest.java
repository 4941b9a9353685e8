package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.transport.DevCertificates;
import org.metisfl.transport.PemFiles;

class FlinkSslFilesTest {
    @TempDir Path dir;

    private static KeyStore load(Path file, String password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            ks.load(in, password.toCharArray());
        }
        return ks;
    }

    @Test
    void restIsIssuedByTheCaAndTheInternalTrustHoldsOnlyTheSelfSignedInternalCertificate()
            throws Exception {
        DevCertificates pki = DevCertificates.in(dir.resolve("certs"));
        pki.createAuthority(List.of(), Duration.ofDays(2));
        Path ssl = dir.resolve("ssl");
        FlinkSslFiles.create(pki, ssl, List.of("fl.example.org"), Duration.ofDays(1));
        String password = FlinkSslFiles.password(ssl);
        assertThat(password).hasSizeGreaterThanOrEqualTo(32);
        X509Certificate ca = PemFiles.certificates(pki.caCertificate(), "CA", Instant.now()).get(0);

        KeyStore internal = load(ssl.resolve(FlinkSslFiles.INTERNAL), password);
        X509Certificate internalCert = (X509Certificate) internal.getCertificate("flink");
        internalCert.verify(internalCert.getPublicKey()); // self-signed
        assertThat(internal.getCertificateChain("flink")).hasSize(1);
        assertThat(internalCert.getExtendedKeyUsage())
                .contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"); // server and client
        assertThat(internal.getKey("flink", password.toCharArray())).isNotNull();

        KeyStore internalTrust = load(ssl.resolve(FlinkSslFiles.INTERNAL_TRUST), password);
        assertThat(Collections.list(internalTrust.aliases())).hasSize(1);
        assertThat(internalTrust.getCertificate("trusted"))
                .as("the internal certificate itself, not the CA that also signs learners")
                .isEqualTo(internalCert)
                .isNotEqualTo(ca);

        KeyStore rest = load(ssl.resolve(FlinkSslFiles.REST), password);
        X509Certificate restCert = (X509Certificate) rest.getCertificate("flink");
        restCert.verify(ca.getPublicKey());
        assertThat(restCert.getSubjectAlternativeNames())
                .extracting(n -> String.valueOf(n.get(1)))
                .contains("localhost", "127.0.0.1", "fl.example.org");
        KeyStore restTrust = load(ssl.resolve(FlinkSslFiles.REST_TRUST), password);
        assertThat(restTrust.getCertificate("trusted")).isEqualTo(ca);

        assertThat(Files.readString(ssl.resolve("ca.pem")))
                .isEqualTo(Files.readString(pki.caCertificate()));
        assertThat(Files.exists(ssl.resolve("pem").resolve("rest.key"))).isFalse();
        for (String f :
                List.of(
                        FlinkSslFiles.PASSWORD,
                        FlinkSslFiles.INTERNAL,
                        FlinkSslFiles.REST,
                        FlinkSslFiles.INTERNAL_TRUST,
                        FlinkSslFiles.REST_TRUST)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ssl.resolve(f))))
                    .as(f)
                    .isEqualTo("rw-------");
        }
    }

    @Test
    void aClusterCaThatIsNotPemIsRefusedWithItsName() throws Exception {
        Path bad = Files.writeString(dir.resolve("ca.pem"), "not a certificate");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FlinkRestClient.trusting(bad))
                .isInstanceOf(CliException.class)
                .hasMessageContaining(bad.toString());
    }
}
