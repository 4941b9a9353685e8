package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.flink.model.AggregateCarriage;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.PublishResponse;
import org.metisfl.transport.BearerToken;

/**
 * Receives the model sink's directives (new model, next round, the end) for one gateway. The
 * model's data chunks are kept as received (protobuf byte strings are immutable), not concatenated.
 */
public final class GatewayControlServiceImpl
        extends GatewayControlServiceGrpc.GatewayControlServiceImplBase {
    private final GatewayState state;
    private final byte[] credential;

    /**
     * @param credential the control credential the model sink presents (derived from the federation
     *     secret for this purpose; see {@link TokenAuthority#controlToken()})
     */
    public GatewayControlServiceImpl(GatewayState state, String credential) {
        this.state = state;
        this.credential = credential.getBytes(StandardCharsets.UTF_8);
    }

    GatewayState state() {
        return state;
    }

    private boolean isModelSink(String presented) {
        return presented != null
                && MessageDigest.isEqual(credential, presented.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Applies a directive, received over gRPC or handed over in this JVM ({@link LocalGateways}):
     * the caller has authenticated the model sink; this checks the model's size.
     *
     * @param chunks the model's bytes, or null without a model
     * @return null, or what is wrong with it
     */
    String apply(DirectiveHeader header, List<ByteString> chunks) {
        long bytes = 0;
        for (ByteString c : chunks == null ? List.<ByteString>of() : chunks) {
            bytes += c.size();
        }
        long announced = header.getModelBytes() + AggregateCarriage.announcedBytes(header);
        if (bytes != announced) {
            return "model bytes " + bytes + " but the header announces " + announced;
        }
        AggregateCarriage.Attached directive;
        try {
            // Threshold decryption: an aggregate's chunks follow the model's.
            directive = AggregateCarriage.attach(header, chunks);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        state.apply(directive.header(), directive.modelChunks());
        return null;
    }

    @Override
    public StreamObserver<DirectiveChunk> publish(StreamObserver<PublishResponse> response) {
        return new StreamObserver<>() {
            private DirectiveHeader header;
            private List<ByteString> chunks;
            private long missingBytes;
            private boolean failed;

            @Override
            public void onNext(DirectiveChunk chunk) {
                if (failed) {
                    return;
                }
                if (header == null) {
                    if (!chunk.hasHeader() || !isModelSink(BearerToken.current())) {
                        failed = true;
                        response.onError(
                                Status.PERMISSION_DENIED
                                        .withDescription("not the job's model sink")
                                        .asRuntimeException());
                        return;
                    }
                    header = chunk.getHeader();
                    long announced =
                            header.getModelBytes() + AggregateCarriage.announcedBytes(header);
                    if (announced > 0) {
                        chunks = new ArrayList<>();
                        missingBytes = announced;
                    }
                    return;
                }
                ByteString data = chunk.getData();
                if (chunks == null || data.size() > missingBytes) {
                    failed = true;
                    response.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription("more model bytes than announced")
                                    .asRuntimeException());
                    return;
                }
                chunks.add(data);
                missingBytes -= data.size();
            }

            @Override
            public void onError(Throwable t) {
                failed = true;
            }

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                if (header == null || missingBytes > 0) {
                    response.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription("incomplete directive")
                                    .asRuntimeException());
                    return;
                }
                String problem = apply(header, chunks);
                if (problem != null) {
                    response.onError(
                            Status.INVALID_ARGUMENT.withDescription(problem).asRuntimeException());
                    return;
                }
                response.onNext(PublishResponse.getDefaultInstance());
                response.onCompleted();
            }
        };
    }
}
