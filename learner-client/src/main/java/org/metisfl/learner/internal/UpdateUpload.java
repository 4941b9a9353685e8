package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * One SubmitUpdate call, driven from the calling thread ({@link StreamingUpload}): the header, then
 * the data chunks sent only while the transport is ready (so a large model is not copied into
 * Netty's buffers all at once); the gateway's acknowledgement comes later, to a callback. Each data
 * chunk carries its offset and the header the CRC-32C of all of them, so the gateway refuses
 * reordered, missing or corrupted bytes.
 */
final class UpdateUpload {
    private UpdateUpload() {}

    /**
     * Sends one update (header, then chunks as the transport becomes ready), half-closes the call
     * and returns; {@code onAnswer} hears the gateway's answer or the call's failure, once, on one
     * of gRPC's threads. The answer comes once the update is in a completed checkpoint.
     *
     * @throws InterruptedException if the thread is interrupted while sending (the call is
     *     cancelled)
     */
    static void send(
            ManagedChannel channel,
            CallCredentials credentials,
            UpdateHeader header,
            List<ByteString> chunks,
            Duration timeout,
            Consumer<StreamingUpload.Answer<SubmitUpdateResponse>> onAnswer)
            throws InterruptedException {
        LearnerServiceGrpc.LearnerServiceStub stub =
                LearnerServiceGrpc.newStub(channel)
                        .withCallCredentials(credentials)
                        .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
        StreamingUpload.send(stub::submitUpdate, messages(header, chunks), onAnswer);
    }

    private static List<UpdateChunk> messages(UpdateHeader header, List<ByteString> chunks) {
        List<UpdateChunk> messages = new ArrayList<>(chunks.size() + 1);
        messages.add(
                UpdateChunk.newBuilder()
                        .setHeader(header.toBuilder().setCrc32C(crc32c(chunks)))
                        .build());
        long offset = 0;
        for (ByteString chunk : chunks) {
            messages.add(UpdateChunk.newBuilder().setData(chunk).setOffset(offset).build());
            offset += chunk.size();
        }
        return messages;
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
}
