package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClosePolicyTest {
    private final ClosePolicy policy = new ClosePolicy(0.6, 10_000);

    @Test
    void theQuorumIsTheCeilingOfTheFractionAndAtLeastOne() {
        assertThat(policy.quorumOf(5)).isEqualTo(3);
        assertThat(policy.quorumOf(4)).isEqualTo(3); // 2.4 -> 3
        assertThat(policy.quorumOf(1)).isEqualTo(1);
        assertThat(new ClosePolicy(0.1, 1).quorumOf(2)).isEqualTo(1);
        assertThat(new ClosePolicy(0.5, 1).quorumOf(10)).as("exact").isEqualTo(5);
    }

    @Test
    void aRoundClosesWhenAllContributedOrAtTheDeadlineWithAQuorum() {
        assertThat(policy.closes(5, 5, false)).isTrue();
        assertThat(policy.closes(4, 5, false)).isFalse();
        assertThat(policy.closes(3, 5, true)).isTrue();
        assertThat(policy.closes(2, 5, true)).isFalse();
        assertThat(policy.aborts(2, 5)).isTrue();
        assertThat(policy.aborts(3, 5)).isFalse();
    }

    @Test
    void aRestartGivesAFreshDeadlineOnlyWhenLessThanHalfARoundIsLeft() {
        assertThat(policy.deadline(1_000)).isEqualTo(11_000);
        assertThat(policy.afterRestart(11_000, 5_000)).isEqualTo(11_000);
        assertThat(policy.afterRestart(11_000, 6_001)).isEqualTo(16_001);
    }
}
