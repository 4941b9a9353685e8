package org.metisfl.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class SteadyWindowTest {
    private static SteadyWindow.Sample at(
            double seconds, int joined, long acks, double learners, double controller) {
        return new SteadyWindow.Sample(
                (long) (seconds * 1e9), joined, acks, learners, controller, 3 * seconds);
    }

    @Test
    void theWindowRunsFromEveryLearnerJoinedToNinetyNinePercentOfTheAcknowledgements() {
        List<SteadyWindow.Sample> s =
                List.of(
                        at(0, 0, 0, 0, 0),
                        at(1, 5, 10, 0.5, 0.5), // still joining: left out
                        at(2, 10, 100, 1.0, 1.5), // every learner joined: the window opens
                        at(3, 10, 600, 1.4, 2.5),
                        at(4, 10, 1100, 1.8, 3.5), // 1100 >= 0.99 * 1105: the window closes
                        at(5, 10, 1105, 1.9, 3.6)); // the tail: left out
        SteadyWindow.Result r = SteadyWindow.window(s, 10);
        assertEquals(2.0, r.seconds(), 1e-9);
        assertEquals(1000, r.acks());
        assertEquals(500.0, r.updatesPerSecond(), 1e-9);
        assertEquals(0.8, r.learnersCpu(), 1e-9);
        assertEquals(2.0, r.controllerCpu(), 1e-9);
        assertEquals(0.8, r.learnersMsPerUpdate(), 1e-9);
        assertEquals(2.0, r.controllerMsPerUpdate(), 1e-9);
        // the machine was busy 3 cores' worth for 2 s: 6 - 0.8 - 2.0 = 3.2 CPU s by others
        assertEquals(1.6, r.otherCores(), 1e-9);
        // 2 cores = 2000 CPU ms a second, 2.8 ms an update
        assertEquals(2000.0 / 2.8, r.ceiling(2), 1e-9);
    }

    @Test
    void noWindowIfTheLearnersNeverAllJoinedOrNothingWasAcknowledgedAfter() {
        assertNull(SteadyWindow.window(List.of(), 10));
        assertNull(SteadyWindow.window(List.of(at(0, 5, 0, 0, 0), at(1, 9, 100, 1, 1)), 10));
        // joined only once every acknowledgement was in
        assertNull(
                SteadyWindow.window(
                        List.of(at(0, 5, 0, 0, 0), at(1, 10, 100, 1, 1), at(2, 10, 100, 1, 1)),
                        10));
    }
}
