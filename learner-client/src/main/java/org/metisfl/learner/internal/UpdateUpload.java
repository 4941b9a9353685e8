package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * One SubmitUpdate call, driven from the calling thread: the header, then the data chunks sent only
 * while the transport is ready (so a large model is not copied into Netty's buffers all at once),
 * then a blocking wait for the gateway's acknowledgement. Each data chunk carries its offset and
 * the header the CRC-32C of all of them, so the gateway refuses reordered, missing or corrupted
 * bytes.
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
        requests.onNext(
                UpdateChunk.newBuilder()
                        .setHeader(header.toBuilder().setCrc32C(crc32c(chunks)))
                        .build());
        long offset = 0;
        for (ByteString chunk : chunks) {
            if (!awaitReady()) {
                break;
            }
            requests.onNext(UpdateChunk.newBuilder().setData(chunk).setOffset(offset).build());
            offset += chunk.size();
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

    /**
     * The CRC-32C of the chunks' bytes in order, as the gateway checks it (learner-protocol.md).
     */
    static int crc32c(List<ByteString> chunks) {
        CRC32C crc = new CRC32C();
        for (ByteString chunk : chunks) {
            for (ByteBuffer part : chunk.asReadOnlyByteBufferList()) {
                crc.update(part);
            }
        }
        return (int) crc.getValue();
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
