package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.transport.DevCertificates;
import org.metisfl.transport.TransportSecurity;

/** The simulated learners over TLS: real certificates, real gRPC on 127.0.0.1. */
class TlsSimulationTest {

    private static final int VALUES = 10_000;

    @TempDir static Path dir;
    private static DevCertificates pki;
    private static DevCertificates otherPki;

    @BeforeAll
    static void certificates() {
        pki = DevCertificates.in(dir.resolve("pki"));
        pki.createAuthority(List.of(), Duration.ofDays(1));
        otherPki = DevCertificates.in(dir.resolve("other"));
        otherPki.createAuthority(List.of(), Duration.ofDays(1));
    }

    private static TransportSecurity server() {
        return TransportSecurity.builder()
                .mode(TransportSecurity.Mode.TLS)
                .certificateChain(pki.gatewayCertificate())
                .privateKey(pki.gatewayKey())
                .build();
    }

    private static TransportSecurity trusting(DevCertificates ca) {
        return TransportSecurity.builder()
                .mode(TransportSecurity.Mode.TLS)
                .trustRoots(ca.caCertificate())
                .build();
    }

    @Test
    void learnersRunEveryRoundOverTlsAndTheGatewaySeesTheNegotiatedCipher() throws Exception {
        int learners = 6;
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(learners)
                                .rounds(2)
                                .modelValues(VALUES)
                                .transport(server())
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(learners)
                                .channels(2)
                                .modelValues(VALUES)
                                .chunkBytes(4096)
                                .transport(trusting(pki))
                                .timeout(Duration.ofSeconds(60))
                                .build()) {
            SimulationReport report = sim.run();

            assertThat(report.failures()).as("%s", report.failureSamples()).isZero();
            assertThat(report.shutdowns()).isEqualTo(learners);
            for (RoundTimeline r : report.rounds()) {
                assertThat(r.acks()).isEqualTo(learners);
                assertThat(r.bytesUploaded()).isEqualTo((long) learners * VALUES * 4);
            }
            assertThat(gateway.bytesReceived()).isEqualTo(2L * learners * VALUES * 4);
            assertThat(gateway.negotiatedTls()).startsWith("TLSv1.").contains("_");
        }
    }

    @Test
    void aPlaintextGatewayRecordsNoTlsSession() throws Exception {
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(1)
                                .modelValues(VALUES)
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(1)
                                .modelValues(VALUES)
                                .timeout(Duration.ofSeconds(30))
                                .build()) {
            assertThat(sim.run().failures()).isZero();
            assertThat(gateway.negotiatedTls()).isEmpty();
        }
    }

    @Test
    void plaintextLearnersAndLearnersTrustingAnotherCaAreRefusedByATlsGateway() throws Exception {
        try (DiscardingGateway gateway =
                DiscardingGateway.builder()
                        .participants(1)
                        .modelValues(VALUES)
                        .transport(server())
                        .build()
                        .start()) {
            for (TransportSecurity t : List.of(TransportSecurity.insecure(), trusting(otherPki))) {
                try (SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(1)
                                .modelValues(VALUES)
                                .transport(t)
                                .callTimeout(Duration.ofSeconds(5))
                                .timeout(Duration.ofSeconds(20))
                                .build()) {
                    SimulationReport report = sim.run();
                    assertThat(report.joined()).as("%s", t).isZero();
                    assertThat(report.failures()).as("%s", t).isEqualTo(1);
                }
                try (RawLearner l = new RawLearner("127.0.0.1", gateway.port(), t)) {
                    assertThatThrownBy(() -> l.join("raw", 10))
                            .isInstanceOf(StatusRuntimeException.class);
                }
            }
            assertThat(gateway.joins()).isZero();
            try (RawLearner l = new RawLearner("127.0.0.1", gateway.port(), trusting(pki))) {
                assertThat(l.join("raw", 10).getLearnerId()).isNotEmpty();
            }
            assertThat(gateway.joins()).isEqualTo(1);
        }
    }
}
