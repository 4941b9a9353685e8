package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * One SubmitUpdate call, driven from the calling thread: the header, then the data chunks sent only
 * while the transport is ready (so a large model is not copied into Netty's buffers all at once),
 * then a blocking wait for the gateway's acknowledgement.
 */
final class UpdateUpload implements ClientResponseObserver<UpdateChunk, SubmitUpdateResponse> {
    private final Object lock = new Object();
    private ClientCallStreamObserver<UpdateChunk> requests;
    private SubmitUpdateResponse response;
    private Throwable error;
    private boolean done;

    private UpdateUpload() {}

    /**
     * Uploads one update and returns the gateway's answer.
     *
     * @throws StatusRuntimeException if the call fails
     * @throws InterruptedException if the thread is interrupted (the call is cancelled)
     */
    static SubmitUpdateResponse run(
            ManagedChannel channel,
            CallCredentials credentials,
            UpdateHeader header,
            List<ByteString> chunks,
            Duration timeout)
            throws InterruptedException {
        UpdateUpload upload = new UpdateUpload();
        LearnerServiceGrpc.newStub(channel)
                .withCallCredentials(credentials)
                .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
                .submitUpdate(upload);
        try {
            return upload.send(header, chunks);
        } catch (InterruptedException e) {
            upload.requests.cancel("the learner was interrupted", e);
            throw e;
        }
    }

    private SubmitUpdateResponse send(UpdateHeader header, List<ByteString> chunks)
            throws InterruptedException {
        requests.onNext(UpdateChunk.newBuilder().setHeader(header).build());
        for (ByteString chunk : chunks) {
            if (!awaitReady()) {
                break;
            }
            requests.onNext(UpdateChunk.newBuilder().setData(chunk).build());
        }
        // Safe even if the gateway has already ended the call: gRPC then ignores the half-close.
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
                        .withDescription("the gateway ended SubmitUpdate without a response")
                        .asRuntimeException();
            }
            return response;
        }
    }

    /** Waits until the call can take another message; false if it has already ended. */
    private boolean awaitReady() throws InterruptedException {
        synchronized (lock) {
            // The timeout only guards against a missed wake-up; onReady normally notifies.
            while (!done && !requests.isReady()) {
                lock.wait(50);
            }
            return !done;
        }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<UpdateChunk> requestStream) {
        this.requests = requestStream;
        requestStream.setOnReadyHandler(
                () -> {
                    synchronized (lock) {
                        lock.notifyAll();
                    }
                });
    }

    @Override
    public void onNext(SubmitUpdateResponse value) {
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
