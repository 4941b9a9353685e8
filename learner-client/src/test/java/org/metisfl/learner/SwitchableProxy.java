package org.metisfl.learner;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 in front of one gateway port that can make the gateway unreachable for
 * its clients: {@link #cut()} resets every open connection and closes each new one at once, {@link
 * #restore()} passes connections again. It counts the bytes clients sent through it.
 */
final class SwitchableProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int upstreamPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicLong bytesUp = new AtomicLong();
    private volatile boolean cut;

    SwitchableProxy(int upstreamPort) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.upstreamPort = upstreamPort;
        Thread accept = new Thread(this::acceptLoop, "proxy-accept-" + upstreamPort);
        accept.setDaemon(true);
        accept.start();
    }

    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** Bytes clients sent to the gateway through this proxy so far. */
    long bytesUp() {
        return bytesUp.get();
    }

    /** The gateway becomes unreachable: open connections reset, new ones closed at once. */
    void cut() {
        cut = true;
        for (Socket s : sockets) {
            reset(s);
        }
    }

    void restore() {
        cut = false;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                if (cut) {
                    reset(client);
                    continue;
                }
                Socket upstream;
                try {
                    upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
                } catch (IOException e) {
                    // The gateway is down (e.g. restarting): so is this connection.
                    reset(client);
                    continue;
                }
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(upstream);
                pump(client, upstream, true);
                pump(upstream, client, false);
            } catch (IOException e) {
                // the proxy is closed
            }
        }
    }

    private void pump(Socket from, Socket to, boolean up) {
        Thread t =
                new Thread(
                        () -> {
                            byte[] buffer = new byte[64 * 1024];
                            try (InputStream in = from.getInputStream();
                                    OutputStream out = to.getOutputStream()) {
                                int n;
                                while ((n = in.read(buffer)) >= 0) {
                                    if (cut) {
                                        break;
                                    }
                                    out.write(buffer, 0, n);
                                    out.flush();
                                    if (up) {
                                        bytesUp.addAndGet(n);
                                    }
                                }
                            } catch (IOException e) {
                                // a side closed
                            } finally {
                                reset(from);
                                reset(to);
                            }
                        },
                        "proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
            s.close();
        } catch (IOException e) {
            // already closed
        }
        sockets.remove(s);
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            reset(s);
        }
    }
}
