package org.metisfl.flink.security;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.net.Socket;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS for a test client that trusts any server certificate and checks no host name (the trust
 * manager is an extended one, so the JDK adds no check of its own): for tests of what the gateway
 * does with a credential or with what it receives, not of its identity.
 */
final class AnyCertificate {
    private AnyCertificate() {}

    /** Channel credentials with {@link #trustManager()}. */
    static ChannelCredentials channelCredentials() {
        return TlsChannelCredentials.newBuilder().trustManager(trustManager()).build();
    }

    /** A trust manager that accepts every certificate chain. */
    static X509ExtendedTrustManager trustManager() {
        return new X509ExtendedTrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] c, String a) {}

            @Override
            public void checkServerTrusted(X509Certificate[] c, String a) {}

            @Override
            public void checkClientTrusted(X509Certificate[] c, String a, Socket s) {}

            @Override
            public void checkServerTrusted(X509Certificate[] c, String a, Socket s) {}

            @Override
            public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) {}

            @Override
            public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) {}

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
    }
}
