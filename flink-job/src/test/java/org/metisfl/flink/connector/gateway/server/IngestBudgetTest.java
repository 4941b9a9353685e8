package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IngestBudgetTest {
    private final List<String> granted = new ArrayList<>();

    private IngestBudget.Reservation reserve(IngestBudget budget, String name, long bytes) {
        return budget.reserve(bytes, () -> granted.add(name));
    }

    @Test
    void grantsWhileTheBytesFitThenWaitsAndResumesInArrivalOrder() {
        IngestBudget budget = new IngestBudget(1000, 1);
        IngestBudget.Reservation a = reserve(budget, "a", 400);
        IngestBudget.Reservation b = reserve(budget, "b", 400);
        reserve(budget, "c", 400);
        reserve(budget, "d", 100);
        assertThat(granted).containsExactly("a", "b");
        assertThat(budget.reservedBytes()).isEqualTo(800);
        assertThat(budget.waiting()).isEqualTo(2);

        a.release();
        // c fits again; d would have fitted alone but does not overtake c.
        assertThat(granted).containsExactly("a", "b", "c", "d");
        assertThat(budget.reservedBytes()).isEqualTo(900);
        b.release();
        b.release(); // idempotent
        assertThat(budget.reservedBytes()).isEqualTo(500);
    }

    @Test
    void aLaterSmallUploadDoesNotOvertakeAWaitingOne() {
        IngestBudget budget = new IngestBudget(1000, 1);
        reserve(budget, "a", 700);
        reserve(budget, "b", 700);
        reserve(budget, "c", 100);
        assertThat(granted).containsExactly("a");
    }

    @Test
    void anUploadLargerThanTheBudgetGoesAloneWhenNothingElseIsReserved() {
        IngestBudget budget = new IngestBudget(100, 1);
        IngestBudget.Reservation big = reserve(budget, "big", 5000);
        reserve(budget, "small", 10);
        assertThat(granted).containsExactly("big");
        big.release();
        assertThat(granted).containsExactly("big", "small");
    }

    @Test
    void budgetGrowsWithTheUpdateSize() {
        // max(1000, 4 x 600) = 2400: four updates of 600 bytes at once, not five.
        IngestBudget budget = new IngestBudget(1000, 4);
        for (int i = 0; i < 5; i++) {
            reserve(budget, "u" + i, 600);
        }
        assertThat(granted).containsExactly("u0", "u1", "u2", "u3");
    }

    @Test
    void aWaitingReservationReleasedLeavesTheQueueAndGetsNothing() {
        IngestBudget budget = new IngestBudget(1000, 1);
        IngestBudget.Reservation a = reserve(budget, "a", 800);
        IngestBudget.Reservation b = reserve(budget, "b", 800);
        reserve(budget, "c", 800);
        b.release(); // its learner went away while it waited
        assertThat(budget.waiting()).isEqualTo(1);
        a.release();
        assertThat(granted).containsExactly("a", "c");
        assertThat(budget.reservedBytes()).isEqualTo(800);
    }

    @Test
    void defaultBudgetIsAQuarterGigabyteOrFourUpdates() {
        IngestBudget budget = IngestBudget.forGateway();
        reserve(budget, "a", 200L << 20);
        reserve(budget, "b", 200L << 20);
        assertThat(granted).containsExactly("a", "b"); // 400 MiB <= 4 x 200 MiB
        IngestBudget small = IngestBudget.forGateway();
        granted.clear();
        for (int i = 0; i < 700; i++) {
            reserve(small, "s" + i, 400_000);
        }
        assertThat(granted).hasSize((int) ((256L << 20) / 400_000));
    }
}
