package org.metisfl.flink.connector.gateway.server;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Ends a call whose one request message has not arrived (the client has not half-closed) within
 * {@code gateway.limits.upload-idle-timeout}, with {@code DEADLINE_EXCEEDED} and the key: gRPC
 * gives a server no such timeout, so a client that opens unary calls and sends nothing held each
 * one's HTTP/2 stream until its own deadline, if it set one. Client-streaming calls (uploads) have
 * their own idle and rate limits ({@link UploadLimiter}) and pass through untouched.
 */
final class RequestTimeout implements ServerInterceptor {
    private final ScheduledExecutorService timer;
    private final Duration timeout;

    RequestTimeout(ScheduledExecutorService timer, Duration timeout) {
        this.timer = timer;
        this.timeout = timeout;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!call.getMethodDescriptor().getType().clientSendsOneMessage()) {
            return next.startCall(call, headers);
        }
        // Whoever sets it first decides: the request (half-close) or the timer.
        AtomicBoolean decided = new AtomicBoolean();
        ServerCall.Listener<Q> listener = next.startCall(call, headers);
        ScheduledFuture<?> expiry =
                timer.schedule(
                        () -> {
                            if (decided.compareAndSet(false, true)) {
                                call.close(
                                        Status.DEADLINE_EXCEEDED.withDescription(
                                                "the request did not arrive within "
                                                        + timeout.toSeconds()
                                                        + " s of the call's start"
                                                        + " (gateway.limits.upload-idle-timeout)"),
                                        new Metadata());
                            }
                        },
                        timeout.toMillis(),
                        TimeUnit.MILLISECONDS);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onHalfClose() {
                if (decided.compareAndSet(false, true)) {
                    expiry.cancel(false);
                    super.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                expiry.cancel(false);
                super.onCancel();
            }

            @Override
            public void onComplete() {
                expiry.cancel(false);
                super.onComplete();
            }
        };
    }
}
