package org.metisfl.learner.internal;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.function.Consumer;

/**
 * One client-streaming call driven from the calling thread: the messages are sent only while the
 * transport is ready, then the caller waits for the single response. Updates ({@link UpdateUpload},
 * with their offsets and checksum) and committee uploads go through it.
 */
final class StreamingUpload<Q, R> implements ClientResponseObserver<Q, R> {
    private final Object lock = new Object();
    private ClientCallStreamObserver<Q> requests;
    private R response;
    private Throwable error;
    private boolean done;

    private StreamingUpload() {}

    /**
     * Starts the call with {@code start} (e.g. {@code o -> stub.submitX(o)}), sends the messages
     * and returns the response.
     *
     * @throws StatusRuntimeException if the call fails
     * @throws InterruptedException if the thread is interrupted (the call is cancelled)
     */
    static <Q, R> R run(Consumer<ClientResponseObserver<Q, R>> start, List<Q> messages)
            throws InterruptedException {
        StreamingUpload<Q, R> upload = new StreamingUpload<>();
        start.accept(upload);
        try {
            return upload.send(messages);
        } catch (InterruptedException e) {
            upload.requests.cancel("the learner was interrupted", e);
            throw e;
        }
    }

    private R send(List<Q> messages) throws InterruptedException {
        for (Q m : messages) {
            if (!awaitReady()) {
                break;
            }
            requests.onNext(m);
        }
        requests.onCompleted();
        synchronized (lock) {
            while (!done) {
                lock.wait();
            }
            if (error != null) {
                throw Status.fromThrowable(error).asRuntimeException();
            }
            if (response == null) {
                throw Status.INTERNAL
                        .withDescription("the gateway ended the call without a response")
                        .asRuntimeException();
            }
            return response;
        }
    }

    private boolean awaitReady() throws InterruptedException {
        synchronized (lock) {
            while (!done && !requests.isReady()) {
                lock.wait(50);
            }
            return !done;
        }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
        this.requests = requestStream;
        requestStream.setOnReadyHandler(
                () -> {
                    synchronized (lock) {
                        lock.notifyAll();
                    }
                });
    }

    @Override
    public void onNext(R value) {
        synchronized (lock) {
            response = value;
        }
    }

    @Override
    public void onError(Throwable t) {
        synchronized (lock) {
            error = t;
            done = true;
            lock.notifyAll();
        }
    }

    @Override
    public void onCompleted() {
        synchronized (lock) {
            done = true;
            lock.notifyAll();
        }
    }
}
