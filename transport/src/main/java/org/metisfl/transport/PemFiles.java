package org.metisfl.transport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and checks PEM certificates and private keys with the JDK, so that a wrong file is refused
 * when a component starts, with the file and the fix named, instead of failing a TLS handshake
 * later with a message about ciphers.
 */
public final class PemFiles {
    private static final Pattern BLOCK =
            Pattern.compile(
                    "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");

    private PemFiles() {}

    /** The certificates of a PEM file, leaf first; checks that each is valid at {@code now}. */
    public static List<X509Certificate> certificates(Path file, String what, Instant now) {
        String text = read(file, what);
        List<X509Certificate> certs = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            while (m.find()) {
                if (!m.group(1).equals("CERTIFICATE")) {
                    continue;
                }
                byte[] der = Base64.getMimeDecoder().decode(m.group(2));
                X509Certificate c =
                        (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der));
                checkValidity(c, file, what, now);
                certs.add(c);
            }
        } catch (CertificateException | IllegalArgumentException e) {
            throw new TransportConfigException(
                    what
                            + " "
                            + file
                            + " holds a malformed certificate ("
                            + e.getMessage()
                            + "): use a PEM file of X.509 certificates, e.g. from `metisfl certs`");
        }
        if (certs.isEmpty()) {
            throw new TransportConfigException(
                    what
                            + " "
                            + file
                            + " holds no '-----BEGIN CERTIFICATE-----' block: give a PEM"
                            + " certificate file (`metisfl certs` creates one for development)");
        }
        return certs;
    }

    /** The PKCS#8 private key of a PEM file (EC or RSA). */
    public static PrivateKey privateKey(Path file, String what) {
        String text = read(file, what);
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            String type = m.group(1);
            if (type.equals("RSA PRIVATE KEY") || type.equals("EC PRIVATE KEY")) {
                throw new TransportConfigException(
                        what
                                + " "
                                + file
                                + " is a '"
                                + type
                                + "' (PKCS#1/SEC1) key: convert it to PKCS#8 with `openssl pkcs8"
                                + " -topk8 -nocrypt -in KEY -out KEY.pk8`");
            }
            if (type.equals("ENCRYPTED PRIVATE KEY")) {
                throw new TransportConfigException(
                        what
                                + " "
                                + file
                                + " is encrypted: give an unencrypted PKCS#8 key file readable only"
                                + " by the service's user");
            }
            if (!type.equals("PRIVATE KEY")) {
                continue;
            }
            byte[] der;
            try {
                der = Base64.getMimeDecoder().decode(m.group(2));
            } catch (IllegalArgumentException e) {
                throw new TransportConfigException(what + " " + file + " is not valid base64 PEM");
            }
            for (String algorithm : new String[] {"EC", "RSA", "Ed25519"}) {
                try {
                    return KeyFactory.getInstance(algorithm)
                            .generatePrivate(new PKCS8EncodedKeySpec(der));
                } catch (GeneralSecurityException tryNext) {
                    // not this algorithm
                }
            }
            throw new TransportConfigException(
                    what + " " + file + " holds a PKCS#8 key that is neither EC, RSA nor Ed25519");
        }
        throw new TransportConfigException(
                what
                        + " "
                        + file
                        + " holds no '-----BEGIN PRIVATE KEY-----' block: give the PKCS#8 PEM key"
                        + " that belongs to the certificate");
    }

    /** Refuses a key that does not belong to the certificate (a common mix-up of files). */
    public static void checkKeyMatches(
            X509Certificate cert, PrivateKey key, Path certFile, Path keyFile) {
        PublicKey pub = cert.getPublicKey();
        if (!pub.getAlgorithm().equals(key.getAlgorithm())
                && !(pub.getAlgorithm().equals("EC") && key.getAlgorithm().equals("ECDSA"))) {
            throw mismatch(certFile, keyFile);
        }
        String algorithm =
                switch (pub.getAlgorithm()) {
                    case "EC" -> "SHA256withECDSA";
                    case "RSA" -> "SHA256withRSA";
                    default -> "Ed25519";
                };
        try {
            byte[] probe = "metisfl key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] sig = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(pub);
            verifier.update(probe);
            if (!verifier.verify(sig)) {
                throw mismatch(certFile, keyFile);
            }
        } catch (GeneralSecurityException e) {
            throw mismatch(certFile, keyFile);
        }
    }

    private static TransportConfigException mismatch(Path certFile, Path keyFile) {
        return new TransportConfigException(
                "private key "
                        + keyFile
                        + " does not belong to certificate "
                        + certFile
                        + ": give the key the certificate was issued for");
    }

    private static void checkValidity(X509Certificate c, Path file, String what, Instant now) {
        try {
            c.checkValidity(Date.from(now));
        } catch (CertificateExpiredException e) {
            throw new TransportConfigException(
                    what
                            + " "
                            + file
                            + " expired on "
                            + c.getNotAfter().toInstant()
                            + " ("
                            + c.getSubjectX500Principal().getName()
                            + "): issue a new certificate");
        } catch (CertificateNotYetValidException e) {
            throw new TransportConfigException(
                    what
                            + " "
                            + file
                            + " is not valid before "
                            + c.getNotBefore().toInstant()
                            + ": check the machine's clock or the certificate");
        }
    }

    private static String read(Path file, String what) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new TransportConfigException(
                    what
                            + " "
                            + file
                            + " does not exist: create development certificates with `bin/metisfl"
                            + " certs`, or point the setting to your PEM file");
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new TransportConfigException(
                    "cannot read " + what + " " + file + ": " + e.getMessage());
        }
    }
}
