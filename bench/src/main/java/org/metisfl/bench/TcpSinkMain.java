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
 */
public final class TcpSinkMain {
    private TcpSinkMain() {}

    public static void main(String[] args) throws IOException {
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
