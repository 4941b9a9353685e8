package org.metisfl.flink.connector.gateway.security;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The key and self-signed certificate a gateway's control endpoint serves TLS with: made fresh
 * (ECDSA P-256) each time a gateway starts, never written anywhere. The gateway announces the
 * certificate's SHA-256 fingerprint inside the job, and the model sink accepts only that
 * certificate ({@link PinnedCertificateTrust}), so no PKI is needed for the job's own traffic.
 */
public final class ControlCertificate {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate certificate;
    private final byte[] keyPem;
    private final byte[] certificatePem;

    private ControlCertificate(X509Certificate certificate, byte[] keyPem, byte[] certificatePem) {
        this.certificate = certificate;
        this.keyPem = keyPem;
        this.certificatePem = certificatePem;
    }

    /** A new key and certificate, valid for {@code validity}. */
    public static ControlCertificate generate(Duration validity) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            KeyPair pair = g.generateKeyPair();
            X500Name name = new X500Name("CN=metisfl-gateway-control");
            Instant now = Instant.now();
            X509Certificate cert =
                    new JcaX509CertificateConverter()
                            .getCertificate(
                                    new JcaX509v3CertificateBuilder(
                                                    name,
                                                    new BigInteger(127, RANDOM).add(BigInteger.ONE),
                                                    Date.from(now.minus(Duration.ofMinutes(5))),
                                                    Date.from(now.plus(validity)),
                                                    name,
                                                    pair.getPublic())
                                            .build(
                                                    new JcaContentSignerBuilder("SHA256withECDSA")
                                                            .build(pair.getPrivate())));
            return new ControlCertificate(
                    cert,
                    pem("PRIVATE KEY", pair.getPrivate().getEncoded()),
                    pem("CERTIFICATE", cert.getEncoded()));
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot create the control endpoint's certificate", e);
        }
    }

    public InputStream certificateChain() {
        return new ByteArrayInputStream(certificatePem);
    }

    public InputStream privateKey() {
        return new ByteArrayInputStream(keyPem);
    }

    /** Hex SHA-256 of the certificate's DER encoding. */
    public String fingerprint() {
        return fingerprintOf(certificate);
    }

    static String fingerprintOf(X509Certificate cert) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }

    private static byte[] pem(String type, byte[] der) throws CertificateEncodingException {
        String body =
                Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der);
        return ("-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n")
                .getBytes(StandardCharsets.US_ASCII);
    }
}
