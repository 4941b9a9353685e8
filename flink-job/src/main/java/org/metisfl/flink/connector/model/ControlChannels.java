package org.metisfl.flink.connector.model;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import org.metisfl.flink.connector.gateway.security.PinnedCertificateTrust;
import org.metisfl.flink.model.Directive;
import org.metisfl.transport.BearerToken;

/**
 * How the model sink reaches a gateway's control endpoint: TLS that trusts only the certificate the
 * gateway announced (by its fingerprint), and the gateway's control credential as call credentials.
 */
final class ControlChannels {
    private ControlChannels() {}

    static ChannelCredentials credentials(Directive announce) {
        return TlsChannelCredentials.newBuilder()
                .trustManager(new PinnedCertificateTrust(announce.controlFingerprint))
                .build();
    }

    static CallCredentials callCredentials(String controlToken) {
        return BearerToken.credentials(() -> controlToken, false);
    }
}
