package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class UpdateLedgerTest {
    private final UpdateLedger ledger = new UpdateLedger();

    @Test
    void aSecondCopyOfAnUpdateGetsTheOriginalsDurability() {
        String key = UpdateLedger.updateKey("a", "3");
        CompletableFuture<Void> first = new CompletableFuture<>();
        assertThat(ledger.accept(key, first)).isNull();
        assertThat(ledger.accept(key, new CompletableFuture<>())).isSameAs(first);
        assertThat(ledger.original(key)).isSameAs(first);
        assertThat(ledger.original(UpdateLedger.updateKey("b", "3"))).isNull();
    }

    @Test
    void aWithdrawnUpdateIsForgottenOnlyIfItIsTheOneRecorded() {
        String key = UpdateLedger.updateKey("a", "3");
        CompletableFuture<Void> first = new CompletableFuture<>();
        ledger.accept(key, first);
        ledger.withdraw(key, new CompletableFuture<>());
        assertThat(ledger.contains(key)).isTrue();
        ledger.withdraw(key, first);
        assertThat(ledger.contains(key)).isFalse();
    }

    @Test
    void roundsAreForgottenTwoBehindAndEvaluationsOneMore() {
        for (long r = 1; r <= 4; r++) {
            ledger.accept(UpdateLedger.updateKey("a", Long.toString(r)), new CompletableFuture<>());
            ledger.markEvaluated("a", r);
        }
        ledger.forgetBefore(3);
        assertThat(ledger.contains("a@2")).isFalse();
        assertThat(ledger.contains("a@3")).isTrue();
        assertThat(ledger.evaluated("a", 1)).isFalse();
        assertThat(ledger.evaluated("a", 2)).isTrue();
        assertThat(ledger.markEvaluated("a", 2)).isFalse();
        assertThat(ledger.size()).isEqualTo(2);
    }

    @Test
    void anAsynchronousLearnerKeepsItsLatestUpdateAndEarlierOnesUntilTheyAreDurable() {
        CompletableFuture<Void> t1 = new CompletableFuture<>();
        ledger.accept("a@t1", t1);
        ledger.acceptedAsync("a", "a@t1");
        ledger.accept("a@t2", new CompletableFuture<>());
        ledger.acceptedAsync("a", "a@t2");
        ledger.acceptedAsync("a", "a@t2");
        // The learner got its next task before t1's checkpoint: t1 stays until it is durable (a
        // resend is a duplicate, the final Shutdown waits for it).
        assertThat(ledger.contains("a@t1")).isTrue();
        assertThat(ledger.allDurable(60_000)).isNotDone();
        t1.complete(null);
        assertThat(ledger.contains("a@t1")).isFalse();
        assertThat(ledger.contains("a@t2")).isTrue();
        ledger.accept("a@t3", CompletableFuture.completedFuture(null));
        ledger.acceptedAsync("a", "a@t3");
        ledger.accept("a@t4", new CompletableFuture<>());
        ledger.acceptedAsync("a", "a@t4");
        assertThat(ledger.contains("a@t3")).isFalse(); // durable already: forgotten at once
        ledger.forgetBefore(Long.MAX_VALUE); // task ids are not rounds: kept
        assertThat(ledger.contains("a@t4")).isTrue();
    }

    @Test
    void allDurableWaitsForEveryAcceptedUpdateOrTheTimeout() throws Exception {
        CompletableFuture<Void> a = new CompletableFuture<>();
        ledger.accept("a@1", a);
        CompletableFuture<Void> all = ledger.allDurable(60_000);
        assertThat(all).isNotDone();
        a.complete(null);
        assertThat(all).isDone();
        ledger.accept("b@1", new CompletableFuture<>());
        ledger.allDurable(1).get(); // completes by its timeout
    }
}
