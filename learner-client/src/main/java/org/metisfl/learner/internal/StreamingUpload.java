package org.metisfl.learner.internal;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.function.Consumer;

/**
 * One client-streaming call driven from the calling thread: the messages are sent only while the
 * transport is ready, then the caller either waits for the single response ({@link #run}) or goes
 * on and hears of it later ({@link #send}). Updates ({@link UpdateUpload}, with their offsets and
 * checksum) and committee uploads go through it.
 */
final class StreamingUpload<Q, R> implements ClientResponseObserver<Q, R> {
    /** How a call ended: its response, or the failure (never both). */
    record Answer<R>(R response, StatusRuntimeException error) {}

    private final Object lock = new Object();
    private final Consumer<Answer<R>> onAnswer;
    private ClientCallStreamObserver<Q> requests;
    private R response;
    private Throwable error;
    private boolean done;

    private StreamingUpload(Consumer<Answer<R>> onAnswer) {
        this.onAnswer = onAnswer;
    }

    /**
     * Starts the call with {@code start} (e.g. {@code o -> stub.submitX(o)}), sends the messages
     * and returns the response.
     *
     * @throws StatusRuntimeException if the call fails
     * @throws InterruptedException if the thread is interrupted (the call is cancelled)
     */
    static <Q, R> R run(Consumer<ClientResponseObserver<Q, R>> start, List<Q> messages)
            throws InterruptedException {
        StreamingUpload<Q, R> upload = new StreamingUpload<>(null);
        start.accept(upload);
        try {
            upload.sendAll(messages);
            return upload.await();
        } catch (InterruptedException e) {
            upload.requests.cancel("the learner was interrupted", e);
            throw e;
        }
    }

    /**
     * Starts the call, sends the messages and half-closes it, then returns at once: {@code
     * onAnswer} is called exactly once, on one of gRPC's threads, with the response or the failure
     * (a call that fails while its messages are being sent stops sending and reports that).
     *
     * @throws InterruptedException if the thread is interrupted while sending (the call is
     *     cancelled, and {@code onAnswer} hears CANCELLED)
     */
    static <Q, R> void send(
            Consumer<ClientResponseObserver<Q, R>> start,
            List<Q> messages,
            Consumer<Answer<R>> onAnswer)
            throws InterruptedException {
        StreamingUpload<Q, R> upload = new StreamingUpload<>(onAnswer);
        start.accept(upload);
        try {
            upload.sendAll(messages);
        } catch (InterruptedException e) {
            upload.requests.cancel("the learner was interrupted", e);
            throw e;
        }
    }

    private void sendAll(List<Q> messages) throws InterruptedException {
        for (Q m : messages) {
            if (!awaitReady()) {
                return;
            }
            requests.onNext(m);
        }
        requests.onCompleted();
    }

    private R await() throws InterruptedException {
        synchronized (lock) {
            while (!done) {
                lock.wait();
            }
            Answer<R> a = answer();
            if (a.error() != null) {
                throw a.error();
            }
            return a.response();
        }
    }

    /** The call's outcome; only once done. */
    private Answer<R> answer() {
        if (error != null) {
            return new Answer<>(
                    null,
                    Status.fromThrowable(error)
                            .asRuntimeException(Status.trailersFromThrowable(error)));
        }
        if (response == null) {
            return new Answer<>(
                    null,
                    Status.INTERNAL
                            .withDescription("the gateway ended the call without a response")
                            .asRuntimeException());
        }
        return new Answer<>(response, null);
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
        finish(t);
    }

    @Override
    public void onCompleted() {
        finish(null);
    }

    private void finish(Throwable t) {
        Answer<R> a;
        synchronized (lock) {
            error = t;
            done = true;
            lock.notifyAll();
            a = onAnswer == null ? null : answer();
        }
        if (a != null) {
            onAnswer.accept(a);
        }
    }
}
