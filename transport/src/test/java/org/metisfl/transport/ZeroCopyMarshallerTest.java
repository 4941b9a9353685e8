package org.metisfl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

class ZeroCopyMarshallerTest {
    private final ZeroCopyMarshaller<UpdateChunk> marshaller =
            ZeroCopyMarshaller.of(UpdateChunk.getDefaultInstance(), UpdateChunk.DATA_FIELD_NUMBER);

    @Test
    void parsesRandomChunksExactlyAsProtobufDoesWhateverTheBufferBoundaries() throws Exception {
        Random random = new Random(20261206);
        int leased = 0;
        for (int i = 0; i < 2_000; i++) {
            byte[] wire = randomChunk(random);
            UpdateChunk expected = UpdateChunk.parseFrom(wire);
            List<ByteBuffer> parts = split(wire, random);
            FakeStream stream = new FakeStream(parts);
            try (LeasedMessage<UpdateChunk> got = marshaller.parse(stream)) {
                assertThat(got.materialize()).as("message %d", i).isEqualTo(expected);
                assertThat(got.materialize().toByteString())
                        .as("message %d re-serialized", i)
                        .isEqualTo(expected.toByteString());
                assertThat(got.bytesSize()).isEqualTo(expected.getData().size());
                assertThat(concat(got.bytes())).isEqualTo(expected.getData().toByteArray());
                if (got.viewsTransportBuffers()) {
                    leased++;
                    assertThat(got.message().hasData())
                            .as("the field is left to the views")
                            .isFalse();
                    assertThat(stream.released()).as("buffers held while leased").isFalse();
                } else {
                    assertThat(stream.released()).as("buffers released at once").isTrue();
                }
            }
            assertThat(stream.released()).isTrue();
        }
        assertThat(leased).as("chunks that took the zero-copy path").isGreaterThan(1_000);
    }

    @Test
    void dataOfEdgeSizesIsAViewOfTheReceivedBuffersNotACopy() throws Exception {
        for (int size : new int[] {0, 1, 3, 4, 5, 127, 128, 129, 16_383, 16_384, 1 << 20}) {
            byte[] data = new byte[size];
            new Random(size).nextBytes(data);
            byte[] wire =
                    UpdateChunk.newBuilder()
                            .setData(ByteString.copyFrom(data))
                            .build()
                            .toByteArray();
            // direct buffers of 16 KiB, as Netty's frames arrive
            List<ByteBuffer> parts = new ArrayList<>();
            for (int off = 0; off < wire.length; off += 16_384) {
                int n = Math.min(16_384, wire.length - off);
                parts.add(ByteBuffer.allocateDirect(n).put(wire, off, n).flip());
            }
            FakeStream stream = new FakeStream(parts);
            try (LeasedMessage<UpdateChunk> got = marshaller.parse(stream)) {
                assertThat(got.viewsTransportBuffers()).isTrue();
                assertThat(got.hasBytes()).isTrue();
                assertThat(got.materialize().getPartCase()).isEqualTo(UpdateChunk.PartCase.DATA);
                assertThat(concat(got.bytes())).isEqualTo(data);
                if (size > 0) {
                    for (ByteBuffer b : got.bytes()) {
                        assertThat(b.isDirect()).as("a view of the direct buffer").isTrue();
                        assertThat(b.isReadOnly()).isTrue();
                    }
                    // writing the received buffer shows through: the field was not copied
                    ByteBuffer last = parts.get(parts.size() - 1);
                    int at = last.limit() - 1;
                    last.put(at, (byte) (last.get(at) + 1));
                    byte[] seen = concat(got.bytes());
                    assertThat(seen[size - 1]).isEqualTo((byte) (data[size - 1] + 1));
                }
            }
        }
    }

    @Test
    void headerChunksAreCopiedAndTheBuffersReleasedAtOnce() throws Exception {
        UpdateChunk header =
                UpdateChunk.newBuilder()
                        .setHeader(
                                UpdateHeader.newBuilder()
                                        .setCredentials(Credentials.newBuilder().setLearnerId("a"))
                                        .setRound(3))
                        .build();
        FakeStream stream = new FakeStream(List.of(ByteBuffer.wrap(header.toByteArray())));
        LeasedMessage<UpdateChunk> got = marshaller.parse(stream);
        assertThat(got.viewsTransportBuffers()).isFalse();
        assertThat(stream.released()).isTrue();
        assertThat(got.message()).isEqualTo(header);
    }

    @Test
    void malformedBytesFailLikeGrpcsOwnMarshaller() {
        byte[] truncated =
                UpdateChunk.newBuilder()
                        .setData(ByteString.copyFrom(new byte[100]))
                        .build()
                        .toByteArray();
        byte[] cut = java.util.Arrays.copyOf(truncated, 50);
        assertThatThrownBy(() -> UpdateChunk.parseFrom(cut))
                .isInstanceOf(InvalidProtocolBufferException.class);
        FakeStream stream = new FakeStream(List.of(ByteBuffer.wrap(cut)));
        assertThatThrownBy(() -> marshaller.parse(stream))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
        assertThat(stream.released()).isTrue();
    }

    @Test
    void streamsWithoutGrpcBuffersAreParsedFromACopy() throws Exception {
        UpdateChunk chunk =
                UpdateChunk.newBuilder().setData(ByteString.copyFromUtf8("values")).build();
        LeasedMessage<UpdateChunk> got =
                marshaller.parse(new ByteArrayInputStream(chunk.toByteArray()));
        assertThat(got.viewsTransportBuffers()).isFalse();
        assertThat(got.message()).isEqualTo(chunk);
        assertThat(marshaller.parse(new ByteArrayInputStream(new byte[0])).message())
                .isEqualTo(UpdateChunk.getDefaultInstance());
    }

    @Test
    void refusesAFieldThatIsNotASingularBytesField() {
        assertThatThrownBy(
                        () ->
                                ZeroCopyMarshaller.of(
                                        UpdateChunk.getDefaultInstance(),
                                        UpdateChunk.HEADER_FIELD_NUMBER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no singular bytes field number 1");
    }

    /**
     * The wire bytes of an UpdateChunk written field by field in random order: usually one data
     * field among unknown fields of every wire type, sometimes a header, a second data field, a
     * header after the data, a group, or nothing.
     */
    static byte[] randomChunk(Random random) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        int fields = random.nextInt(6);
        int dataAt = random.nextInt(10) == 0 ? -1 : random.nextInt(fields + 1);
        for (int f = 0; f <= fields; f++) {
            if (f == dataAt) {
                out.writeBytes(UpdateChunk.DATA_FIELD_NUMBER, randomBytes(random));
                if (random.nextInt(20) == 0) {
                    out.writeBytes(UpdateChunk.DATA_FIELD_NUMBER, randomBytes(random));
                }
                continue;
            }
            int number = 3 + random.nextInt(2_000);
            switch (random.nextInt(8)) {
                case 0 -> out.writeUInt64(number, random.nextLong());
                case 1 -> out.writeFixed64(number, random.nextLong());
                case 2 -> out.writeFixed32(number, random.nextInt());
                case 3 -> out.writeBytes(number, randomBytes(random));
                case 4 -> out.writeInt64(number, -random.nextInt(1000)); // 10-byte varints
                case 5 -> {
                    if (random.nextInt(5) == 0) {
                        out.writeMessage(
                                UpdateChunk.HEADER_FIELD_NUMBER,
                                UpdateHeader.newBuilder()
                                        .setRound(random.nextInt(100))
                                        .setTaskId("t" + random.nextInt(100))
                                        .build());
                    } else {
                        out.writeUInt32(number, random.nextInt(1 << 20));
                    }
                }
                case 6 -> {
                    if (random.nextInt(10) == 0) {
                        out.writeTag(number, 3); // a group with one varint inside
                        out.writeUInt32(1, 7);
                        out.writeTag(number, 4);
                    } else {
                        out.writeBool(number, random.nextBoolean());
                    }
                }
                default -> out.writeString(number, "s" + random.nextInt());
            }
        }
        out.flush();
        return bytes.toByteArray();
    }

    private static ByteString randomBytes(Random random) {
        int size =
                switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(8);
                    case 1 -> random.nextInt(300);
                    case 2 -> random.nextInt(20_000);
                    default -> random.nextInt(200_000);
                };
        byte[] b = new byte[size];
        random.nextBytes(b);
        return ByteString.copyFrom(b);
    }

    static byte[] concat(List<ByteBuffer> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer b : parts) {
            byte[] chunk = new byte[b.remaining()];
            b.duplicate().get(chunk);
            out.writeBytes(chunk);
        }
        return out.toByteArray();
    }

    /** The bytes cut at random places into heap and direct buffers (some of one byte). */
    static List<ByteBuffer> split(byte[] wire, Random random) {
        List<ByteBuffer> parts = new ArrayList<>();
        int off = 0;
        while (off < wire.length) {
            int n =
                    Math.min(
                            wire.length - off,
                            random.nextBoolean()
                                    ? 1 + random.nextInt(4)
                                    : 1 + random.nextInt(40_000));
            ByteBuffer b =
                    random.nextBoolean() ? ByteBuffer.allocateDirect(n) : ByteBuffer.allocate(n);
            b.put(wire, off, n).flip();
            parts.add(b);
            off += n;
        }
        return parts;
    }

    /**
     * A stream over buffers with gRPC's receive-side capabilities (known length, buffer access,
     * detaching, mark): what the Netty transport hands a marshaller. Records when it is released.
     */
    static final class FakeStream extends InputStream
            implements KnownLength, HasByteBuffer, Detachable {
        private List<ByteBuffer> buffers;
        private int index;
        private int markIndex = -1;
        private int[] markPositions;
        private boolean detached;
        private final AtomicBoolean released;

        FakeStream(List<ByteBuffer> buffers) {
            this(buffers, new AtomicBoolean());
        }

        private FakeStream(List<ByteBuffer> buffers, AtomicBoolean released) {
            this.buffers = new ArrayList<>(buffers);
            this.released = released;
        }

        @Override
        public int available() {
            long n = 0;
            for (int i = index; i < buffers.size(); i++) {
                n += buffers.get(i).remaining();
            }
            return (int) n;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (available() == 0) {
                return -1;
            }
            int done = 0;
            while (done < len && index < buffers.size()) {
                ByteBuffer cur = buffers.get(index);
                int n = Math.min(len - done, cur.remaining());
                cur.get(b, off + done, n);
                done += n;
                if (!cur.hasRemaining()) {
                    index++;
                }
            }
            return done;
        }

        @Override
        public long skip(long n) {
            long done = 0;
            while (index < buffers.size() && (done < n || !buffers.get(index).hasRemaining())) {
                ByteBuffer cur = buffers.get(index);
                int k = (int) Math.min(n - done, cur.remaining());
                cur.position(cur.position() + k);
                done += k;
                if (!cur.hasRemaining()) {
                    index++;
                }
            }
            return done;
        }

        @Override
        public boolean markSupported() {
            return true;
        }

        @Override
        public void mark(int limit) {
            markIndex = index;
            markPositions = new int[buffers.size()];
            for (int i = 0; i < buffers.size(); i++) {
                markPositions[i] = buffers.get(i).position();
            }
        }

        @Override
        public void reset() {
            index = markIndex;
            for (int i = 0; i < buffers.size(); i++) {
                buffers.get(i).position(markPositions[i]);
            }
        }

        @Override
        public boolean byteBufferSupported() {
            return true;
        }

        @Override
        public ByteBuffer getByteBuffer() {
            return index < buffers.size() ? buffers.get(index).duplicate() : null;
        }

        @Override
        public InputStream detach() {
            FakeStream d = new FakeStream(buffers.subList(index, buffers.size()), released);
            buffers = new ArrayList<>();
            index = 0;
            detached = true;
            return d;
        }

        /** Closing gives the buffers back, unless they were detached to another stream. */
        @Override
        public void close() {
            if (!detached) {
                released.set(true);
            }
        }

        boolean released() {
            return released.get();
        }
    }
}
