package org.metisfl.simulator;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;

/** Bounds how many calls of one kind are in flight; the rest wait in arrival order. */
final class UploadGate {
    private final int permits;
    private final Executor executor;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int used;

    /**
     * @param permits calls in flight at most; 0 for no bound
     * @param executor runs calls that had to wait (never the releasing gRPC thread)
     */
    UploadGate(int permits, Executor executor) {
        this.permits = permits;
        this.executor = executor;
    }

    void submit(Runnable call) {
        synchronized (this) {
            if (permits > 0 && used >= permits) {
                waiting.add(call);
                return;
            }
            used++;
        }
        call.run();
    }

    void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                used--;
                return;
            }
        }
        executor.execute(next);
    }
}
