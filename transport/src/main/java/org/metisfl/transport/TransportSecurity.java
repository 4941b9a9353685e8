package org.metisfl.transport;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * How one end of a gRPC connection protects it: TLS (the server proves who it is), mutual TLS (both
 * ends do, and a client's identity is the common name of its certificate), or no protection at all
 * for local development. The one place where the gateway, the learners, the model sink, the health
 * check and the CLI get their gRPC credentials, so no component calls {@code usePlaintext()} on its
 * own.
 *
 * <p>It holds file paths, never key material, so it can travel in a job's configuration without
 * putting a key in the web UI: each end reads its files where it runs, and refuses wrong files when
 * it starts, with the file and the fix named.
 *
 * <pre>{@code
 * TransportSecurity server = TransportSecurity.builder()
 *         .mode(Mode.MUTUAL_TLS)
 *         .certificateChain(Path.of("certs/gateway.pem"))
 *         .privateKey(Path.of("certs/gateway.key"))
 *         .trustRoots(Path.of("certs/ca.pem"))
 *         .build();
 * Server s = NettyServerBuilder.forAddress(address, server.serverCredentials())...;
 * }</pre>
 */
public final class TransportSecurity implements Serializable {
    private static final long serialVersionUID = 1L;

    /** What a connection proves and protects. */
    public enum Mode {
        /** Plaintext: anyone on the network reads and forges traffic. Local development only. */
        INSECURE,
        /** Encrypted; the server proves its identity with a certificate. */
        TLS,
        /** Encrypted; both ends prove their identity with certificates from the trust roots. */
        MUTUAL_TLS
    }

    private final Mode mode;
    private final String certificateChain;
    private final String privateKey;
    private final String trustRoots;

    private TransportSecurity(Builder b) {
        this.mode = b.mode;
        this.certificateChain = b.certificateChain == null ? null : b.certificateChain.toString();
        this.privateKey = b.privateKey == null ? null : b.privateKey.toString();
        this.trustRoots = b.trustRoots == null ? null : b.trustRoots.toString();
    }

    /** Plaintext, for local development and tests of other things. */
    public static TransportSecurity insecure() {
        return builder().mode(Mode.INSECURE).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Mode mode() {
        return mode;
    }

    public boolean isInsecure() {
        return mode == Mode.INSECURE;
    }

    /** This end's certificate chain file, if it has one. */
    public java.util.Optional<Path> certificateChainFile() {
        return java.util.Optional.ofNullable(certificateChain).map(Path::of);
    }

    /** The credentials of a server; reads and checks its files now. */
    public ServerCredentials serverCredentials() {
        if (mode == Mode.INSECURE) {
            return InsecureServerCredentials.create();
        }
        Path chain = required(certificateChain, "certificate chain", "the server's");
        Path key = required(privateKey, "private key", "the server's");
        checkPair(chain, key, "server certificate chain", "server private key");
        try {
            TlsServerCredentials.Builder b =
                    TlsServerCredentials.newBuilder().keyManager(chain.toFile(), key.toFile());
            if (mode == Mode.MUTUAL_TLS) {
                Path roots = required(trustRoots, "trust roots", "the clients' CA for");
                PemFiles.certificates(roots, "client trust roots", Instant.now());
                b.trustManager(roots.toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return b.build();
        } catch (IOException e) {
            throw new TransportConfigException("cannot load TLS server files: " + e.getMessage());
        }
    }

    /** The credentials of a client; reads and checks its files now. */
    public ChannelCredentials channelCredentials() {
        if (mode == Mode.INSECURE) {
            return InsecureChannelCredentials.create();
        }
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
            if (trustRoots != null) {
                Path roots = Path.of(trustRoots);
                PemFiles.certificates(roots, "server trust roots", Instant.now());
                b.trustManager(roots.toFile());
            }
            if (mode == Mode.MUTUAL_TLS) {
                Path chain = required(certificateChain, "certificate chain", "the client's");
                Path key = required(privateKey, "private key", "the client's");
                checkPair(chain, key, "client certificate chain", "client private key");
                b.keyManager(chain.toFile(), key.toFile());
            }
            return b.build();
        } catch (IOException e) {
            throw new TransportConfigException("cannot load TLS client files: " + e.getMessage());
        }
    }

    /** One line for logs: the mode and the files, never their content. */
    public String describe() {
        if (mode == Mode.INSECURE) {
            return "INSECURE plaintext (development only: traffic can be read and forged)";
        }
        return mode
                + " (certificate "
                + (certificateChain == null ? "-" : certificateChain)
                + ", trust roots "
                + (trustRoots == null ? "system default" : trustRoots)
                + ")";
    }

    private static Path required(String file, String what, String whose) {
        if (file == null) {
            throw new TransportConfigException(
                    "TLS needs "
                            + whose
                            + " "
                            + what
                            + " (a PEM file): set it, create development files with `bin/metisfl"
                            + " certs`, or choose insecure mode for local development only");
        }
        return Path.of(file);
    }

    private static void checkPair(Path chain, Path key, String chainWhat, String keyWhat) {
        List<X509Certificate> certs = PemFiles.certificates(chain, chainWhat, Instant.now());
        PrivateKey k = PemFiles.privateKey(key, keyWhat);
        PemFiles.checkKeyMatches(certs.get(0), k, chain, key);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TransportSecurity t
                && t.mode == mode
                && Objects.equals(t.certificateChain, certificateChain)
                && Objects.equals(t.privateKey, privateKey)
                && Objects.equals(t.trustRoots, trustRoots);
    }

    @Override
    public int hashCode() {
        return Objects.hash(mode, certificateChain, privateKey, trustRoots);
    }

    @Override
    public String toString() {
        return "TransportSecurity{" + describe() + "}";
    }

    /** Builds a {@link TransportSecurity}; {@link #build()} checks that the mode has its files. */
    public static final class Builder {
        private Mode mode = Mode.TLS;
        private Path certificateChain;
        private Path privateKey;
        private Path trustRoots;

        private Builder() {}

        public Builder mode(Mode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /** This end's own certificate chain (PEM, leaf first): servers, and clients under mTLS. */
        public Builder certificateChain(Path file) {
            this.certificateChain = file;
            return this;
        }

        /** The PKCS#8 PEM private key of {@link #certificateChain}. */
        public Builder privateKey(Path file) {
            this.privateKey = file;
            return this;
        }

        /**
         * The CA certificates this end trusts (PEM): a client checks the server against them (the
         * system's roots when unset); a server under mTLS checks its clients against them.
         */
        public Builder trustRoots(Path file) {
            this.trustRoots = file;
            return this;
        }

        public TransportSecurity build() {
            if ((certificateChain == null) != (privateKey == null)) {
                throw new TransportConfigException(
                        "a certificate chain needs its private key and a private key its"
                                + " certificate chain: set both or neither");
            }
            if (mode == Mode.INSECURE
                    && (certificateChain != null || privateKey != null || trustRoots != null)) {
                throw new TransportConfigException(
                        "insecure mode ignores certificate files: remove them, or choose TLS or"
                                + " MUTUAL_TLS to use them");
            }
            return new TransportSecurity(this);
        }
    }
}
