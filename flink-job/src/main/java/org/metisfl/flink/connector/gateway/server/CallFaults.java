package org.metisfl.flink.connector.gateway.server;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts the calls a fault of the gateway ended: a handler or interceptor that threw (gRPC then
 * answers {@code UNKNOWN: Application error processing RPC}), or a call the gateway closed with
 * {@code UNKNOWN}. Every refusal the gateway means to give has its own status code, so an {@code
 * UNKNOWN} from the gateway is always a bug: this makes it a metric ({@code callFaults}) and a log
 * line with its stack trace, at most one per {@link #LOG_INTERVAL_SECONDS} so a client that can
 * trigger one cannot flood the log. Installed outermost on every service of both ports.
 */
final class CallFaults implements ServerInterceptor {
    private static final Logger LOG = LoggerFactory.getLogger(CallFaults.class);
    static final long LOG_INTERVAL_SECONDS = 10;

    private final GatewayMetrics metrics;
    private final AtomicLong nextLogNanos = new AtomicLong(System.nanoTime());

    CallFaults(GatewayMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getBareMethodName();
        ServerCall<Q, R> watched =
                new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    public void close(Status status, Metadata trailers) {
                        if (status.getCode() == Status.Code.UNKNOWN) {
                            fault(method, "closed with UNKNOWN", status.asRuntimeException());
                        }
                        super.close(status, trailers);
                    }
                };
        ServerCall.Listener<Q> listener;
        try {
            listener = next.startCall(watched, headers);
        } catch (RuntimeException | Error e) {
            fault(method, "failed to start", e);
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(Q message) {
                watch(method, "failed on a request message", () -> super.onMessage(message));
            }

            @Override
            public void onHalfClose() {
                watch(method, "failed on the half-close", super::onHalfClose);
            }

            @Override
            public void onCancel() {
                watch(method, "failed on a cancellation", super::onCancel);
            }

            @Override
            public void onComplete() {
                watch(method, "failed on completion", super::onComplete);
            }

            @Override
            public void onReady() {
                watch(method, "failed on readiness", super::onReady);
            }
        };
    }

    /** Runs a listener method, counting what escapes it as a fault (gRPC then answers UNKNOWN). */
    private void watch(String method, String what, Runnable listenerMethod) {
        try {
            listenerMethod.run();
        } catch (RuntimeException | Error e) {
            fault(method, what, e);
            throw e;
        }
    }

    private void fault(String method, String what, Throwable t) {
        metrics.countCallFault();
        long now = System.nanoTime();
        long next = nextLogNanos.get();
        if (now - next >= 0
                && nextLogNanos.compareAndSet(
                        next, now + TimeUnit.SECONDS.toNanos(LOG_INTERVAL_SECONDS))) {
            LOG.error(
                    "A {} call {}: a fault of the gateway ({} so far; this line at most once"
                            + " per {} s)",
                    method,
                    what,
                    metrics.callFaults(),
                    LOG_INTERVAL_SECONDS,
                    t);
        }
    }
}
