package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.GatewayEvent;

class StampedEventQueueTest {
    private final AtomicLong clock = new AtomicLong(1_000);
    private final StampedEventQueue queue = new StampedEventQueue(clock::get);

    private static List<GatewayEvent> batch() {
        return List.of(GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD));
    }

    @Test
    void watermarkFollowsTheClockWhileIdle() {
        assertThat(queue.watermark()).isEqualTo(999);
        clock.set(5_000);
        assertThat(queue.watermark()).isEqualTo(4_999);
    }

    @Test
    void watermarkNeverPassesAnAcceptedUpdateNotYetEmitted() {
        long stamp = queue.offer(batch(), 2_000, null);
        assertThat(stamp).isEqualTo(1_000);
        clock.set(9_000);
        assertThat(queue.watermark()).isEqualTo(999);
        assertThat(queue.poll().timestamp()).isEqualTo(1_000);
        assertThat(queue.watermark()).isEqualTo(8_999);
    }

    @Test
    void updateStampedAfterItsDeadlineIsRefused() {
        clock.set(2_001);
        assertThat(queue.offer(batch(), 2_000, null)).isEqualTo(Long.MIN_VALUE);
        assertThat(queue.isEmpty()).isTrue();
        clock.set(2_000);
        assertThat(queue.offer(batch(), 2_000, null)).isEqualTo(2_000);
    }

    @Test
    void stampsNeverGoBackwardsWhenTheClockDoes() {
        clock.set(3_000);
        queue.offer(batch(), Long.MAX_VALUE, null);
        clock.set(2_500);
        assertThat(queue.offer(batch(), Long.MAX_VALUE, null)).isEqualTo(3_000);
        queue.poll();
        queue.poll();
        assertThat(queue.watermark()).isEqualTo(2_999);
    }

    @Test
    void availabilityCompletesWhenABatchArrives() {
        var future = queue.availability();
        assertThat(future).isNotDone();
        queue.offer(batch(), Long.MAX_VALUE, null);
        assertThat(future).isDone();
    }
}
