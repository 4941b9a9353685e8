package org.metisfl.flink.security;

import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * What the fuzz test sends below the generated stubs: gRPC calls whose messages are arbitrary bytes
 * (so the server's own parsers meet them), and raw TCP connections carrying garbage, half a TLS
 * hello or half an HTTP/2 frame.
 */
final class RawProbes {
    private RawProbes() {}

    private static final MethodDescriptor.Marshaller<byte[]> BYTES =
            new MethodDescriptor.Marshaller<>() {
                @Override
                public InputStream stream(byte[] value) {
                    return new ByteArrayInputStream(value);
                }

                @Override
                public byte[] parse(InputStream stream) {
                    try {
                        return stream.readAllBytes();
                    } catch (IOException e) {
                        throw Status.INTERNAL.withCause(e).asRuntimeException();
                    }
                }
            };

    /** {@code method} with its messages as raw bytes. */
    static MethodDescriptor<byte[], byte[]> raw(MethodDescriptor<?, ?> method) {
        return MethodDescriptor.newBuilder(BYTES, BYTES)
                .setType(method.getType())
                .setFullMethodName(method.getFullMethodName())
                .build();
    }

    /**
     * Calls {@code method} with exactly these messages (half-closing after them if asked); the
     * status the call ended with.
     */
    static CompletableFuture<Status> call(
            Channel channel,
            MethodDescriptor<?, ?> method,
            List<byte[]> messages,
            boolean halfClose,
            CallCredentials credentials,
            Metadata extra,
            Duration deadline) {
        CompletableFuture<Status> end = new CompletableFuture<>();
        CallOptions options =
                CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
        if (credentials != null) {
            options = options.withCallCredentials(credentials);
        }
        ClientCall<byte[], byte[]> call = channel.newCall(raw(method), options);
        call.start(
                new ClientCall.Listener<>() {
                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        end.complete(status);
                    }
                },
                extra == null ? new Metadata() : extra);
        call.request(Integer.MAX_VALUE);
        try {
            for (byte[] m : messages) {
                call.sendMessage(m);
            }
            if (halfClose) {
                call.halfClose();
            }
        } catch (RuntimeException e) {
            call.cancel("the client failed to send", e);
        }
        return end;
    }

    /** Trusts any certificate: the probes test the server's handling of bytes, not its identity. */
    static SSLContext trustingAnything() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(
                null,
                new TrustManager[] {
                    new X509TrustManager() {
                        @Override
                        public void checkClientTrusted(X509Certificate[] c, String a) {}

                        @Override
                        public void checkServerTrusted(X509Certificate[] c, String a) {}

                        @Override
                        public X509Certificate[] getAcceptedIssuers() {
                            return new X509Certificate[0];
                        }
                    }
                },
                new SecureRandom());
        return ctx;
    }

    /** The first bytes a TLS client sends: its ClientHello record, as the JDK writes it. */
    static byte[] clientHello() throws Exception {
        SSLEngine engine = trustingAnything().createSSLEngine("localhost", 443);
        engine.setUseClientMode(true);
        engine.beginHandshake();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    /** How a raw connection ended, and after how long. */
    record Ended(String probe, int port, boolean closedByServer, Duration after) {}

    /**
     * Sends {@code bytes} on a plain TCP connection and waits up to {@code bound} for the server to
     * close it.
     */
    static Ended plain(String probe, int port, byte[] bytes, Duration bound) {
        long start = System.nanoTime();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            return awaitClose(probe, port, s, start, bound);
        } catch (IOException e) {
            return new Ended(probe, port, true, since(start));
        }
    }

    /**
     * Completes a TLS handshake (ALPN h2, any certificate), sends {@code bytes} inside it and waits
     * up to {@code bound} for the server to close the connection.
     */
    static Ended overTls(String probe, int port, byte[] bytes, Duration bound) {
        long start = System.nanoTime();
        try (SSLSocket s =
                (SSLSocket)
                        trustingAnything()
                                .getSocketFactory()
                                .createSocket(
                                        new Socket("127.0.0.1", port), "localhost", port, true)) {
            SSLParameters p = s.getSSLParameters();
            p.setApplicationProtocols(new String[] {"h2"});
            s.setSSLParameters(p);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
            return awaitClose(probe, port, s, start, bound);
        } catch (Exception e) {
            return new Ended(probe, port, true, since(start));
        }
    }

    private static Ended awaitClose(String probe, int port, Socket s, long start, Duration bound)
            throws IOException {
        long end = start + bound.toNanos();
        byte[] buffer = new byte[4096];
        while (true) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return new Ended(probe, port, false, since(start));
            }
            s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            try {
                if (s.getInputStream().read(buffer) < 0) {
                    return new Ended(probe, port, true, since(start));
                }
            } catch (SocketTimeoutException stillOpen) {
                return new Ended(probe, port, false, since(start));
            } catch (IOException reset) {
                return new Ended(probe, port, true, since(start));
            }
        }
    }

    private static Duration since(long start) {
        return Duration.ofNanos(System.nanoTime() - start);
    }

    static final byte[] HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes();

    /** The HTTP/2 preface, an empty SETTINGS frame, then the first part of {@code frame}. */
    static byte[] prefaceAnd(byte[] frame, int keep) {
        byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
        byte[] all = new byte[HTTP2_PREFACE.length + settings.length + keep];
        System.arraycopy(HTTP2_PREFACE, 0, all, 0, HTTP2_PREFACE.length);
        System.arraycopy(settings, 0, all, HTTP2_PREFACE.length, settings.length);
        System.arraycopy(frame, 0, all, HTTP2_PREFACE.length + settings.length, keep);
        return all;
    }

    /** A HEADERS frame header announcing {@code length} bytes on stream 1, and a few of them. */
    static byte[] headersFrame(int length) {
        byte[] f = Arrays.copyOf(new byte[] {0, 0, 0, 1, 4, 0, 0, 0, 1}, 9 + 16);
        f[0] = (byte) (length >>> 16);
        f[1] = (byte) (length >>> 8);
        f[2] = (byte) length;
        return f;
    }
}
