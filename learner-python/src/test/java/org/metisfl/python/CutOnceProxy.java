package org.metisfl.python;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 that loses one acknowledgement: once a connection has carried {@code
 * threshold} bytes from the learner to the gateway (the update went through), it stops passing the
 * gateway's bytes back, and {@code cutAfterMillis} later resets that connection. The learner thus
 * never sees the gateway's answer to an update the gateway has; later connections pass untouched.
 */
final class CutOnceProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int upstreamPort;
    private final long threshold;
    private final long cutAfterMillis;
    private final AtomicBoolean cutDone = new AtomicBoolean();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    volatile boolean cut;

    CutOnceProxy(int upstreamPort, long threshold, long cutAfterMillis) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.upstreamPort = upstreamPort;
        this.threshold = threshold;
        this.cutAfterMillis = cutAfterMillis;
        Thread accept = new Thread(this::acceptLoop, "proxy-accept");
        accept.setDaemon(true);
        accept.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
                sockets.add(client);
                sockets.add(upstream);
                boolean tamper = !cutDone.get();
                AtomicLong sent = new AtomicLong();
                AtomicBoolean holdBack = new AtomicBoolean();
                pump(
                        client,
                        upstream,
                        n -> {
                            if (tamper
                                    && sent.addAndGet(n) >= threshold
                                    && cutDone.compareAndSet(false, true)) {
                                holdBack.set(true);
                                Thread cutter =
                                        new Thread(
                                                () -> {
                                                    sleep(cutAfterMillis);
                                                    cut = true;
                                                    closeQuietly(client);
                                                    closeQuietly(upstream);
                                                },
                                                "proxy-cut");
                                cutter.setDaemon(true);
                                cutter.start();
                            }
                            return true;
                        });
                pump(upstream, client, n -> !holdBack.get());
            } catch (IOException e) {
                return;
            }
        }
    }

    private interface Gate {
        /** Counts bytes about to be forwarded; false to drop them. */
        boolean pass(int n);
    }

    private static void pump(Socket from, Socket to, Gate gate) {
        Thread t =
                new Thread(
                        () -> {
                            byte[] buf = new byte[16 * 1024];
                            try (InputStream in = from.getInputStream();
                                    OutputStream out = to.getOutputStream()) {
                                int n;
                                while ((n = in.read(buf)) >= 0) {
                                    if (gate.pass(n)) {
                                        out.write(buf, 0, n);
                                        out.flush();
                                    }
                                }
                            } catch (IOException e) {
                                // the other side or the cutter closed the connection
                            } finally {
                                closeQuietly(from);
                                closeQuietly(to);
                            }
                        },
                        "proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}
