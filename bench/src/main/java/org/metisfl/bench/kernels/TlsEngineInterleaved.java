package org.metisfl.bench.kernels;

import io.grpc.netty.shaded.io.netty.buffer.UnpooledByteBufAllocator;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.metisfl.transport.DevCertificates;

/**
 * What the TLS record layer alone costs on this machine, without sockets, HTTP/2 or gRPC: a client
 * engine encrypts (wrap) 16 KiB records of update bytes and a server engine decrypts (unwrap) them,
 * in one thread, with gRPC's bundled BoringSSL (netty-tcnative, the engine gRPC's TLS uses here)
 * and with the JDK's JSSE, interleaved round by round so the machine's load hits both alike. The
 * certificates are the project's development ones ({@link DevCertificates}).
 *
 * <p>Usage: {@code TlsEngineInterleaved [rounds] [MiB per round]}; prints GB/s (min, median) and
 * CPU seconds per GB of encrypt + decrypt for each engine, and the negotiated cipher suite.
 */
public final class TlsEngineInterleaved {
    private static final int RECORD = 16 * 1024;

    private TlsEngineInterleaved() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        Path dir = Files.createTempDirectory("metisfl-tls-engine");
        DevCertificates pki = DevCertificates.in(dir);
        pki.createAuthority(List.of(), Duration.ofDays(1));
        SslProvider[] providers = {SslProvider.OPENSSL, SslProvider.JDK};
        Pair[] pairs = new Pair[providers.length];
        for (int i = 0; i < providers.length; i++) {
            pairs[i] = new Pair(providers[i], pki);
        }
        byte[] payload = new byte[RECORD];
        new java.util.Random(42).nextBytes(payload);
        List<List<Double>> rates = new ArrayList<>();
        double[] cpu = new double[providers.length];
        long[] bytes = new long[providers.length];
        for (int i = 0; i < providers.length; i++) {
            rates.add(new ArrayList<>());
            pairs[i].transfer(payload, 64L << 20); // warm-up
        }
        java.lang.management.ThreadMXBean threads =
                java.lang.management.ManagementFactory.getThreadMXBean();
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < providers.length; k++) {
                int i = (r % 2 == 0) ? k : providers.length - 1 - k;
                long total = (long) mib << 20;
                long cpu0 = threads.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                pairs[i].transfer(payload, total);
                long took = System.nanoTime() - t0;
                cpu[i] += (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
                bytes[i] += total;
                rates.get(i).add(total / (took / 1e9));
            }
        }
        String load = java.nio.file.Files.readString(Path.of("/proc/loadavg")).trim();
        System.out.printf(
                Locale.ROOT,
                "TLS record layer, %d rounds of %d MiB in %d-byte records, one thread (load %s)%n",
                rounds,
                mib,
                RECORD,
                load);
        System.out.println(
                "| engine | cipher suite | GB/s min | GB/s median | CPU s per GB (encrypt +"
                        + " decrypt) |");
        System.out.println("| --- | --- | --- | --- | --- |");
        for (int i = 0; i < providers.length; i++) {
            List<Double> v = rates.get(i);
            Collections.sort(v);
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %s %s | %.2f | %.2f | %.2f |%n",
                    providers[i] == SslProvider.OPENSSL ? "BoringSSL (netty-tcnative)" : "JDK JSSE",
                    pairs[i].client.getSession().getProtocol(),
                    pairs[i].client.getSession().getCipherSuite(),
                    v.get(0) / 1e9,
                    v.get(v.size() / 2) / 1e9,
                    cpu[i] / (bytes[i] / 1e9));
        }
        System.exit(0);
    }

    /** A connected client and server engine of one provider. */
    private static final class Pair {
        final SSLEngine client;
        final SSLEngine server;
        final ByteBuffer net;
        final ByteBuffer app;
        final ByteBuffer out;

        Pair(SslProvider provider, DevCertificates pki) throws Exception {
            SslContext sc =
                    SslContextBuilder.forServer(
                                    pki.gatewayCertificate().toFile(), pki.gatewayKey().toFile())
                            .sslProvider(provider)
                            .build();
            SslContext cc =
                    SslContextBuilder.forClient()
                            .trustManager(pki.caCertificate().toFile())
                            .sslProvider(provider)
                            .build();
            client = cc.newEngine(UnpooledByteBufAllocator.DEFAULT, "localhost", 443);
            server = sc.newEngine(UnpooledByteBufAllocator.DEFAULT);
            int packet = Math.max(client.getSession().getPacketBufferSize(), 1 << 16);
            net = ByteBuffer.allocateDirect(packet * 4);
            app = ByteBuffer.allocateDirect(packet * 4);
            out = ByteBuffer.allocateDirect(RECORD);
            handshake();
        }

        private void handshake() throws SSLException {
            ByteBuffer c2s = ByteBuffer.allocateDirect(1 << 17);
            ByteBuffer s2c = ByteBuffer.allocateDirect(1 << 17);
            ByteBuffer empty = ByteBuffer.allocateDirect(0);
            ByteBuffer sink = ByteBuffer.allocateDirect(1 << 17);
            client.beginHandshake();
            server.beginHandshake();
            for (int i = 0; i < 1000; i++) {
                if (done(client) && done(server)) {
                    return;
                }
                step(client, empty, c2s, s2c, sink);
                step(server, empty, s2c, c2s, sink);
            }
            throw new SSLException("the TLS handshake did not finish");
        }

        private static boolean done(SSLEngine e) {
            HandshakeStatus h = e.getHandshakeStatus();
            return h == HandshakeStatus.FINISHED || h == HandshakeStatus.NOT_HANDSHAKING;
        }

        /**
         * One handshake step of {@code e}: runs tasks, writes to {@code to}, reads {@code from}.
         */
        private static void step(
                SSLEngine e, ByteBuffer empty, ByteBuffer to, ByteBuffer from, ByteBuffer sink)
                throws SSLException {
            Runnable task;
            while ((task = e.getDelegatedTask()) != null) {
                task.run();
            }
            e.wrap(empty, to);
            from.flip();
            while (from.hasRemaining()) {
                SSLEngineResult r = e.unwrap(from, sink);
                sink.clear();
                while ((task = e.getDelegatedTask()) != null) {
                    task.run();
                }
                if (r.getStatus() != SSLEngineResult.Status.OK || r.bytesConsumed() == 0) {
                    break;
                }
            }
            from.compact();
        }

        /**
         * Encrypts {@code total} bytes at the client and decrypts them at the server, a record's
         * worth of plaintext at a time (an engine may take less than a record per wrap).
         */
        void transfer(byte[] payload, long total) throws SSLException {
            out.clear();
            out.put(payload).flip();
            for (long sent = 0; sent < total; sent += RECORD) {
                out.rewind();
                long decrypted = 0;
                while (out.hasRemaining()) {
                    net.clear();
                    SSLEngineResult w = client.wrap(out, net);
                    if (w.getStatus() != SSLEngineResult.Status.OK) {
                        throw new SSLException("wrap: " + w);
                    }
                    net.flip();
                    while (net.hasRemaining()) {
                        app.clear();
                        SSLEngineResult u = server.unwrap(net, app);
                        if (u.getStatus() != SSLEngineResult.Status.OK) {
                            throw new SSLException("unwrap: " + u);
                        }
                        decrypted += u.bytesProduced();
                    }
                }
                if (decrypted != RECORD) {
                    throw new SSLException(
                            "decrypted " + decrypted + " bytes of " + RECORD + " encrypted");
                }
            }
        }
    }
}
