package org.metisfl.transport;

import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;

/**
 * Binds a client-streaming gRPC method so that its requests are parsed by a {@link
 * ZeroCopyMarshaller}: the method's implementation receives {@link LeasedMessage}s whose large
 * bytes field views gRPC's receive buffers, and each is closed (its buffers given back) as soon as
 * the implementation's {@code onNext} returns. The implementation must therefore decode or copy the
 * field inside {@code onNext} and never keep the views afterwards.
 *
 * <pre>{@code
 * server.addService(ZeroCopyRequests.bind(
 *         new LearnerServiceImpl(...).bindService(),
 *         LearnerServiceGrpc.getSubmitUpdateMethod(),
 *         UpdateChunk.DATA_FIELD_NUMBER,
 *         response -> UpdateReceiver.start(state, response)));
 * }</pre>
 */
public final class ZeroCopyRequests {
    private ZeroCopyRequests() {}

    /**
     * {@code service} with {@code method} served by {@code implementation} on leased requests whose
     * bytes field {@code bytesField} is not copied; every other method as it was.
     *
     * @throws IllegalArgumentException if the method is not a client-streaming method of the
     *     service, or the field is not a singular bytes field of its request type
     */
    public static <T extends Message, R> ServerServiceDefinition bind(
            ServerServiceDefinition service,
            MethodDescriptor<T, R> method,
            int bytesField,
            Function<StreamObserver<R>, StreamObserver<LeasedMessage<T>>> implementation) {
        if (service.getMethod(method.getFullMethodName()) == null) {
            throw new IllegalArgumentException(
                    service.getServiceDescriptor().getName()
                            + " has no method "
                            + method.getFullMethodName());
        }
        if (method.getType() != MethodDescriptor.MethodType.CLIENT_STREAMING) {
            throw new IllegalArgumentException(
                    method.getFullMethodName() + " is not a client-streaming method");
        }
        @SuppressWarnings("unchecked")
        T prototype =
                ((MethodDescriptor.PrototypeMarshaller<T>) method.getRequestMarshaller())
                        .getMessagePrototype();
        MethodDescriptor<LeasedMessage<T>, R> leased =
                method.toBuilder(
                                ZeroCopyMarshaller.of(prototype, bytesField),
                                method.getResponseMarshaller())
                        .build();
        ServiceDescriptor old = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor =
                ServiceDescriptor.newBuilder(old.getName())
                        .setSchemaDescriptor(old.getSchemaDescriptor());
        for (MethodDescriptor<?, ?> m : old.getMethods()) {
            descriptor.addMethod(
                    m.getFullMethodName().equals(method.getFullMethodName()) ? leased : m);
        }
        ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            if (m.getMethodDescriptor().getFullMethodName().equals(method.getFullMethodName())) {
                out.addMethod(
                        leased,
                        ServerCalls.asyncClientStreamingCall(
                                response -> releasing(implementation.apply(response))));
            } else {
                out.addMethod(m);
            }
        }
        return out.build();
    }

    /** Closes each lease once the implementation's {@code onNext} returned. */
    private static <T extends Message> StreamObserver<LeasedMessage<T>> releasing(
            StreamObserver<LeasedMessage<T>> inner) {
        return new StreamObserver<>() {
            @Override
            public void onNext(LeasedMessage<T> value) {
                try {
                    inner.onNext(value);
                } finally {
                    value.close();
                }
            }

            @Override
            public void onError(Throwable t) {
                inner.onError(t);
            }

            @Override
            public void onCompleted() {
                inner.onCompleted();
            }
        };
    }
}
