package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class OutstandingUpdatesTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void pipelinedUpdatesLetTrainingGoOnUntilTwoAwaitTheirAnswer() {
        OutstandingUpdates<String> o = new OutstandingUpdates<>();
        assertThat(o.mayStartTraining(true)).isTrue();
        assertThat(o.mayStartTraining(false)).isTrue();

        o.add("a-1", 3, true, "u1", 0, 0);
        assertThat(o.mayStartTraining(true)).isTrue();
        assertThat(o.mayStartTraining(false)).as("a synchronous task waits").isFalse();
        assertThat(o.mayStartOther()).as("an evaluation does not wait").isTrue();

        o.add("a-2", 4, true, "u2", SECOND, 0);
        assertThat(o.size()).isEqualTo(OutstandingUpdates.MAX_PIPELINED).isEqualTo(2);
        assertThat(o.mayStartTraining(true)).isFalse();
        assertThatThrownBy(() -> o.add("a-3", 5, true, "u3", 2 * SECOND, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a-3")
                .hasMessageContaining("task a-1 of round 3, 2.0 s")
                .hasMessageContaining("task a-2 of round 4, 1.0 s");
        assertThat(o.peak()).isEqualTo(2);

        assertThat(o.remove("a-1").payload()).isEqualTo("u1");
        assertThat(o.mayStartTraining(true)).isTrue();
        o.add("a-3", 5, true, "u3", 2 * SECOND, 0);
        assertThat(o.inOrder())
                .extracting(OutstandingUpdates.Entry::taskId)
                .containsExactly("a-2", "a-3");
        assertThat(o.peak()).isEqualTo(2);
    }

    @Test
    void anUpdateThatIsNotPipelinedIsAnsweredBeforeAnythingElseStarts() {
        OutstandingUpdates<String> o = new OutstandingUpdates<>();
        o.add("r1/train", 1, false, "u", 0, 0);
        assertThat(o.mayStartTraining(true)).isFalse();
        assertThat(o.mayStartTraining(false)).isFalse();
        assertThat(o.mayStartOther()).isFalse();
        assertThatThrownBy(() -> o.add("a-1", 1, true, "v", 0, 0))
                .isInstanceOf(IllegalStateException.class);
        o.remove("r1/train");
        assertThat(o.isEmpty()).isTrue();
        assertThat(o.mayStartOther()).isTrue();
        assertThat(o.describe(0)).isEqualTo("none");
    }

    @Test
    void aSecondUpdateOfTheSameTaskIsRefused() {
        OutstandingUpdates<String> o = new OutstandingUpdates<>();
        o.add("a-1", 1, true, "u", 0, 0);
        assertThatThrownBy(() -> o.add("a-1", 1, true, "u", 0, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already awaiting its answer");
    }

    @Test
    void resendsCountAttemptsSoThatAFailureOfAReplacedCallIsStale() {
        OutstandingUpdates<String> o = new OutstandingUpdates<>();
        OutstandingUpdates.Entry<String> e = o.add("a-1", 1, true, "u", 0, 7);
        assertThat(e.attempt()).isEqualTo(1);
        assertThat(e.sentOn()).isEqualTo(7);
        assertThat(o.isCurrent("a-1", 1)).isTrue();

        assertThat(o.resend(e, 8)).isEqualTo(2);
        assertThat(e.sentOn()).isEqualTo(8);
        assertThat(o.isCurrent("a-1", 1)).as("the first call's failure").isFalse();
        assertThat(o.isCurrent("a-1", 2)).isTrue();
        assertThat(o.get("a-1")).isSameAs(e);

        o.remove("a-1");
        assertThat(o.isCurrent("a-1", 2)).isFalse();
        assertThat(o.get("a-1")).isNull();
        assertThat(o.remove("a-1")).isNull();
        assertThatThrownBy(() -> o.resend(e, 9)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void describesWhatIsOutstandingForTheLog() {
        OutstandingUpdates<String> o = new OutstandingUpdates<>();
        o.add("a-7", 12, true, "u", 0, 0);
        o.add("a-9", 13, true, "v", SECOND / 2, 0);
        assertThat(o.describe(3 * SECOND / 2))
                .isEqualTo("2 (task a-7 of round 12, 1.5 s; task a-9 of round 13, 1.0 s)");
    }
}
