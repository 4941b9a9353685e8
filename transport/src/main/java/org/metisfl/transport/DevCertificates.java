package org.metisfl.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Creates a development public-key infrastructure in a folder: a CA, a gateway certificate for the
 * given host names and addresses, a control certificate for the job's own model sink, and one
 * client certificate per learner (its common name is the learner's identity under mutual TLS).
 * ECDSA P-256 with SHA-256, keys in PKCS#8 PEM readable by their owner only.
 *
 * <p>For development and tests: a production federation takes its certificates from the
 * organisation's own CA. Layout of the folder:
 *
 * <pre>
 * ca.pem  ca.key                     the CA (keep ca.key away from the job and the learners)
 * gateway.pem  gateway.key           the learner port's certificate (TLS server)
 * control.pem  control.key           the model sink's client certificate (control endpoint)
 * learners/NAME.pem  learners/NAME.key   a learner's client certificate (mutual TLS)
 * </pre>
 */
public final class DevCertificates {
    /** Names a learner certificate may have: they become file names and log fields. */
    public static final Pattern LEARNER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** The common name of the control certificate; the control endpoint admits only it. */
    public static final String CONTROL_IDENTITY = "metisfl-control";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path dir;

    private DevCertificates(Path dir) {
        this.dir = dir;
    }

    /** The development PKI in {@code dir} (which may not exist yet). */
    public static DevCertificates in(Path dir) {
        return new DevCertificates(dir);
    }

    public Path caCertificate() {
        return dir.resolve("ca.pem");
    }

    public Path caKey() {
        return dir.resolve("ca.key");
    }

    public Path gatewayCertificate() {
        return dir.resolve("gateway.pem");
    }

    public Path gatewayKey() {
        return dir.resolve("gateway.key");
    }

    public Path controlCertificate() {
        return dir.resolve("control.pem");
    }

    public Path controlKey() {
        return dir.resolve("control.key");
    }

    public Path learnerCertificate(String name) {
        return dir.resolve("learners").resolve(checkName(name) + ".pem");
    }

    public Path learnerKey(String name) {
        return dir.resolve("learners").resolve(checkName(name) + ".key");
    }

    public boolean exists() {
        return Files.isRegularFile(caCertificate()) && Files.isRegularFile(caKey());
    }

    /**
     * Creates the CA, the gateway certificate (for {@code hosts}, plus localhost and 127.0.0.1) and
     * the control certificate, valid for {@code validity}. Refuses to overwrite an existing CA.
     */
    public void createAuthority(List<String> hosts, Duration validity) {
        if (exists()) {
            throw new TransportConfigException(
                    "a development CA already exists in "
                            + dir
                            + ": reuse it, or delete the folder to start over");
        }
        try {
            Files.createDirectories(dir);
            KeyPair ca = newKeyPair();
            X500Name caName = name("MetisFL development CA");
            Instant now = Instant.now();
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b =
                    new JcaX509v3CertificateBuilder(
                            caName,
                            serial(),
                            Date.from(now.minus(Duration.ofMinutes(5))),
                            Date.from(now.plus(validity)),
                            caName,
                            ca.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(
                    Extension.subjectKeyIdentifier,
                    false,
                    ext.createSubjectKeyIdentifier(ca.getPublic()));
            X509Certificate caCert = sign(b, ca.getPrivate());
            writeCertificate(caCertificate(), caCert);
            writeKey(caKey(), ca.getPrivate());

            List<String> names = new ArrayList<>(List.of("localhost", "127.0.0.1"));
            for (String h : hosts) {
                if (!names.contains(h)) {
                    names.add(h);
                }
            }
            issue(
                    "metisfl-gateway",
                    names,
                    KeyPurposeId.id_kp_serverAuth,
                    validity,
                    gatewayCertificate(),
                    gatewayKey());
            issue(
                    CONTROL_IDENTITY,
                    List.of(),
                    KeyPurposeId.id_kp_clientAuth,
                    validity,
                    controlCertificate(),
                    controlKey());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write certificates to " + dir, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot create the development CA", e);
        }
    }

    /** Issues a learner's client certificate with common name {@code name}. */
    public void issueLearner(String name, Duration validity) {
        checkName(name);
        if (CONTROL_IDENTITY.equals(name)) {
            throw new TransportConfigException(
                    "'" + CONTROL_IDENTITY + "' is reserved for the job's control certificate");
        }
        if (!exists()) {
            throw new TransportConfigException(
                    "no development CA in " + dir + ": create it first with `bin/metisfl certs`");
        }
        issue(
                name,
                List.of(),
                KeyPurposeId.id_kp_clientAuth,
                validity,
                learnerCertificate(name),
                learnerKey(name));
    }

    /**
     * Issues a certificate of this CA for one of the cluster's own services, e.g. Flink's REST
     * endpoint ({@code client} false: server authentication) or its internal connections ({@code
     * client} true: server and client authentication), valid for {@code altNames}.
     */
    public void issueService(
            String commonName,
            List<String> altNames,
            boolean client,
            Duration validity,
            Path certFile,
            Path keyFile) {
        checkName(commonName);
        if (!exists()) {
            throw new TransportConfigException(
                    "no development CA in " + dir + ": create it first with `bin/metisfl certs`");
        }
        if (client) {
            issue(
                    commonName,
                    altNames,
                    validity,
                    certFile,
                    keyFile,
                    KeyPurposeId.id_kp_serverAuth,
                    KeyPurposeId.id_kp_clientAuth);
        } else {
            issue(commonName, altNames, validity, certFile, keyFile, KeyPurposeId.id_kp_serverAuth);
        }
    }

    /**
     * A self-signed certificate (server and client authentication) and its key, apart from any CA:
     * for a closed group of peers that trust exactly this certificate, such as Flink's internal
     * connections (a certificate of a shared CA would let every other holder of one in).
     */
    public static void selfSigned(
            String commonName,
            List<String> altNames,
            Duration validity,
            Path certFile,
            Path keyFile) {
        checkName(commonName);
        try {
            KeyPair pair = newKeyPair();
            X500Name subject = name(commonName);
            Instant now = Instant.now();
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b =
                    new JcaX509v3CertificateBuilder(
                            subject,
                            serial(),
                            Date.from(now.minus(Duration.ofMinutes(5))),
                            Date.from(now.plus(validity)),
                            subject,
                            pair.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(
                    Extension.extendedKeyUsage,
                    false,
                    new ExtendedKeyUsage(
                            new KeyPurposeId[] {
                                KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
                            }));
            b.addExtension(
                    Extension.subjectKeyIdentifier,
                    false,
                    ext.createSubjectKeyIdentifier(pair.getPublic()));
            addAltNames(b, altNames);
            Files.createDirectories(certFile.toAbsolutePath().getParent());
            writeCertificate(certFile, sign(b, pair.getPrivate()));
            writeKey(keyFile, pair.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(
                    "cannot make a self-signed certificate for " + commonName, e);
        }
    }

    private void issue(
            String commonName,
            List<String> altNames,
            KeyPurposeId purpose,
            Duration validity,
            Path certFile,
            Path keyFile) {
        issue(commonName, altNames, validity, certFile, keyFile, purpose);
    }

    private void issue(
            String commonName,
            List<String> altNames,
            Duration validity,
            Path certFile,
            Path keyFile,
            KeyPurposeId... purposes) {
        try {
            X509Certificate caCert =
                    PemFiles.certificates(caCertificate(), "CA certificate", Instant.now()).get(0);
            PrivateKey caKey = PemFiles.privateKey(caKey(), "CA private key");
            KeyPair leaf = newKeyPair();
            Instant now = Instant.now();
            Instant notAfter = now.plus(validity);
            if (notAfter.isAfter(caCert.getNotAfter().toInstant())) {
                notAfter = caCert.getNotAfter().toInstant();
            }
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b =
                    new JcaX509v3CertificateBuilder(
                            caCert,
                            serial(),
                            Date.from(now.minus(Duration.ofMinutes(5))),
                            Date.from(notAfter),
                            name(commonName),
                            leaf.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purposes));
            b.addExtension(
                    Extension.authorityKeyIdentifier,
                    false,
                    ext.createAuthorityKeyIdentifier(caCert));
            b.addExtension(
                    Extension.subjectKeyIdentifier,
                    false,
                    ext.createSubjectKeyIdentifier(leaf.getPublic()));
            addAltNames(b, altNames);
            Files.createDirectories(certFile.getParent());
            writeCertificate(certFile, sign(b, caKey));
            writeKey(keyFile, leaf.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot issue a certificate for " + commonName, e);
        }
    }

    private static String checkName(String name) {
        if (name == null || !LEARNER_NAME.matcher(name).matches()) {
            throw new TransportConfigException(
                    "certificate name '"
                            + name
                            + "' is not allowed: use 1-64 letters, digits, '.', '_' or '-',"
                            + " starting with a letter or digit");
        }
        return name;
    }

    /** The subject alternative names: IP addresses as such, the rest as DNS names. */
    private static void addAltNames(X509v3CertificateBuilder b, List<String> altNames)
            throws java.io.IOException {
        if (altNames.isEmpty()) {
            return;
        }
        GeneralName[] san = new GeneralName[altNames.size()];
        for (int i = 0; i < san.length; i++) {
            String n = altNames.get(i);
            san[i] =
                    isAddress(n)
                            ? new GeneralName(GeneralName.iPAddress, n)
                            : new GeneralName(GeneralName.dNSName, n);
        }
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(san));
    }

    private static boolean isAddress(String host) {
        if (!host.matches("[0-9.]+") && !host.contains(":")) {
            return false;
        }
        try {
            InetAddress.getByName(host);
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static X500Name name(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "MetisFL development")
                .addRDN(BCStyle.CN, commonName)
                .build();
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
            throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter()
                    .getCertificate(
                            b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign the certificate", e);
        }
    }

    private static void writeCertificate(Path file, X509Certificate cert)
            throws IOException, GeneralSecurityException {
        Files.writeString(file, pem("CERTIFICATE", cert.getEncoded()), StandardCharsets.US_ASCII);
    }

    private static void writeKey(Path file, PrivateKey key) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file);
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException notPosix) {
            // the file system has no POSIX permissions; the folder's own protection applies
        }
        Files.writeString(file, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
    }

    private static String pem(String type, byte[] der) {
        String body =
                Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der);
        return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
    }
}
