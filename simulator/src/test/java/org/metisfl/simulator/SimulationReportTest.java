package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SimulationReportTest {

    private static RoundTimeline round(long r, long firstTask, long lastSent, long lastAck) {
        return new RoundTimeline(
                r,
                2,
                firstTask,
                firstTask + 5,
                2,
                300,
                2,
                firstTask + 310,
                lastSent,
                2,
                lastAck - 10,
                lastAck,
                800,
                800,
                600,
                lastAck - firstTask,
                0,
                0);
    }

    @Test
    void derivesTheControllerTailAndOverheadFromConsecutiveRounds() {
        SimulationReport report =
                new SimulationReport(
                        2,
                        2,
                        2,
                        2,
                        2,
                        false,
                        0,
                        List.of(),
                        "done",
                        0,
                        0,
                        0,
                        0,
                        List.of(round(1, 1_000, 1_900, 2_000), round(2, 2_500, 3_400, 3_500)));

        assertThat(report.tailAfterLastAckUs(1)).contains(500L);
        assertThat(report.tailAfterLastSentUs(1)).contains(600L);
        assertThat(report.periodUs(1)).contains(1_500L);
        assertThat(report.overheadUs(1)).contains(900L);
        assertThat(report.tailAfterLastAckUs(2)).isEmpty();
        assertThat(report.round(1).orElseThrow().ingestBytesPerSecond())
                .isCloseTo(800 * 1e6 / 690, org.assertj.core.data.Offset.offset(1e-6));
    }
}
