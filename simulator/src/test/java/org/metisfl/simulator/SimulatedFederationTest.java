package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class SimulatedFederationTest {

    private static final int VALUES = 10_000;

    @Test
    void runsEveryRoundOverSharedChannelsAndUploadsEveryByte() throws Exception {
        int learners = 50;
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(learners)
                                .rounds(3)
                                .modelValues(VALUES)
                                .evaluate(true)
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(learners)
                                .channels(4)
                                .modelValues(VALUES)
                                .chunkBytes(16 * 1024)
                                .timeout(Duration.ofSeconds(60))
                                .build()) {
            SimulationReport report = sim.run();

            assertThat(report.timedOut()).isFalse();
            assertThat(report.failures()).as("%s", report.failureSamples()).isZero();
            assertThat(report.joined()).isEqualTo(learners);
            assertThat(report.streamsOpened()).isEqualTo(learners);
            assertThat(report.shutdowns()).isEqualTo(learners);
            assertThat(report.shutdownReason()).isEqualTo("done");
            assertThat(report.rounds())
                    .extracting(RoundTimeline::round)
                    .containsExactly(1L, 2L, 3L);
            for (RoundTimeline r : report.rounds()) {
                assertThat(r.trainTasks()).isEqualTo(learners);
                assertThat(r.downloads()).isEqualTo(learners);
                assertThat(r.acks()).isEqualTo(learners);
                assertThat(r.bytesUploaded()).isEqualTo((long) learners * VALUES * 4);
                assertThat(r.bytesDownloaded()).isEqualTo((long) learners * VALUES * 4);
                assertThat(r.firstTaskAtUs()).isLessThanOrEqualTo(r.firstUploadStartUs());
                assertThat(r.lastUploadSentUs()).isLessThanOrEqualTo(r.lastAckAtUs());
            }
            assertThat(report.round(1).orElseThrow().evaluations()).isEqualTo(learners);
            // Acks and tasks travel on different streams and channels: only presence is certain.
            assertThat(report.tailAfterLastAckUs(1)).isPresent();
            assertThat(report.tailAfterLastAckUs(3)).isEmpty();
            assertThat(gateway.updates()).isEqualTo(3 * learners);
            assertThat(gateway.rejected()).isZero();
            assertThat(gateway.bytesReceived()).isEqualTo(3L * learners * VALUES * 4);
            assertThat(gateway.evaluations()).isEqualTo(2 * learners);
            assertThat(gateway.joins()).isEqualTo(learners);
        }
    }

    @Test
    void skipsTheModelDownloadAndBoundsConcurrentTransfersWhenAsked() throws Exception {
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(20)
                                .rounds(2)
                                .modelValues(VALUES)
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(20)
                                .channels(2)
                                .modelValues(VALUES)
                                .fetchModel(false)
                                .maxConcurrentTransfers(3)
                                .timeout(Duration.ofSeconds(60))
                                .build()) {
            SimulationReport report = sim.run();

            assertThat(report.failures()).as("%s", report.failureSamples()).isZero();
            assertThat(report.rounds()).hasSize(2);
            assertThat(report.rounds())
                    .allSatisfy(
                            r -> {
                                assertThat(r.downloads()).isZero();
                                assertThat(r.acks()).isEqualTo(20);
                            });
            assertThat(gateway.updates()).isEqualTo(40);
        }
    }

    @Test
    void idleRegisteredLearnersHoldStreamsAndReceiveTasksButNeverUpload() throws Exception {
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(30)
                                .uploadsPerRound(5)
                                .rounds(2)
                                .modelValues(VALUES)
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(30)
                                .trainingLearners(5)
                                .channels(3)
                                .modelValues(VALUES)
                                .timeout(Duration.ofSeconds(60))
                                .build()) {
            SimulationReport report = sim.run();

            assertThat(report.failures()).as("%s", report.failureSamples()).isZero();
            assertThat(report.shutdowns()).isEqualTo(30);
            assertThat(report.rounds())
                    .allSatisfy(
                            r -> {
                                assertThat(r.trainTasks()).isEqualTo(30);
                                assertThat(r.uploadsStarted()).isEqualTo(5);
                                assertThat(r.acks()).isEqualTo(5);
                            });
            assertThat(gateway.updates()).isEqualTo(10);
        }
    }

    @Test
    void endsAtItsTimeBoundWhenTheFederationNeverStarts() throws Exception {
        try (DiscardingGateway gateway =
                        DiscardingGateway.builder()
                                .participants(1_000)
                                .modelValues(VALUES)
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", gateway.port())
                                .learners(5)
                                .modelValues(VALUES)
                                .timeout(Duration.ofSeconds(2))
                                .build()) {
            long start = System.nanoTime();
            SimulationReport report = sim.run();

            assertThat(Duration.ofNanos(System.nanoTime() - start))
                    .isLessThan(Duration.ofSeconds(10));
            assertThat(report.timedOut()).isTrue();
            assertThat(report.joined()).isEqualTo(5);
            assertThat(report.rounds()).isEmpty();
            assertThat(report.failures()).isZero();
        }
    }

    @Test
    void countsJoinFailuresWhenNoGatewayListens() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (SimulatedFederation sim =
                SimulatedFederation.builder()
                        .gateway("127.0.0.1", port)
                        .learners(3)
                        .modelValues(VALUES)
                        .callTimeout(Duration.ofSeconds(2))
                        .timeout(Duration.ofSeconds(20))
                        .build()) {
            SimulationReport report = sim.run();

            assertThat(report.timedOut()).isFalse();
            assertThat(report.joined()).isZero();
            assertThat(report.ended()).isEqualTo(3);
            assertThat(report.failures()).isEqualTo(3);
            assertThat(report.failureSamples()).allMatch(s -> s.startsWith("join: UNAVAILABLE"));
        }
    }

    @Test
    void rejectsSettingsOutsideItsBoundsNamingTheFix() {
        assertThatThrownBy(() -> SimulatedFederation.builder().modelValues(1).build())
                .hasMessageContaining("gateway(host, port)");
        assertThatThrownBy(
                        () ->
                                SimulatedFederation.builder()
                                        .gateway("h", 1)
                                        .learners(SimulatedFederation.MAX_LEARNERS + 1)
                                        .modelValues(1)
                                        .build())
                .hasMessageContaining("learners is 200001");
        assertThatThrownBy(
                        () ->
                                SimulatedFederation.builder()
                                        .gateway("h", 1)
                                        .learners(2)
                                        .channels(3)
                                        .modelValues(1)
                                        .build())
                .hasMessageContaining("channels is 3");
        assertThatThrownBy(() -> SimulatedFederation.builder().gateway("h", 1).build())
                .hasMessageContaining("modelValues(n)");
        assertThatThrownBy(
                        () ->
                                SimulatedFederation.builder()
                                        .gateway("h", 1)
                                        .modelValues(1)
                                        .chunkBytes(10)
                                        .build())
                .hasMessageContaining("chunkBytes is 10");
    }
}
