package org.metisfl.learner.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.function.Consumer;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.Task;

/**
 * Receives one StreamTasks call on gRPC's threads and only hands its events to the task loop;
 * nothing is processed here, so a slow task never blocks the transport.
 */
final class TaskStreamObserver implements ClientResponseObserver<StreamTasksRequest, Task> {

    /** What the task loop receives from a stream. */
    sealed interface Event
            permits TaskArrived, StreamEstablished, StreamEnded, UploadAnswered, Wake {}

    /** A task arrived on the stream of this generation. */
    record TaskArrived(long generation, Task task) implements Event {}

    /**
     * The gateway answered the stream of this generation with its headers: it has registered the
     * stream (the gateway sends them once the stream is in its dispatch, before any task), so the
     * job knows the learner is reachable there.
     */
    record StreamEstablished(long generation) implements Event {}

    /** The stream of this generation ended; {@code status} is null if it completed normally. */
    record StreamEnded(long generation, Status status) implements Event {}

    /**
     * An update's upload call ended (answered by the gateway, or failed); exactly one of {@code
     * response} and {@code error} is set. Queued by the call's own observer, not by the stream.
     */
    record UploadAnswered(
            String taskId,
            int attempt,
            org.metisfl.proto.v1.SubmitUpdateResponse response,
            io.grpc.StatusRuntimeException error)
            implements Event {}

    /** Wakes the task loop (e.g. on close); carries nothing. */
    enum Wake implements Event {
        INSTANCE
    }

    private final long generation;
    private final Consumer<Event> sink;
    private volatile ClientCallStreamObserver<StreamTasksRequest> call;

    TaskStreamObserver(long generation, Consumer<Event> sink) {
        this.generation = generation;
        this.sink = sink;
    }

    long generation() {
        return generation;
    }

    /**
     * To be given to the stream's stub: reports the response headers as {@link StreamEstablished}
     * (gRPC's stream observers do not see headers). A call that fails before it is established ends
     * with trailers only, so no headers are reported for it.
     */
    ClientInterceptor headersWatch() {
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(
                    MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(
                        next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        super.start(
                                new ForwardingClientCallListener.SimpleForwardingClientCallListener<
                                        R>(listener) {
                                    @Override
                                    public void onHeaders(Metadata responseHeaders) {
                                        sink.accept(new StreamEstablished(generation));
                                        super.onHeaders(responseHeaders);
                                    }
                                },
                                headers);
                    }
                };
            }
        };
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<StreamTasksRequest> requestStream) {
        this.call = requestStream;
    }

    @Override
    public void onNext(Task task) {
        sink.accept(new TaskArrived(generation, task));
    }

    @Override
    public void onError(Throwable t) {
        sink.accept(new StreamEnded(generation, Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
        sink.accept(new StreamEnded(generation, null));
    }

    /** Ends the call from the learner's side (it has been replaced by a new stream). */
    void cancel() {
        ClientCallStreamObserver<StreamTasksRequest> c = call;
        if (c != null) {
            c.cancel("replaced by a new task stream", null);
        }
    }
}
