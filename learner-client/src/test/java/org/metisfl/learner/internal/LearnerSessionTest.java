package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LearnerSessionTest {

    @Test
    void chunksStaySixtyFourKibibytesBelowTheGatewaysMessageLimit() {
        assertThat(LearnerSession.chunkBytes(1 << 20, 4 << 20)).isEqualTo(1 << 20);
        assertThat(LearnerSession.chunkBytes(1 << 20, (64 << 10) + 5000)).isEqualTo(5000);
        assertThat(LearnerSession.chunkBytes(1000, (64 << 10) + 5000)).isEqualTo(1000);
    }

    @Test
    void usesTheConfiguredChunkSizeWhenTheGatewayAnnouncesNoLimit() {
        assertThat(LearnerSession.chunkBytes(12345, 0)).isEqualTo(12345);
    }

    @Test
    void fallsBackToHalfTheLimitWhenTheGatewayLimitLeavesNoHeadroom() {
        assertThat(LearnerSession.chunkBytes(1 << 20, 32 << 10)).isEqualTo(16 << 10);
    }
}
