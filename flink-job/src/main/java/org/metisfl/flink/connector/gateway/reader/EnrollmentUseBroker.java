package org.metisfl.flink.connector.gateway.reader;

import java.util.ArrayList;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.flink.api.connector.source.SourceEvent;
import org.metisfl.flink.connector.gateway.enumerator.EnrollmentUseAnswer;
import org.metisfl.flink.connector.gateway.enumerator.EnrollmentUseRequest;
import org.metisfl.flink.connector.gateway.security.Admission;

/**
 * A gateway's side of the federation-wide enrollment use counts: the joins (gRPC threads) ask for a
 * use; the reader sends the requests to the enumerator from its own thread ({@link #send}) and
 * hands it the answers ({@link #answered}), which complete the joins' futures on the reader's
 * thread, so a granted use and its join are taken between two of the reader's snapshots.
 */
final class EnrollmentUseBroker implements Admission.UseRequests {
    private final Runnable wakeReader;
    private final AtomicLong ids = new AtomicLong();
    private final Queue<EnrollmentUseRequest> outbox = new ConcurrentLinkedQueue<>();
    private final Map<Long, CompletableFuture<Boolean>> asked = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * @param wakeReader makes the reader poll soon (it sends the requests when it polls)
     */
    EnrollmentUseBroker(Runnable wakeReader) {
        this.wakeReader = wakeReader;
    }

    @Override
    public CompletableFuture<Boolean> request(String tokenId, int maxUses) {
        CompletableFuture<Boolean> answer = new CompletableFuture<>();
        long id = ids.incrementAndGet();
        asked.put(id, answer);
        if (closed) {
            fail(id);
            return answer;
        }
        outbox.add(new EnrollmentUseRequest(id, tokenId, maxUses));
        wakeReader.run();
        return answer;
    }

    /** Sends the requests asked for since the last call (the reader's thread). */
    void send(Consumer<SourceEvent> toEnumerator) {
        for (EnrollmentUseRequest r = outbox.poll(); r != null; r = outbox.poll()) {
            toEnumerator.accept(r);
        }
    }

    /** Completes the join that asked (the reader's thread); an unknown request is ignored. */
    void answered(EnrollmentUseAnswer a) {
        CompletableFuture<Boolean> answer = asked.remove(a.request());
        if (answer != null) {
            answer.complete(a.granted());
        }
    }

    /** Fails every join still waiting (the gateway stops): its learner joins again. */
    void close() {
        closed = true;
        outbox.clear();
        for (Long id : new ArrayList<>(asked.keySet())) {
            fail(id);
        }
    }

    private void fail(long id) {
        CompletableFuture<Boolean> answer = asked.remove(id);
        if (answer != null) {
            answer.completeExceptionally(
                    new IllegalStateException("the gateway is stopping; join again"));
        }
    }
}
