package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.PublishResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model sink's way to one announced gateway: directives queue in order and go one at a time (a
 * gateway must apply them in the order the coordinator sent them), each as one Publish call that
 * sends the model's chunks only while the transport is ready. A failed attempt is retried after a
 * bounded exponential backoff ({@link DeliveryPolicy}); a refusal (wrong control credential,
 * malformed directive) or a directive still undelivered after the policy's timeout stops the link
 * and reports the reason once to {@code onFatal}, which the sink rethrows on its task thread.
 *
 * <p>Only the sink's task thread queues; attempts run on the sink's executor and gRPC callbacks.
 */
final class GatewayLink {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayLink.class);

    /** One directive for this gateway: its header (with this gateway's secret) and model. */
    record Delivery(String what, DirectiveHeader header, EncodedModel model) {
        List<ByteString> chunks() {
            return model == null ? null : model.chunks();
        }
    }

    private final int index;
    private final String host;
    private final int port;
    private final String secret;
    private final ManagedChannel channel;
    private final DeliveryPolicy policy;
    private final ScheduledExecutorService executor;
    private final boolean handOverLocally;
    private final Consumer<IOException> onFatal;

    // guarded by this
    private final ArrayDeque<Delivery> queue = new ArrayDeque<>();
    private boolean busy; // an attempt runs or is scheduled for the head of the queue
    private boolean stopped; // closed, or failed for good
    private long headSince; // System.nanoTime() of the head's first attempt
    private int failures; // failed attempts of the head
    private Status lastFailure; // of the head
    private Publish inFlight;
    private long delivered;

    GatewayLink(
            int index,
            String host,
            int port,
            String secret,
            ManagedChannel channel,
            DeliveryPolicy policy,
            ScheduledExecutorService executor,
            boolean handOverLocally,
            Consumer<IOException> onFatal) {
        this.index = index;
        this.host = host;
        this.port = port;
        this.secret = secret;
        this.channel = channel;
        this.policy = policy;
        this.executor = executor;
        this.handOverLocally = handOverLocally;
        this.onFatal = onFatal;
    }

    String secret() {
        return secret;
    }

    ManagedChannel channel() {
        return channel;
    }

    /**
     * Hands {@code d} to a gateway in this JVM at once, if nothing is queued before it.
     *
     * @return true if delivered; false to {@link #enqueue} it
     * @throws IOException if the gateway refuses it (a malformed directive)
     */
    synchronized boolean handOver(Delivery d) throws IOException {
        if (!handOverLocally || stopped || busy || !queue.isEmpty()) {
            return false;
        }
        try {
            if (LocalGateways.deliver(port, secret, d.header(), d.chunks())) {
                delivered++;
                return true;
            }
            return false;
        } catch (IllegalArgumentException e) {
            stopped = true;
            throw refused(d, e.getMessage());
        }
    }

    /**
     * Queues {@code d} behind the directives not yet delivered. With {@link
     * DeliveryPolicy#maxPending()} queued it waits for room: at most until the head is delivered or
     * the link gives up, both within the policy's timeout.
     */
    void enqueue(Delivery d) throws InterruptedException {
        synchronized (this) {
            while (!stopped && queue.size() >= policy.maxPending()) {
                wait(100);
            }
            if (stopped) {
                return;
            }
            queue.add(d);
            if (!busy) {
                busy = true;
                startHead();
            }
        }
    }

    /** Whether every queued directive has been delivered (or the link stopped). */
    synchronized boolean idle() {
        return stopped || !busy;
    }

    /** Waits up to {@code timeout} for {@link #idle()}. */
    synchronized boolean awaitIdle(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!idle()) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Directives delivered so far. */
    synchronized long delivered() {
        return delivered;
    }

    synchronized int pending() {
        return queue.size();
    }

    /** Drops what is queued and cancels the call in flight; the channel is the caller's. */
    void close() {
        Publish call;
        synchronized (this) {
            stopped = true;
            queue.clear();
            call = inFlight;
            inFlight = null;
            notifyAll();
        }
        if (call != null) {
            call.cancel();
        }
    }

    private void startHead() {
        headSince = System.nanoTime();
        failures = 0;
        lastFailure = null;
        executor.execute(this::attempt);
    }

    private void attempt() {
        Delivery d;
        long deadline;
        synchronized (this) {
            d = queue.peek();
            if (stopped || d == null) {
                return;
            }
            long left = headSince + policy.timeout().toNanos() - System.nanoTime();
            if (left <= 0) {
                giveUp(d);
                return;
            }
            deadline = Math.min(policy.attemptTimeout().toNanos(), left);
        }
        try {
            if (handOverLocally && LocalGateways.deliver(port, secret, d.header(), d.chunks())) {
                succeeded(null);
                return;
            }
        } catch (IllegalArgumentException e) {
            fail(refused(d, e.getMessage()));
            return;
        }
        Publish call = new Publish(d);
        synchronized (this) {
            if (stopped) {
                return;
            }
            inFlight = call;
        }
        GatewayControlServiceGrpc.newStub(channel)
                .withCallCredentials(ControlChannels.callCredentials(secret))
                .withDeadlineAfter(deadline, TimeUnit.NANOSECONDS)
                .publish(call);
        call.pump();
    }

    private synchronized void succeeded(Publish call) {
        if (stopped || (call != null && call != inFlight)) {
            return;
        }
        inFlight = null;
        queue.poll();
        delivered++;
        notifyAll();
        if (queue.isEmpty()) {
            busy = false;
        } else {
            startHead();
        }
    }

    private synchronized void failed(Publish call, Throwable t) {
        if (stopped || call != inFlight) {
            return; // closed: the cancellation of the call in flight is no failure
        }
        inFlight = null;
        Delivery d = queue.peek();
        Status s = Status.fromThrowable(t);
        if (!retryable(s.getCode())) {
            fail(refused(d, s.getCode() + ": " + s.getDescription()));
            return;
        }
        failures++;
        lastFailure = s;
        long elapsed = System.nanoTime() - headSince;
        long left = policy.timeout().toNanos() - elapsed;
        if (left <= 0) {
            giveUp(d);
            return;
        }
        long backoff = Math.min(policy.backoffNanos(failures), left);
        LOG.warn(
                "Gateway {} at {}:{} did not take {} (attempt {}, {} ms since the first): {}: {};"
                        + " retrying in {} ms",
                index,
                host,
                port,
                d.what(),
                failures,
                TimeUnit.NANOSECONDS.toMillis(elapsed),
                s.getCode(),
                s.getDescription(),
                TimeUnit.NANOSECONDS.toMillis(backoff));
        executor.schedule(this::attempt, backoff, TimeUnit.NANOSECONDS);
    }

    /** Whether another attempt may succeed: the gateway was unreachable, slow or restarting. */
    static boolean retryable(Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT,
                    PERMISSION_DENIED,
                    UNAUTHENTICATED,
                    UNIMPLEMENTED,
                    FAILED_PRECONDITION,
                    OUT_OF_RANGE,
                    ALREADY_EXISTS,
                    NOT_FOUND ->
                    false;
            default -> true;
        };
    }

    private void giveUp(Delivery d) {
        Status last = lastFailure;
        fail(
                new IOException(
                        "gateway "
                                + index
                                + " at "
                                + host
                                + ":"
                                + port
                                + " stayed unreachable: it did not take "
                                + d.what()
                                + " within the model sink's delivery timeout of "
                                + policy.timeout().toMillis()
                                + " ms ("
                                + failures
                                + " failed attempts"
                                + (last == null
                                        ? ""
                                        : ", the last "
                                                + last.getCode()
                                                + ": "
                                                + last.getDescription())
                                + "). The job fails so that it restarts and its gateways announce"
                                + " themselves again; if the gateway is only slow, raise"
                                + " gateway.delivery-timeout."));
    }

    private IOException refused(Delivery d, String reason) {
        return new IOException(
                "gateway "
                        + index
                        + " at "
                        + host
                        + ":"
                        + port
                        + " refused "
                        + d.what()
                        + ": "
                        + reason
                        + " (not retried: the job and the gateway disagree on the protocol or"
                        + " the control credential)");
    }

    private void fail(IOException e) {
        synchronized (this) {
            if (stopped) {
                return;
            }
            stopped = true;
            queue.clear();
            notifyAll();
        }
        onFatal.accept(e);
    }

    /** One Publish call: the header, then the model's chunks while the transport is ready. */
    private final class Publish implements ClientResponseObserver<DirectiveChunk, PublishResponse> {
        private final Delivery d;
        private ClientCallStreamObserver<DirectiveChunk> out;
        private int next = -1; // -1: the header
        private boolean halfClosed;
        private boolean done;

        Publish(Delivery d) {
            this.d = d;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<DirectiveChunk> call) {
            out = call;
            call.setOnReadyHandler(this::pump);
        }

        synchronized void pump() {
            if (out == null || halfClosed || done) {
                return;
            }
            List<ByteString> chunks = d.chunks();
            int n = chunks == null ? 0 : chunks.size();
            while (out.isReady()) {
                if (next < 0) {
                    out.onNext(DirectiveChunk.newBuilder().setHeader(d.header()).build());
                } else if (next < n) {
                    out.onNext(DirectiveChunk.newBuilder().setData(chunks.get(next)).build());
                } else {
                    out.onCompleted();
                    halfClosed = true;
                    return;
                }
                next++;
            }
        }

        synchronized void cancel() {
            if (out != null && !done) {
                out.cancel("the model sink is closing", null);
            }
        }

        @Override
        public void onNext(PublishResponse value) {}

        @Override
        public void onError(Throwable t) {
            synchronized (this) {
                done = true;
            }
            failed(this, t);
        }

        @Override
        public void onCompleted() {
            synchronized (this) {
                done = true;
            }
            succeeded(this);
        }
    }
}
