package org.metisfl.transport;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A received request whose one large bytes field may be views of gRPC's receive buffers instead of
 * a copy of them ({@link ZeroCopyMarshaller}). Read that field with {@link #bytes()} (read-only
 * buffers, in order) and {@link #bytesSize()}, never through the message: while the message views
 * transport buffers its {@link #message()} has the field unset. The views are valid until {@link
 * #close()}, which gives the buffers back to the transport, so whoever reads them decodes or copies
 * what it needs before then.
 *
 * <p>Protobuf's {@code ByteString} cannot view a direct buffer without copying it (since protobuf
 * 4, {@code UnsafeByteOperations.unsafeWrap} copies non-array buffers), hence the views beside the
 * message.
 *
 * @param <T> the message type
 */
public final class LeasedMessage<T extends Message> implements AutoCloseable {
    private final T message;
    private final FieldDescriptor field;
    private final List<ByteBuffer> views;
    private final long size;
    private InputStream buffers;

    LeasedMessage(
            T message,
            FieldDescriptor field,
            List<ByteBuffer> views,
            long size,
            InputStream buffers) {
        this.message = message;
        this.field = field;
        this.views = views;
        this.size = size;
        this.buffers = buffers;
    }

    /** A message that holds no transport buffer: its bytes field is read from the message. */
    public static <T extends Message> LeasedMessage<T> owned(T message, int bytesField) {
        FieldDescriptor f = message.getDescriptorForType().findFieldByNumber(bytesField);
        if (f == null || f.getType() != FieldDescriptor.Type.BYTES || f.isRepeated()) {
            throw new IllegalArgumentException(
                    message.getDescriptorForType().getFullName()
                            + " has no singular bytes field number "
                            + bytesField);
        }
        return new LeasedMessage<>(message, f, null, -1, null);
    }

    /**
     * An observer of plain messages (parsed by gRPC's own marshaller, e.g. on the in-process
     * transport) that hands them to {@code leased} as owned leases.
     */
    public static <T extends Message> StreamObserver<T> owning(
            StreamObserver<LeasedMessage<T>> leased, int bytesField) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                leased.onNext(owned(value, bytesField));
            }

            @Override
            public void onError(Throwable t) {
                leased.onError(t);
            }

            @Override
            public void onCompleted() {
                leased.onCompleted();
            }
        };
    }

    /**
     * The message; while it {@linkplain #viewsTransportBuffers() views transport buffers}, without
     * its bytes field.
     */
    public T message() {
        return message;
    }

    /** The bytes field: read-only buffers, in order (no copy when the message is leased). */
    public List<ByteBuffer> bytes() {
        if (views == null) {
            return ((ByteString) message.getField(field)).asReadOnlyByteBufferList();
        }
        List<ByteBuffer> out = new ArrayList<>(views.size());
        for (ByteBuffer b : views) {
            out.add(b.duplicate());
        }
        return out;
    }

    /** The bytes field's length. */
    public long bytesSize() {
        return views == null ? ((ByteString) message.getField(field)).size() : size;
    }

    /** True if the bytes field was present on the wire (or, for an owned message, is set). */
    public boolean hasBytes() {
        return views != null
                || (field.hasPresence()
                        ? message.hasField(field)
                        : !((ByteString) message.getField(field)).isEmpty());
    }

    /** True while the bytes field views transport buffers (it was not copied). */
    public boolean viewsTransportBuffers() {
        return views != null;
    }

    /**
     * The whole message, the bytes field copied in: what protobuf's parser makes of the wire bytes.
     * For tests and for code that needs a plain message.
     */
    @SuppressWarnings("unchecked")
    public T materialize() {
        if (views == null) {
            return message;
        }
        ByteString.Output copy = ByteString.newOutput((int) size);
        for (ByteBuffer b : bytes()) {
            byte[] chunk = new byte[b.remaining()];
            b.get(chunk);
            copy.write(chunk, 0, chunk.length);
        }
        return (T) message.toBuilder().setField(field, copy.toByteString()).build();
    }

    /** Releases the transport buffers the bytes field views (idempotent). */
    @Override
    public void close() {
        InputStream b = buffers;
        buffers = null;
        if (b != null) {
            try {
                b.close();
            } catch (IOException e) {
                // gRPC's buffer streams do not throw on close; nothing is left to release
            }
        }
    }
}
