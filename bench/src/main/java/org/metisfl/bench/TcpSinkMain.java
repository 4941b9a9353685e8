package org.metisfl.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * The loopback-TCP limit's server, in a process of its own like the controller: a plain socket
 * sink. On each connection it reads, round after round, an 8-byte count then that many bytes into
 * one reused direct buffer (discarding them), and answers one byte when all have arrived. Prints
 * {@code READY port}; runs until killed.
 *
 * <p>Usage: {@code TcpSinkMain [<certificate chain> <key>]}: with the two PEM files it serves the
 * same over TLS (the JDK's own JSSE, blocking sockets, a thread per connection).
 */
public final class TcpSinkMain {
    private TcpSinkMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length >= 2) {
            serveTls(
                    BenchTls.serverContext(
                            java.nio.file.Path.of(args[0]), java.nio.file.Path.of(args[1])));
            return;
        }
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", 0));
        System.out.println("READY " + ((InetSocketAddress) server.getLocalAddress()).getPort());
        System.out.flush();
        while (true) {
            SocketChannel c = server.accept();
            Thread t = new Thread(() -> drain(c), "tcp-sink");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void serveTls(javax.net.ssl.SSLContext context) throws IOException {
        javax.net.ssl.SSLServerSocket server =
                (javax.net.ssl.SSLServerSocket)
                        context.getServerSocketFactory()
                                .createServerSocket(
                                        0, 64, java.net.InetAddress.getLoopbackAddress());
        System.out.println("READY " + server.getLocalPort());
        System.out.flush();
        while (true) {
            java.net.Socket c = server.accept();
            Thread t = new Thread(() -> drainTls(c), "tls-sink");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void drainTls(java.net.Socket c) {
        byte[] buffer = new byte[1 << 20];
        try (c;
                java.io.DataInputStream in =
                        new java.io.DataInputStream(
                                new java.io.BufferedInputStream(c.getInputStream(), 1 << 16))) {
            java.io.OutputStream out = c.getOutputStream();
            while (true) {
                long left = in.readLong();
                while (left > 0) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                    if (n < 0) {
                        return;
                    }
                    left -= n;
                }
                out.write(0);
                out.flush();
            }
        } catch (IOException e) {
            // the driver closed the connection
        }
    }

    private static void drain(SocketChannel c) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
        ByteBuffer count = ByteBuffer.allocate(Long.BYTES);
        ByteBuffer ack = ByteBuffer.allocate(1);
        try (c) {
            while (true) {
                count.clear();
                while (count.hasRemaining()) {
                    if (c.read(count) < 0) {
                        return;
                    }
                }
                long left = count.flip().getLong();
                while (left > 0) {
                    buffer.clear();
                    if (left < buffer.capacity()) {
                        buffer.limit((int) left);
                    }
                    int n = c.read(buffer);
                    if (n < 0) {
                        return;
                    }
                    left -= n;
                }
                ack.clear();
                c.write(ack);
            }
        } catch (IOException e) {
            // the driver closed the connection
        }
    }
}
