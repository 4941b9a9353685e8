package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.coordinator.LearnerRegistry.Change;

class LearnerRegistryTest {
    private final LearnerRegistry registry = new LearnerRegistry(StateMap.onHeap());

    @Test
    void aJoinedLearnerIsActiveOnlyOnceItsTaskStreamOpens() {
        assertThat(registry.join("a", "alice", 10, 100)).isEqualTo(Change.NONE);
        assertThat(registry.join("a", "renamed", 99, 200)).isEqualTo(Change.NONE);
        LearnerRecord r = registry.get("a");
        assertThat(r.name).isEqualTo("alice");
        assertThat(r.numExamples).isEqualTo(10);
        assertThat(r.joinedAt).isEqualTo(100);
        assertThat(registry.active()).as("joined, never streamed").isEmpty();
        assertThat(registry.connectivity("a", true, 1)).isEqualTo(Change.ACTIVATED);
        assertThat(registry.active()).containsExactly("a");
    }

    @Test
    void leavingDeactivatesAndStreamingAgainReactivates() {
        registry.join("a", "alice", 1, 0);
        registry.connectivity("a", true, 1);
        assertThat(registry.leave("a")).isEqualTo(Change.DEACTIVATED);
        assertThat(registry.leave("a")).isEqualTo(Change.NONE);
        assertThat(registry.leave("nobody")).isEqualTo(Change.NONE);
        assertThat(registry.active()).isEmpty();
        assertThat(registry.join("a", "alice", 1, 5)).isEqualTo(Change.NONE);
        assertThat(registry.connectivity("a", true, 6)).isEqualTo(Change.ACTIVATED);
    }

    @Test
    void theClosingOfAStreamAtAGatewayTheLearnerLeftDoesNotDeactivateIt() {
        registry.join("a", "alice", 1, 0);
        assertThat(registry.connectivity("a", true, 1, 1)).isEqualTo(Change.ACTIVATED);
        // It moved from gateway 1 to gateway 0; gateway 1 stamped the old stream's closing last.
        assertThat(registry.connectivity("a", true, 10, 0)).isEqualTo(Change.NONE);
        assertThat(registry.connectivity("a", false, 11, 1)).isEqualTo(Change.NONE);
        assertThat(registry.active()).containsExactly("a");
        // Its stream at gateway 0 closes: gone, until a stream opens anywhere again.
        assertThat(registry.connectivity("a", false, 20, 0)).isEqualTo(Change.DEACTIVATED);
        assertThat(registry.connectivity("a", true, 30, 1)).isEqualTo(Change.ACTIVATED);
        assertThat(registry.connectivity("a", false, 40, 1)).isEqualTo(Change.DEACTIVATED);
    }

    @Test
    void connectivityNewsIsOrderedByGatewayStampAndIgnoredForUnknownLearners() {
        registry.join("a", "alice", 1, 0);
        registry.connectivity("a", true, 1);
        assertThat(registry.connectivity("a", false, 20)).isEqualTo(Change.DEACTIVATED);
        assertThat(registry.connectivity("a", true, 10)).as("older news").isEqualTo(Change.NONE);
        assertThat(registry.active()).isEmpty();
        assertThat(registry.connectivity("a", true, 20)).isEqualTo(Change.ACTIVATED);
        assertThat(registry.connectivity("a", true, 30)).isEqualTo(Change.NONE);
        assertThat(registry.connectivity("b", true, 30)).isEqualTo(Change.NONE);
        assertThat(registry.get("b")).isNull();
    }

    @Test
    void keepsOnlyPositiveReportedSpeeds() {
        registry.join("a", "alice", 1, 0);
        assertThat(registry.recordTimings("a", Map.of("ms_per_batch", 5.0, "ms_per_epoch", 50.0)))
                .isTrue();
        assertThat(registry.recordTimings("a", Map.of("ms_per_batch", 0.0, "ms_per_epoch", 9.0)))
                .isFalse();
        assertThat(registry.recordTimings("a", Map.of("loss", 1.0))).isFalse();
        assertThat(registry.recordTimings("a", null)).isFalse();
        assertThat(registry.recordTimings("x", Map.of("ms_per_batch", 1.0, "ms_per_epoch", 1.0)))
                .isFalse();
        assertThat(registry.get("a").msPerBatch).isEqualTo(5.0);
        assertThat(registry.get("a").msPerEpoch).isEqualTo(50.0);
    }
}
