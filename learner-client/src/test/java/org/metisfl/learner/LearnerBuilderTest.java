package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class LearnerBuilderTest {

    private final FakeAdapter adapter = FakeAdapter.small();

    @Test
    void requiresAtLeastOneGateway() {
        assertThatThrownBy(() -> Learner.builder().adapter(adapter).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gateways is not set")
                .hasMessageContaining(".gateways(\"localhost:50051\")");
    }

    @Test
    void requiresAnAdapter() {
        assertThatThrownBy(() -> Learner.builder().gateways("localhost:50051").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adapter is not set")
                .hasMessageContaining("DeepLearning4jAdapter");
    }

    @Test
    void rejectsAGatewayWithoutAPortNamingTheValue() {
        assertThatThrownBy(
                        () ->
                                Learner.builder()
                                        .gateways("localhost:50051", "gateway-1")
                                        .adapter(adapter)
                                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'gateway-1'")
                .hasMessageContaining("host:port");
    }

    @Test
    void rejectsAPortOutOfRange() {
        assertThatThrownBy(() -> Learner.builder().gateways("h:70000").adapter(adapter).build())
                .hasMessageContaining("outside 1-65535");
    }

    @Test
    void rejectsABlankName() {
        assertThatThrownBy(
                        () -> Learner.builder().gateways("h:1").name(" ").adapter(adapter).build())
                .hasMessageContaining("name is blank");
    }

    @Test
    void acceptsHostNamesIpv4AndBracketedIpv6() {
        assertThatCode(
                        () ->
                                Learner.builder()
                                        .gateways(
                                                List.of(
                                                        "gw.example.org:1",
                                                        "10.0.0.1:2",
                                                        "[::1]:3"))
                                        .adapter(adapter)
                                        .build()
                                        .close())
                .doesNotThrowAnyException();
    }

    @Test
    void aClosedLearnerCannotRun() {
        Learner learner = Learner.builder().gateways("localhost:1").adapter(adapter).build();
        learner.close();

        assertThatThrownBy(learner::run)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }
}
