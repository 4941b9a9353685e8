package org.metisfl.flink.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.transport.DevSecurity;

/**
 * An enrollment token's limit holds for the whole federation, not per gateway: with two gateways
 * (MiniCluster, RocksDB, TLS, real gRPC on 127.0.0.1) a single-use token admits one learner
 * whichever gateway it joins through, a token for three admits three of six learners joining at
 * once through both, and the uses held survive a savepoint and resume.
 */
class EnrollmentAcrossGatewaysITCase {
    @TempDir Path work;

    private static Map<String, String> settings(DevSecurity dev, Path work) throws Exception {
        Map<String, String> s = EnrolledFederation.settings(dev, work, 1, 50);
        s.put("gateway.parallelism", "2");
        s.put("job.parallelism", "2");
        return s;
    }

    /** Joins at {@code port} with {@code token}: the status code (OK if admitted). */
    private static Status.Code join(DevSecurity dev, int port, String token, String name)
            throws InterruptedException {
        try (TlsLearner l = new TlsLearner(dev, port)) {
            l.join(name, 10, token);
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                assertThat(e.getStatus().getDescription()).contains("used up");
            }
            return e.getStatus().getCode();
        }
    }

    @Test
    void aTokenAdmitsItsNumberOfLearnersAcrossBothGateways() throws Exception {
        DevSecurity dev = DevSecurity.ensure(work.resolve("certs"));
        try (FederationHarness h = FederationHarness.start(work, settings(dev, work))) {
            String single = dev.enrollmentToken(1);
            assertThat(join(dev, h.port(1), single, "a")).isEqualTo(Status.Code.OK);
            assertThat(join(dev, h.port(0), single, "b"))
                    .as("the other gateway")
                    .isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(join(dev, h.port(1), single, "c"))
                    .as("the same gateway")
                    .isEqualTo(Status.Code.UNAUTHENTICATED);

            // Six learners at once, three through each gateway, with a token for three joins.
            String three = dev.enrollmentToken(3);
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<Status.Code>> ends = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    int port = h.port(i % 2);
                    String name = "l" + i;
                    Callable<Status.Code> call = () -> join(dev, port, three, name);
                    ends.add(pool.submit(call));
                }
                int admitted = 0;
                for (Future<Status.Code> f : ends) {
                    Status.Code c = f.get(60, TimeUnit.SECONDS);
                    assertThat(c).isIn(Status.Code.OK, Status.Code.UNAUTHENTICATED);
                    admitted += c == Status.Code.OK ? 1 : 0;
                }
                assertThat(admitted).isEqualTo(3);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void theUsesHeldSurviveASavepointAndResume() throws Exception {
        DevSecurity dev = DevSecurity.ensure(work.resolve("certs"));
        String two = dev.enrollmentToken(2);
        FederationHarness h = FederationHarness.start(work, settings(dev, work));
        String savepoint;
        try {
            assertThat(join(dev, h.port(0), two, "a")).isEqualTo(Status.Code.OK);
            savepoint = h.federation().stopWithSavepoint(work.resolve("savepoints"));
        } finally {
            h.close();
        }
        try (FederationHarness resumed =
                FederationHarness.resume(work.resolve("resumed"), h.config(), savepoint)) {
            assertThat(join(dev, resumed.port(1), two, "b")).isEqualTo(Status.Code.OK);
            assertThatThrownBy(
                            () -> {
                                try (TlsLearner l = new TlsLearner(dev, resumed.port(0))) {
                                    l.join("c", 10, two);
                                }
                            })
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e ->
                                    assertThat(e.getStatus().getDescription())
                                            .contains("used up")
                                            .contains("2 join(s) in this federation"));
        }
    }
}
