package org.metisfl.bench;

import java.nio.file.Path;
import java.time.Duration;
import org.metisfl.simulator.DiscardingGateway;
import org.metisfl.transport.TransportSecurity;

/**
 * The raw-gRPC limit's server in a process of its own, like the controller: a {@link
 * DiscardingGateway} with the real gateway's thread layout. Prints {@code READY port}, then {@code
 * DONE} after the last round.
 *
 * <p>Usage: {@code DiscardingMain <values> <participants> <rounds> [<certificate chain> <key>]}:
 * with the two PEM files it serves TLS, like the job's learner port. Its transport settings are the
 * gateway's ({@link org.metisfl.transport.WireTuning#defaults()}) unless the benchmark's {@code
 * metisfl.bench.wire.*} system properties say otherwise ({@link Limits.Wire}).
 */
public final class DiscardingMain {
    private DiscardingMain() {}

    public static void main(String[] args) throws Exception {
        TransportSecurity transport =
                args.length >= 5
                        ? TransportSecurity.builder()
                                .mode(TransportSecurity.Mode.TLS)
                                .certificateChain(Path.of(args[3]))
                                .privateKey(Path.of(args[4]))
                                .build()
                        : TransportSecurity.insecure();
        Limits.Wire wire = Limits.Wire.fromSystemProperties();
        try (DiscardingGateway g =
                DiscardingGateway.builder()
                        .modelValues(Long.parseLong(args[0]))
                        .participants(Integer.parseInt(args[1]))
                        .rounds(Integer.parseInt(args[2]))
                        .transport(transport)
                        .wire(wire.server())
                        .directExecutor(wire.directExecutor())
                        .maxMessageBytes(Math.max(4 << 20, wire.chunkBytes() + (64 << 10)))
                        .build()
                        .start()) {
            System.out.println("READY " + g.port());
            System.out.flush();
            boolean done = g.awaitFinished(Duration.ofMinutes(10));
            System.out.println(done ? "DONE" : "TIMEOUT");
            System.out.flush();
        }
        System.exit(0);
    }
}
