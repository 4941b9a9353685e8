package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class LearnerOptionsTest {

    @Test
    void defaultsMatchTheDocumentedValues() {
        LearnerOptions options = LearnerOptions.defaults();

        assertThat(options.callTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(options.transferTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(options.maxReconnectAttempts()).isEqualTo(Integer.MAX_VALUE);
        assertThat(options.maxChunkBytes()).isEqualTo(1 << 20);
        assertThat(options.keepAliveTime()).isEqualTo(Duration.ofSeconds(30));
        assertThat(options.reconnectInitialBackoff())
                .isLessThanOrEqualTo(options.reconnectMaxBackoff());
    }

    @Test
    void toBuilderKeepsEveryValue() {
        LearnerOptions options =
                LearnerOptions.builder()
                        .callTimeout(Duration.ofSeconds(3))
                        .transferTimeout(Duration.ofSeconds(4))
                        .reconnectInitialBackoff(Duration.ofMillis(5))
                        .reconnectMaxBackoff(Duration.ofMillis(6))
                        .maxReconnectAttempts(7)
                        .maxChunkBytes(8)
                        .keepAliveTime(Duration.ofSeconds(9))
                        .build();

        assertThat(options.toBuilder().build()).usingRecursiveComparison().isEqualTo(options);
    }

    @Test
    void rejectsANonPositiveTimeoutNamingIt() {
        assertThatThrownBy(() -> LearnerOptions.builder().callTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("callTimeout is PT0S but must be positive");
    }

    @Test
    void rejectsAMaximumBackoffBelowTheInitialOne() {
        assertThatThrownBy(
                        () ->
                                LearnerOptions.builder()
                                        .reconnectInitialBackoff(Duration.ofSeconds(10))
                                        .reconnectMaxBackoff(Duration.ofSeconds(1))
                                        .build())
                .hasMessageContaining("reconnectMaxBackoff")
                .hasMessageContaining("raise reconnectMaxBackoff");
    }

    @Test
    void rejectsChunksAboveOneMebibyteOrBelowOneByte() {
        assertThatThrownBy(() -> LearnerOptions.builder().maxChunkBytes((1 << 20) + 1).build())
                .hasMessageContaining("maxChunkBytes is 1048577");
        assertThatThrownBy(() -> LearnerOptions.builder().maxChunkBytes(0).build())
                .hasMessageContaining("maxChunkBytes is 0");
    }

    @Test
    void rejectsZeroReconnectAttempts() {
        assertThatThrownBy(() -> LearnerOptions.builder().maxReconnectAttempts(0).build())
                .hasMessageContaining("maxReconnectAttempts is 0")
                .hasMessageContaining("Integer.MAX_VALUE");
    }
}
