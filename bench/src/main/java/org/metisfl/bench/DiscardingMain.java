package org.metisfl.bench;

import java.time.Duration;
import org.metisfl.simulator.DiscardingGateway;

/**
 * The raw-gRPC limit's server in a process of its own, like the controller: a {@link
 * DiscardingGateway} with the real gateway's thread layout. Prints {@code READY port}, then {@code
 * DONE} after the last round.
 *
 * <p>Usage: {@code DiscardingMain <values> <participants> <rounds>}.
 */
public final class DiscardingMain {
    private DiscardingMain() {}

    public static void main(String[] args) throws Exception {
        try (DiscardingGateway g =
                DiscardingGateway.builder()
                        .modelValues(Long.parseLong(args[0]))
                        .participants(Integer.parseInt(args[1]))
                        .rounds(Integer.parseInt(args[2]))
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
