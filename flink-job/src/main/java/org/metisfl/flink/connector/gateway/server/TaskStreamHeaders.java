package org.metisfl.flink.connector.gateway.server;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import org.metisfl.proto.v1.LearnerServiceGrpc;

/**
 * Sends a task stream's response headers as soon as the gateway has registered the stream (its
 * StreamTasks handler returned: the stream is in {@link TaskDispatch} and the job's CONNECTED is
 * stamped), instead of with the stream's first task. A learner that moves between gateways opens
 * its stream at the new one first and closes the old one only once these headers arrive, so the job
 * never sees it without a task stream (make before break).
 *
 * <p>The call's sending methods are serialised here: the headers go out on the call's own thread
 * while a directive may be sending a task on another.
 */
public final class TaskStreamHeaders implements ServerInterceptor {
    private static final String METHOD =
            LearnerServiceGrpc.getStreamTasksMethod().getFullMethodName();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!METHOD.equals(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        Serialized<Q, R> serialized = new Serialized<>(call);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
                next.startCall(serialized, headers)) {
            @Override
            public void onHalfClose() {
                // A server-streaming handler runs in onHalfClose.
                super.onHalfClose();
                serialized.flushHeaders();
            }
        };
    }

    private static final class Serialized<Q, R>
            extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        private boolean headersSent;
        private boolean closed;

        Serialized(ServerCall<Q, R> call) {
            super(call);
        }

        synchronized void flushHeaders() {
            if (headersSent || closed || isCancelled()) {
                return;
            }
            headersSent = true;
            try {
                super.sendHeaders(new Metadata());
            } catch (RuntimeException gone) {
                // the learner went away meanwhile; its cancellation ends the stream here
            }
        }

        @Override
        public synchronized void sendHeaders(Metadata headers) {
            if (headersSent) {
                return;
            }
            headersSent = true;
            super.sendHeaders(headers);
        }

        @Override
        public synchronized void sendMessage(R message) {
            super.sendMessage(message);
        }

        @Override
        public synchronized void close(Status status, Metadata trailers) {
            closed = true;
            super.close(status, trailers);
        }
    }
}
