package org.metisfl.learner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.metisfl.proto.v1.Shutdown;
import org.metisfl.proto.v1.Task;
import org.metisfl.transport.TransportSecurity;

/**
 * The learner unit tests' setup: one {@link FakeGateway} and the learners of this library on it
 * ("alice"), all closed after each test, with the tasks and waits the tests script.
 *
 * <pre>{@code
 * @RegisterExtension final FakeGatewayFixture fixture = FakeGatewayFixture.timeout(TIMEOUT);
 *
 * FakeGateway gateway = fixture.start(1);
 * gateway.enqueue(train("t1", 1, 0), shutdown("done"));
 * LearnerSummary summary = fixture.runToEnd(fixture.learner(adapter, fastOptions().build()));
 * }</pre>
 */
final class FakeGatewayFixture implements AfterEachCallback {
    private final Duration timeout;
    private FakeGateway gateway;
    private final List<Learner> learners = new ArrayList<>();

    private FakeGatewayFixture(Duration timeout) {
        this.timeout = timeout;
    }

    /** A fixture whose waits ({@link #runToEnd}, {@link #await}) give up after {@code timeout}. */
    static FakeGatewayFixture timeout(Duration timeout) {
        return new FakeGatewayFixture(timeout);
    }

    /** Starts the test's gateway on {@code servers} Netty servers (127.0.0.1, port 0). */
    FakeGateway start(int servers) throws Exception {
        gateway = FakeGateway.start(servers);
        return gateway;
    }

    /** Plaintext, 5 s calls, 10 s transfers, reconnect waits of 20 to 100 ms. */
    static LearnerOptions.Builder fastOptions() {
        return LearnerOptions.builder()
                .transportSecurity(TransportSecurity.insecure())
                .callTimeout(Duration.ofSeconds(5))
                .transferTimeout(Duration.ofSeconds(10))
                .reconnectInitialBackoff(Duration.ofMillis(20))
                .reconnectMaxBackoff(Duration.ofMillis(100));
    }

    /** The test's learner, "alice", on every address of the gateway; closed after the test. */
    Learner learner(ModelAdapter adapter, LearnerOptions options) {
        return closeAfter(
                Learner.builder()
                        .gateways(gateway.addresses())
                        .name("alice")
                        .adapter(adapter)
                        .options(options)
                        .build());
    }

    /** A learner the test built itself (e.g. on another address), closed after the test. */
    Learner closeAfter(Learner l) {
        learners.add(l);
        return l;
    }

    /** Runs the learner on a thread of its own until it ends; rethrows what it threw. */
    LearnerSummary runToEnd(Learner l) throws Exception {
        try {
            return LearnerThreads.runAsync(l).get(timeout.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** Waits until {@code condition} holds, polling every 10 ms. */
    void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + timeout);
            }
            Thread.sleep(10);
        }
    }

    /** A training task of one epoch in batches of 16. */
    static Task train(String id, long round, long modelVersion) {
        return Task.newBuilder()
                .setTaskId(id)
                .setRound(round)
                .setModelVersion(modelVersion)
                .setTrain(org.metisfl.proto.v1.TrainTask.newBuilder().setEpochs(1).setBatchSize(16))
                .build();
    }

    /** An evaluation task in batches of 64. */
    static Task evaluate(String id, long round, long modelVersion) {
        return Task.newBuilder()
                .setTaskId(id)
                .setRound(round)
                .setModelVersion(modelVersion)
                .setEvaluate(org.metisfl.proto.v1.EvaluateTask.newBuilder().setBatchSize(64))
                .build();
    }

    /** The federation's end, task id "shutdown". */
    static Task shutdown(String reason) {
        return Task.newBuilder()
                .setTaskId("shutdown")
                .setShutdown(Shutdown.newBuilder().setReason(reason))
                .build();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        for (Learner l : learners) {
            l.close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }
}
