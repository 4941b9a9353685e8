package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.coordinator.CoordinatorTestData.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.GatewayEvent;

/** A learner's name with control characters cannot forge or split the coordinator's log lines. */
class LearnerNameLoggingTest {

    @Test
    void aNameWithANewlineIsLoggedEscapedOnOneLine() throws Exception {
        List<String> logged = Collections.synchronizedList(new ArrayList<>());
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        AbstractAppender capture =
                new AbstractAppender("capture-names", null, null, true, Property.EMPTY_ARRAY) {
                    @Override
                    public void append(LogEvent event) {
                        if (event.getLoggerName().equals(Coordinator.class.getName())) {
                            logged.add(event.getMessage().getFormattedMessage());
                        }
                    }
                };
        capture.start();
        var root = context.getConfiguration().getRootLogger();
        root.addAppender(capture, Level.ALL, null);
        context.updateLoggers();
        GatewayEvent joined = joined("a", 10);
        joined.learnerName = "mallory\nINFO Learner admin (root) joined\u001b[2J";
        try (var h = harness(options("federation.min-learners", "5"), "hashmap")) {
            h.open();
            h.processElement1(new StreamRecord<>(joined));
        } finally {
            root.removeAppender("capture-names");
            context.updateLoggers();
            capture.stop();
        }
        List<String> joinLines = logged.stream().filter(m -> m.contains("joined")).toList();
        assertThat(joinLines).hasSize(1);
        String line = joinLines.get(0);
        assertThat(line).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u001b");
        assertThat(line)
                .contains("(mallory\\nINFO Learner admin (root) joined\\u001b[2J, 10 examples)");
    }
}
