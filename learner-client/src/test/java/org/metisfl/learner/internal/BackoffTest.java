package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {

    @Test
    void doublesFromTheInitialDelayUpToTheMaximum() {
        Backoff longest =
                new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), () -> 0.999999);

        assertThat(longest.delay(1)).isBetween(Duration.ofMillis(99), Duration.ofMillis(100));
        assertThat(longest.delay(2)).isBetween(Duration.ofMillis(199), Duration.ofMillis(200));
        assertThat(longest.delay(4)).isBetween(Duration.ofMillis(799), Duration.ofMillis(800));
        assertThat(longest.delay(5)).isBetween(Duration.ofMillis(999), Duration.ofSeconds(1));
        assertThat(longest.delay(Integer.MAX_VALUE)).isLessThanOrEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void jitterKeepsEachDelayBetweenHalfAndAllOfTheExponentialStep() {
        Backoff shortest = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), () -> 0.0);

        assertThat(shortest.delay(1)).isEqualTo(Duration.ofMillis(50));
        assertThat(shortest.delay(3)).isEqualTo(Duration.ofMillis(200));
        assertThat(shortest.delay(60)).isEqualTo(Duration.ofMillis(500));
    }
}
