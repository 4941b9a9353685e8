package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;

class JoinLimiterTest {
    private long nanos;

    private JoinLimiter limiter(Map<String, String> settings) {
        return new JoinLimiter(FederationConfig.of(settings).gatewayLimits(), () -> nanos);
    }

    @Test
    void joinsPastTheRateAreRefusedUntilTheBucketRefills() {
        JoinLimiter joins = limiter(Map.of("gateway.limits.join-rate", "10"));
        for (int i = 0; i < 10; i++) {
            assertThat(joins.admit(0)).isNull();
        }
        StatusRuntimeException refused = joins.admit(0);
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getStatus().getDescription()).contains("gateway.limits.join-rate");
        assertThat(refused.getTrailers().get(LearnerStatus.RETRY_AFTER_MS)).isEqualTo("1000");
        nanos += 300_000_000L; // 0.3 s at 10/s: 3 more
        for (int i = 0; i < 3; i++) {
            assertThat(joins.admit(0)).isNull();
        }
        assertThat(joins.admit(0)).isNotNull();
    }

    @Test
    void fullGatewayAdmitsAgainOnceALearnerLeavesOrItsTokenExpires() {
        JoinLimiter joins = limiter(Map.of("gateway.limits.max-learners", "2"));
        assertThat(joins.admit(0)).isNull();
        joins.registered("a", 5_000);
        assertThat(joins.admit(0)).isNull();
        joins.registered("b", 9_000);
        StatusRuntimeException full = joins.admit(1_000);
        assertThat(full.getStatus().getDescription()).contains("gateway.limits.max-learners");

        joins.removed("b"); // left
        assertThat(joins.admit(1_000)).isNull();
        joins.registered("c", 9_000);
        nanos += 2_000_000_000L;
        assertThat(joins.admit(6_000)).as("a's token expired at 5000").isNull();
        assertThat(joins.learners()).isEqualTo(1);
    }
}
