package org.metisfl.flink.connector.gateway.server;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Bounds the memory a gateway spends on uploads: the bytes of updates being received plus those
 * accepted but not yet emitted into the job. An upload reserves its whole size when its header
 * arrives, and the gateway asks gRPC for its bytes only once the reservation is granted (manual
 * flow control), so a learner whose upload waits is held back by HTTP/2 flow control instead of
 * filling the gateway's heap. The reservation is released when the source reader emits the update
 * into the job, or when the upload fails or its learner goes away.
 *
 * <p>The rule: a reservation of {@code b} bytes is granted, in arrival order, when the bytes
 * already reserved plus {@code b} fit in {@code max(floorBytes, updatesAtOnce × b)}, or when
 * nothing is reserved at all. Every update of a federation has the model's size, so the budget is
 * in effect {@code max(256 MiB, 4 × model bytes)} (see {@link #forGateway()}): small models get
 * many uploads at once, large ones at least four. The "nothing reserved" clause lets an update
 * larger than the budget through alone. A granted upload is never paused again, and reservations
 * are released by the reader, which does not wait for uploads: so every upload that started
 * receiving finishes (or fails), and every waiting one is granted eventually.
 *
 * <p>Thread-safe. Callbacks run outside the lock, on the thread that freed the room.
 */
final class IngestBudget {
    /** The smallest budget, for small models: many small uploads proceed at once. */
    static final long FLOOR_BYTES = 256L << 20;

    /** Updates of the model's size the budget holds at least: a large model still overlaps some. */
    static final int UPDATES_AT_ONCE = 4;

    private final long floorBytes;
    private final int updatesAtOnce;
    private final LinkedHashSet<Reservation> waiting = new LinkedHashSet<>();
    private long reservedBytes;

    IngestBudget(long floorBytes, int updatesAtOnce) {
        if (floorBytes < 0 || updatesAtOnce < 1) {
            throw new IllegalArgumentException(
                    "floorBytes must be >= 0 and updatesAtOnce >= 1, got "
                            + floorBytes
                            + " and "
                            + updatesAtOnce);
        }
        this.floorBytes = floorBytes;
        this.updatesAtOnce = updatesAtOnce;
    }

    /** The budget of a gateway: {@code max(256 MiB, 4 × update bytes)}. */
    static IngestBudget forGateway() {
        return new IngestBudget(FLOOR_BYTES, UPDATES_AT_ONCE);
    }

    /** Room for one upload, granted at once or later; release it exactly when done with it. */
    final class Reservation {
        private final long bytes;
        private final Runnable onGranted;
        private boolean granted;
        private boolean released;

        private Reservation(long bytes, Runnable onGranted) {
            this.bytes = bytes;
            this.onGranted = onGranted;
        }

        long bytes() {
            return bytes;
        }

        /** Gives the room back (or stops waiting for it); later calls do nothing. */
        void release() {
            IngestBudget.this.release(this);
        }
    }

    /**
     * Asks for {@code bytes}; {@code onGranted} runs once they are granted: right away, on this
     * thread, if they fit now; else later, on the thread of the release that makes room.
     */
    Reservation reserve(long bytes, Runnable onGranted) {
        if (bytes < 0) {
            throw new IllegalArgumentException("cannot reserve " + bytes + " bytes");
        }
        Reservation r = new Reservation(bytes, onGranted);
        boolean now;
        synchronized (this) {
            now = waiting.isEmpty() && fits(bytes);
            if (now) {
                grant(r);
            } else {
                waiting.add(r);
            }
        }
        if (now) {
            r.onGranted.run();
        }
        return r;
    }

    /** Bytes of granted reservations not yet released. */
    synchronized long reservedBytes() {
        return reservedBytes;
    }

    /** Reservations waiting for room. */
    synchronized int waiting() {
        return waiting.size();
    }

    private void release(Reservation r) {
        List<Reservation> granted = new ArrayList<>();
        synchronized (this) {
            if (r.released) {
                return;
            }
            r.released = true;
            if (r.granted) {
                reservedBytes -= r.bytes;
            } else {
                waiting.remove(r);
            }
            Iterator<Reservation> next = waiting.iterator();
            while (next.hasNext()) {
                Reservation w = next.next();
                if (!fits(w.bytes)) {
                    break; // in arrival order: a large upload is not overtaken forever
                }
                next.remove();
                grant(w);
                granted.add(w);
            }
        }
        for (Reservation w : granted) {
            w.onGranted.run();
        }
    }

    private boolean fits(long bytes) {
        return reservedBytes == 0
                || reservedBytes + bytes <= Math.max(floorBytes, updatesAtOnce * bytes);
    }

    private void grant(Reservation r) {
        r.granted = true;
        reservedBytes += r.bytes;
    }
}
