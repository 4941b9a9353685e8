package org.metisfl.simulator;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;

/** Lock-free running aggregates of one round: O(1) memory whatever the number of learners. */
final class RoundRecorder {
    final long round;
    final AtomicInteger trainTasks = new AtomicInteger();
    final LongAccumulator firstTask = min();
    final LongAccumulator lastTask = max();
    final AtomicInteger downloads = new AtomicInteger();
    final LongAccumulator maxDownload = max();
    final AtomicInteger uploadsStarted = new AtomicInteger();
    final LongAccumulator firstUploadStart = min();
    final LongAccumulator lastUploadSent = max();
    final AtomicInteger acks = new AtomicInteger();
    final LongAccumulator firstAck = min();
    final LongAccumulator lastAck = max();
    final AtomicLong bytesUploaded = new AtomicLong();
    final AtomicLong bytesDownloaded = new AtomicLong();
    final LongAccumulator maxTransfer = max();
    final LongAccumulator maxTaskToAck = max();
    final AtomicInteger evaluations = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();

    RoundRecorder(long round) {
        this.round = round;
    }

    private static LongAccumulator min() {
        return new LongAccumulator(Math::min, Long.MAX_VALUE);
    }

    private static LongAccumulator max() {
        return new LongAccumulator(Math::max, 0L);
    }

    private static long orZero(LongAccumulator a) {
        long v = a.get();
        return v == Long.MAX_VALUE ? 0 : v;
    }

    RoundTimeline snapshot() {
        return new RoundTimeline(
                round,
                trainTasks.get(),
                orZero(firstTask),
                lastTask.get(),
                downloads.get(),
                maxDownload.get(),
                uploadsStarted.get(),
                orZero(firstUploadStart),
                lastUploadSent.get(),
                acks.get(),
                orZero(firstAck),
                lastAck.get(),
                bytesUploaded.get(),
                bytesDownloaded.get(),
                maxTransfer.get(),
                maxTaskToAck.get(),
                evaluations.get(),
                failures.get());
    }
}
