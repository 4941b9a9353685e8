package org.metisfl.transport;

import io.grpc.CallCredentials;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * A bearer token in the standard {@code authorization} metadata, sent as gRPC call credentials (so
 * it never sits in a request message, a log line of one, or a heap dump of the request) and read on
 * the server by an interceptor into the call's {@link Context}.
 */
public final class BearerToken {
    public static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String SCHEME = "Bearer ";
    private static final Context.Key<String> KEY = Context.key("metisfl-bearer-token");

    /** Longest token the server reads (a header above it is refused before any parsing). */
    public static final int MAX_TOKEN_LENGTH = 1024;

    private BearerToken() {}

    /**
     * Call credentials sending the token {@code token} returns at each call (so a renewed token is
     * used at once); nothing is sent while it returns null. Refuses to send a token over a
     * plaintext channel unless {@code allowInsecure}.
     */
    public static CallCredentials credentials(Supplier<String> token, boolean allowInsecure) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(
                    RequestInfo info, Executor appExecutor, MetadataApplier applier) {
                String t = token.get();
                Metadata headers = new Metadata();
                if (t != null) {
                    if (info.getSecurityLevel() != SecurityLevel.PRIVACY_AND_INTEGRITY
                            && !allowInsecure) {
                        applier.fail(
                                Status.UNAUTHENTICATED.withDescription(
                                        "refusing to send a credential over a plaintext channel:"
                                                + " use TLS, or insecure mode for local"
                                                + " development only"));
                        return;
                    }
                    headers.put(AUTHORIZATION, SCHEME + t);
                }
                applier.apply(headers);
            }
        };
    }

    /** The bearer token of the current server call, or null if it sent none. */
    public static String current() {
        return KEY.get();
    }

    /** The server interceptor that reads the token of every call. */
    public static ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                String value = headers.get(AUTHORIZATION);
                if (value == null) {
                    return next.startCall(call, headers);
                }
                if (!value.startsWith(SCHEME)
                        || value.length() > SCHEME.length() + MAX_TOKEN_LENGTH) {
                    call.close(
                            Status.UNAUTHENTICATED.withDescription(
                                    "malformed authorization header: expected 'Bearer <token>'"
                                            + " of at most "
                                            + MAX_TOKEN_LENGTH
                                            + " characters"),
                            new Metadata());
                    return new ServerCall.Listener<>() {};
                }
                return Contexts.interceptCall(
                        Context.current().withValue(KEY, value.substring(SCHEME.length())),
                        call,
                        headers,
                        next);
            }
        };
    }
}
