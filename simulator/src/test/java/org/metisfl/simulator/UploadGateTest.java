package org.metisfl.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class UploadGateTest {

    @Test
    void holdsCallsBeyondItsPermitsAndRunsThemInOrderOnRelease() {
        List<Integer> ran = new ArrayList<>();
        UploadGate gate = new UploadGate(2, Runnable::run);
        for (int i = 0; i < 5; i++) {
            int n = i;
            gate.submit(() -> ran.add(n));
        }
        assertThat(ran).containsExactly(0, 1);
        gate.release();
        assertThat(ran).containsExactly(0, 1, 2);
        gate.release();
        gate.release();
        assertThat(ran).containsExactly(0, 1, 2, 3, 4);
        gate.release();
        gate.release();
        gate.submit(() -> ran.add(5));
        assertThat(ran).containsExactly(0, 1, 2, 3, 4, 5);
    }

    @Test
    void runsEverythingAtOnceWithoutABound() {
        List<Integer> ran = new ArrayList<>();
        UploadGate gate = new UploadGate(0, Runnable::run);
        for (int i = 0; i < 100; i++) {
            int n = i;
            gate.submit(() -> ran.add(n));
        }
        assertThat(ran).hasSize(100);
    }
}
