package org.metisfl.flink.connector.gateway.server;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.io.InputStream;

/**
 * Answers a request that does not parse with {@code INVALID_ARGUMENT} and a reason, instead of
 * gRPC's own {@code UNKNOWN: Application error processing RPC} (what grpc-java answers when a
 * request marshaller throws): a learner learns its message was malformed, and an {@code UNKNOWN}
 * from the gateway keeps meaning a fault of the gateway.
 *
 * <p>Each method is rebound with a request marshaller that passes gRPC's input stream through
 * untouched; the original marshaller parses it at the start of {@code onMessage}, on the same
 * thread and before the stream is released, so a zero-copy marshaller ({@code ZeroCopyRequests})
 * keeps working.
 */
final class MalformedRequests {
    private MalformedRequests() {}

    private static final MethodDescriptor.Marshaller<InputStream> AS_IS =
            new MethodDescriptor.Marshaller<>() {
                @Override
                public InputStream stream(InputStream value) {
                    return value;
                }

                @Override
                public InputStream parse(InputStream stream) {
                    return stream;
                }
            };

    /** The service with every method's malformed requests refused as INVALID_ARGUMENT. */
    static ServerServiceDefinition refuse(ServerServiceDefinition service) {
        ServerServiceDefinition.Builder b =
                ServerServiceDefinition.builder(service.getServiceDescriptor().getName());
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            b.addMethod(rebind(m));
        }
        return b.build();
    }

    private static <Q, R> ServerMethodDefinition<InputStream, R> rebind(
            ServerMethodDefinition<Q, R> definition) {
        MethodDescriptor<Q, R> original = definition.getMethodDescriptor();
        MethodDescriptor<InputStream, R> raw =
                original.toBuilder(AS_IS, original.getResponseMarshaller()).build();
        ServerCallHandler<Q, R> handler = definition.getServerCallHandler();
        return ServerMethodDefinition.create(
                raw, (call, headers) -> start(original, handler, call, headers));
    }

    private static <Q, R> ServerCall.Listener<InputStream> start(
            MethodDescriptor<Q, R> original,
            ServerCallHandler<Q, R> handler,
            ServerCall<InputStream, R> call,
            Metadata headers) {
        Typed<Q, R> typed = new Typed<>(call, original);
        ServerCall.Listener<Q> listener = handler.startCall(typed, headers);
        return new ServerCall.Listener<>() {
            private boolean refused;

            @Override
            public void onMessage(InputStream message) {
                if (refused) {
                    return;
                }
                Q parsed;
                try {
                    parsed = original.parseRequest(message);
                } catch (RuntimeException malformed) {
                    refused = true;
                    typed.closeOnce(
                            Status.INVALID_ARGUMENT.withDescription(
                                    "malformed request message for "
                                            + original.getBareMethodName()
                                            + ": it is not a valid protobuf message of the"
                                            + " expected type; check the learner's protocol"
                                            + " version"),
                            new Metadata());
                    // As for a call that failed in gRPC: the handler hears it was cancelled and
                    // releases what it holds (an upload's slot and ingest room) at once.
                    listener.onCancel();
                    return;
                }
                listener.onMessage(parsed);
            }

            @Override
            public void onHalfClose() {
                if (!refused) {
                    listener.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                if (!refused) {
                    listener.onCancel();
                }
            }

            @Override
            public void onComplete() {
                if (!refused) {
                    listener.onComplete();
                }
            }

            @Override
            public void onReady() {
                if (!refused) {
                    listener.onReady();
                }
            }
        };
    }

    /** The call as the original handler expects it: its own method descriptor and types. */
    private static final class Typed<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<InputStream, R> call;
        private final MethodDescriptor<Q, R> method;
        private boolean closed;

        Typed(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method) {
            this.call = call;
            this.method = method;
        }

        /** Closes the call unless the handler already did (a call is closed once). */
        synchronized void closeOnce(Status status, Metadata trailers) {
            if (!closed) {
                closed = true;
                call.close(status, trailers);
            }
        }

        @Override
        public void request(int numMessages) {
            call.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            call.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            call.sendMessage(message);
        }

        @Override
        public synchronized void close(Status status, Metadata trailers) {
            if (!closed) {
                closed = true;
                call.close(status, trailers);
            }
        }

        @Override
        public boolean isReady() {
            return call.isReady();
        }

        @Override
        public boolean isCancelled() {
            return call.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            call.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            call.setCompression(compressor);
        }

        @Override
        public void setOnReadyThreshold(int numBytes) {
            call.setOnReadyThreshold(numBytes);
        }

        @Override
        public Attributes getAttributes() {
            return call.getAttributes();
        }

        @Override
        public String getAuthority() {
            return call.getAuthority();
        }

        @Override
        public io.grpc.SecurityLevel getSecurityLevel() {
            return call.getSecurityLevel();
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }
}
