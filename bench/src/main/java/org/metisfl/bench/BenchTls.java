package org.metisfl.bench;

import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.metisfl.transport.DevCertificates;
import org.metisfl.transport.PemFiles;
import org.metisfl.transport.TransportSecurity;

/**
 * The TLS side of the benchmarks: a development CA and gateway certificate made with the project's
 * own certificate code ({@link DevCertificates}, as `bin/metisfl certs` and the quickstart make
 * them) in the benchmark's work folder, and the settings each end needs: the job's {@code
 * security.tls.*} keys, the simulated learners' channel security (TLS trusting that CA), the
 * discarding gateway's server security, and JDK SSL contexts for the loopback-TCP bound.
 */
final class BenchTls {
    private final DevCertificates pki;

    private BenchTls(DevCertificates pki) {
        this.pki = pki;
    }

    /** The development PKI in {@code dir}, created if missing. */
    static BenchTls in(Path dir) {
        DevCertificates pki = DevCertificates.in(dir);
        if (!pki.exists()) {
            pki.createAuthority(List.of(), Duration.ofDays(30));
        }
        return new BenchTls(pki);
    }

    /** The job's settings for a TLS learner port (server authentication, as the quickstart). */
    Map<String, String> jobSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("security.tls.certificate", pki.gatewayCertificate().toAbsolutePath().toString());
        m.put("security.tls.private-key", pki.gatewayKey().toAbsolutePath().toString());
        return m;
    }

    /** How a simulated learner connects: TLS, trusting the development CA. */
    TransportSecurity learnerTransport() {
        return TransportSecurity.builder()
                .mode(TransportSecurity.Mode.TLS)
                .trustRoots(pki.caCertificate())
                .build();
    }

    /** The discarding gateway's port: TLS with the gateway certificate, like the job's. */
    TransportSecurity serverTransport() {
        return TransportSecurity.builder()
                .mode(TransportSecurity.Mode.TLS)
                .certificateChain(pki.gatewayCertificate())
                .privateKey(pki.gatewayKey())
                .build();
    }

    /** Arguments that hand the server's certificate and key to a child process. */
    List<String> serverFiles() {
        return List.of(
                pki.gatewayCertificate().toAbsolutePath().toString(),
                pki.gatewayKey().toAbsolutePath().toString());
    }

    /** A JDK (JSSE) server context from a PEM certificate chain and PKCS#8 key. */
    static SSLContext serverContext(Path chain, Path key) throws Exception {
        List<X509Certificate> certs = PemFiles.certificates(chain, "certificate", Instant.now());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        char[] pw = "bench".toCharArray();
        ks.setKeyEntry(
                "gateway",
                PemFiles.privateKey(key, "private key"),
                pw,
                certs.toArray(new Certificate[0]));
        KeyManagerFactory kmf =
                KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(kmf.getKeyManagers(), null, null);
        return c;
    }

    /** A JDK (JSSE) client context trusting the development CA. */
    SSLContext clientContext() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry(
                "ca", PemFiles.certificates(pki.caCertificate(), "CA", Instant.now()).get(0));
        TrustManagerFactory tmf =
                TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, tmf.getTrustManagers(), null);
        return c;
    }
}
