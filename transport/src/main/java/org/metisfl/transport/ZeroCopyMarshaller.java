package org.metisfl.transport;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Parses a protobuf request so that one large {@code bytes} field is not copied: the field is
 * handed over as read-only views of gRPC's receive buffers (one per buffer its bytes span), which
 * the {@link LeasedMessage} holds until it is closed. The message's other fields (including unknown
 * ones) are parsed by protobuf's own parser from a copy of their bytes, which is small next to the
 * field.
 *
 * <p>gRPC's own protobuf marshaller copies a message twice before the application sees it (the
 * receive buffers into a scratch array, then the field out of it into its {@code ByteString}); with
 * this one the first copy of the field's bytes is the application's decoding.
 *
 * <p>The result, {@linkplain LeasedMessage#materialize() materialized}, equals what protobuf's
 * parser makes of the same bytes. The fast path applies when the field occurs exactly once, with
 * the length-delimited wire type, and no other member of its {@code oneof} occurs; any other
 * message (no such field, repeated occurrences, groups, malformed bytes), and any stream that does
 * not expose gRPC's buffers ({@link Detachable} and {@link HasByteBuffer}, as the Netty transport's
 * do), is parsed from a copy by protobuf, which also reports malformed input ({@code INTERNAL:
 * Invalid protobuf byte sequence}, as gRPC's marshaller).
 *
 * @param <T> the message type
 */
public final class ZeroCopyMarshaller<T extends Message>
        implements MethodDescriptor.Marshaller<LeasedMessage<T>> {
    private static final int LENGTH_DELIMITED = 2;

    private final T prototype;
    private final Parser<T> parser;
    private final FieldDescriptor field;
    private final Set<Integer> exclusive = new HashSet<>();
    private final MethodDescriptor.Marshaller<T> delegate;

    private ZeroCopyMarshaller(T prototype, FieldDescriptor field) {
        this.prototype = prototype;
        @SuppressWarnings("unchecked")
        Parser<T> p = (Parser<T>) prototype.getParserForType();
        this.parser = p;
        this.field = field;
        OneofDescriptor oneof = field.getRealContainingOneof();
        if (oneof != null) {
            for (FieldDescriptor f : oneof.getFields()) {
                if (f.getNumber() != field.getNumber()) {
                    exclusive.add(f.getNumber());
                }
            }
        }
        this.delegate = ProtoUtils.marshaller(prototype);
    }

    /**
     * A marshaller of {@code prototype}'s type whose bytes field number {@code fieldNumber} is not
     * copied.
     *
     * @throws IllegalArgumentException if that field is not a singular {@code bytes} field
     */
    public static <T extends Message> ZeroCopyMarshaller<T> of(T prototype, int fieldNumber) {
        FieldDescriptor f = prototype.getDescriptorForType().findFieldByNumber(fieldNumber);
        if (f == null || f.getType() != FieldDescriptor.Type.BYTES || f.isRepeated()) {
            throw new IllegalArgumentException(
                    prototype.getDescriptorForType().getFullName()
                            + " has no singular bytes field number "
                            + fieldNumber);
        }
        return new ZeroCopyMarshaller<>(prototype, f);
    }

    @Override
    public InputStream stream(LeasedMessage<T> value) {
        return delegate.stream(value.materialize());
    }

    @Override
    public LeasedMessage<T> parse(InputStream stream) {
        if (!(stream instanceof Detachable)
                || !(stream instanceof HasByteBuffer)
                || !((HasByteBuffer) stream).byteBufferSupported()
                || !stream.markSupported()) {
            return LeasedMessage.owned(copyAndParse(readAll(stream)), field.getNumber());
        }
        InputStream owned = ((Detachable) stream).detach();
        boolean leased = false;
        try {
            // Marked, gRPC's composite buffer keeps the buffers it has read past instead of
            // releasing them, so the views below stay valid until `owned` is closed.
            owned.mark(Integer.MAX_VALUE);
            List<ByteBuffer> parts = views(owned);
            if (parts == null) {
                owned.reset();
                return LeasedMessage.owned(copyAndParse(readAll(owned)), field.getNumber());
            }
            LeasedMessage<T> message = parse(parts, owned);
            if (message == null) {
                return LeasedMessage.owned(copyAndParse(concat(parts)), field.getNumber());
            }
            leased = true;
            return message;
        } catch (IOException e) {
            throw Status.INTERNAL
                    .withDescription("could not read a received message")
                    .withCause(e)
                    .asRuntimeException();
        } finally {
            if (!leased) {
                try {
                    owned.close();
                } catch (IOException e) {
                    // nothing is left to release
                }
            }
        }
    }

    /**
     * The message in {@code parts} (read-only views, in order) with the field viewing them, held by
     * {@code buffers}; or null when it must be parsed from a copy (see the class comment).
     */
    LeasedMessage<T> parse(List<ByteBuffer> parts, InputStream buffers) {
        Wire w = new Wire(parts);
        long size = w.size;
        long dataFrom = -1;
        long dataTo = -1;
        List<long[]> rest = new ArrayList<>();
        long restBytes = 0;
        while (w.offset < size) {
            long tagAt = w.offset;
            long tag = w.varint();
            if (w.malformed || tag > 0xFFFF_FFFFL) {
                return null;
            }
            int number = (int) (tag >>> 3);
            int type = (int) (tag & 7);
            if (number == 0) {
                return null;
            }
            switch (type) {
                case 0 -> w.varint();
                case 1 -> w.skip(8);
                case LENGTH_DELIMITED -> {
                    long length = w.varint();
                    if (w.malformed || length < 0 || length > Integer.MAX_VALUE) {
                        return null;
                    }
                    long valueAt = w.offset;
                    w.skip(length);
                    if (!w.malformed && number == field.getNumber()) {
                        if (dataFrom >= 0) {
                            return null; // repeated: protobuf keeps the last one
                        }
                        dataFrom = valueAt;
                        dataTo = w.offset;
                        continue;
                    }
                }
                case 5 -> w.skip(4);
                default -> {
                    return null; // groups and invalid wire types: protobuf's business
                }
            }
            if (w.malformed || number == field.getNumber() || exclusive.contains(number)) {
                return null;
            }
            rest.add(new long[] {tagAt, w.offset});
            restBytes += w.offset - tagAt;
        }
        if (dataFrom < 0) {
            return null;
        }
        byte[] others = new byte[(int) restBytes];
        int at = 0;
        for (long[] r : rest) {
            w.copy(r[0], r[1], others, at);
            at += (int) (r[1] - r[0]);
        }
        T base;
        try {
            base = parser.parseFrom(others);
        } catch (InvalidProtocolBufferException e) {
            return null; // reported by the parse of the whole message
        }
        List<ByteBuffer> views = new ArrayList<>();
        for (ByteBuffer b : w.slices(dataFrom, dataTo)) {
            views.add(b.asReadOnlyBuffer());
        }
        return new LeasedMessage<>(base, field, List.copyOf(views), dataTo - dataFrom, buffers);
    }

    private T copyAndParse(byte[] bytes) {
        if (bytes.length == 0) {
            return prototype;
        }
        try {
            return parser.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw Status.INTERNAL
                    .withDescription("Invalid protobuf byte sequence")
                    .withCause(e)
                    .asRuntimeException();
        }
    }

    /**
     * Read-only views of the stream's buffers, consumed; null if the stream does not offer them.
     */
    private static List<ByteBuffer> views(InputStream in) throws IOException {
        List<ByteBuffer> parts = new ArrayList<>();
        HasByteBuffer buffers = (HasByteBuffer) in;
        int empty = 0;
        while (in.available() > 0) {
            ByteBuffer b = buffers.getByteBuffer();
            if (b == null) {
                return null;
            }
            int n = b.remaining();
            if (n == 0 && ++empty > 2) {
                return null; // the stream does not move on to its next buffer
            }
            if (n > 0) {
                empty = 0;
                parts.add(b.asReadOnlyBuffer());
            }
            // skipping moves to the next buffer (an empty skip too, past an exhausted one)
            in.skip(n);
        }
        return parts;
    }

    private static byte[] readAll(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw Status.INTERNAL
                    .withDescription("could not read a received message")
                    .withCause(e)
                    .asRuntimeException();
        }
    }

    private static byte[] concat(List<ByteBuffer> parts) {
        long size = 0;
        for (ByteBuffer b : parts) {
            size += b.remaining();
        }
        byte[] out = new byte[Math.toIntExact(size)];
        int at = 0;
        for (ByteBuffer b : parts) {
            int n = b.remaining();
            b.duplicate().get(out, at, n);
            at += n;
        }
        return out;
    }

    /** A cursor over the bytes of consecutive buffers, by absolute offset. */
    private static final class Wire {
        private final List<ByteBuffer> parts;
        private final long[] starts;
        private final long size;
        private long offset;
        private int part;

        /** True once a varint or a length ran past the end: protobuf's parse says why. */
        private boolean malformed;

        Wire(List<ByteBuffer> parts) {
            this.parts = parts;
            this.starts = new long[parts.size() + 1];
            for (int i = 0; i < parts.size(); i++) {
                starts[i + 1] = starts[i] + parts.get(i).remaining();
            }
            this.size = starts[parts.size()];
        }

        /** The next varint (an unsigned 64-bit value); sets {@link #malformed} if cut off. */
        long varint() {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (offset >= size) {
                    malformed = true;
                    return 0;
                }
                int b = byteAt(offset++);
                value |= (long) (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    return value;
                }
            }
            malformed = true; // more than 10 bytes
            return 0;
        }

        /** Moves past {@code n} bytes; sets {@link #malformed} if there are fewer. */
        void skip(long n) {
            if (n < 0 || n > size - offset) {
                malformed = true;
                offset = size;
            } else {
                offset += n;
            }
        }

        private int byteAt(long at) {
            while (at >= starts[part + 1]) {
                part++;
            }
            while (at < starts[part]) {
                part--;
            }
            ByteBuffer b = parts.get(part);
            return b.get(b.position() + (int) (at - starts[part])) & 0xff;
        }

        void copy(long from, long to, byte[] into, int at) {
            for (ByteBuffer s : slices(from, to)) {
                int n = s.remaining();
                s.get(into, at, n);
                at += n;
            }
        }

        /** Views of the bytes [from, to), one per buffer they span. */
        List<ByteBuffer> slices(long from, long to) {
            List<ByteBuffer> out = new ArrayList<>();
            for (int i = 0; i < parts.size() && from < to; i++) {
                if (starts[i + 1] <= from) {
                    continue;
                }
                ByteBuffer b = parts.get(i);
                int begin = (int) (from - starts[i]);
                int end = (int) (Math.min(to, starts[i + 1]) - starts[i]);
                ByteBuffer s = b.duplicate();
                s.limit(b.position() + end);
                s.position(b.position() + begin);
                out.add(s.slice());
                from = starts[i] + end;
            }
            return out;
        }
    }
}
