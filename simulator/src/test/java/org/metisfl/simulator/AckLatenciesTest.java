package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AckLatenciesTest {

    @Test
    void percentilesAreNearestRanksOfWhatWasRecordedInAnyOrder() {
        AckLatencies a = new AckLatencies();
        for (int i = 100; i >= 1; i--) {
            a.record(i * 1_000L);
        }
        AckLatencies.Snapshot s = a.snapshot();
        assertThat(s.count()).isEqualTo(100);
        assertThat(s.percentileUs(50)).isEqualTo(50_000);
        assertThat(s.percentileUs(99)).isEqualTo(99_000);
        assertThat(s.percentileUs(100)).isEqualTo(100_000);
        assertThat(s.percentileUs(0)).isEqualTo(1_000);
        a.record(7);
        assertThat(s.count()).as("a snapshot does not change").isEqualTo(100);
        assertThat(a.snapshot().percentileUs(0)).isEqualTo(7);
    }

    @Test
    void anEmptyRecordHasNoPercentileAndABadPercentileIsRefused() {
        assertThat(AckLatencies.Snapshot.EMPTY.percentileUs(50)).isNaN();
        assertThatThrownBy(() -> new AckLatencies().snapshot().percentileUs(101))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("between 0 and 100");
    }
}
