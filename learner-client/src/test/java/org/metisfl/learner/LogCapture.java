package org.metisfl.learner;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/** The log lines of one logger, as "LEVEL message", while open. */
final class LogCapture implements AutoCloseable {
    private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
    private final LoggerContext context;
    private final LoggerConfig root;
    private final AbstractAppender appender;

    private LogCapture(String loggerName) {
        context = (LoggerContext) LogManager.getContext(false);
        String name = "capture-" + System.identityHashCode(this);
        appender =
                new AbstractAppender(name, null, null, true, Property.EMPTY_ARRAY) {
                    @Override
                    public void append(LogEvent event) {
                        if (event.getLoggerName().equals(loggerName)) {
                            lines.add(
                                    event.getLevel()
                                            + " "
                                            + event.getMessage().getFormattedMessage());
                        }
                    }
                };
        appender.start();
        root = context.getConfiguration().getRootLogger();
        root.addAppender(appender, Level.ALL, null);
        context.updateLoggers();
    }

    static LogCapture of(Class<?> logger) {
        return new LogCapture(logger.getName());
    }

    /** A copy of the lines so far. */
    List<String> lines() {
        synchronized (lines) {
            return new ArrayList<>(lines);
        }
    }

    @Override
    public void close() {
        root.removeAppender(appender.getName());
        context.updateLoggers();
        appender.stop();
    }
}
