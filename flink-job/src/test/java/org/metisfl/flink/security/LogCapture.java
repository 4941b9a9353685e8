package org.metisfl.flink.security;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/**
 * Collects every log line an operator would see (INFO and above, all loggers, gRPC's own at INFO as
 * the job's configuration shows them), so a test can count what hostile traffic costs the log.
 */
final class LogCapture extends AbstractAppender implements AutoCloseable {
    private final List<LogEvent> events = new CopyOnWriteArrayList<>();
    private volatile boolean recording;

    private LogCapture() {
        super("security-capture", null, null, true, Property.EMPTY_ARRAY);
    }

    static LogCapture install() {
        LogCapture c = new LogCapture();
        c.start();
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        var config = ctx.getConfiguration();
        LoggerConfig grpc = new LoggerConfig("io.grpc", Level.INFO, true);
        config.addLogger("io.grpc", grpc);
        config.getRootLogger().addAppender(c, Level.INFO, null);
        ctx.updateLoggers();
        return c;
    }

    @Override
    public void append(LogEvent event) {
        if (recording && event.getLevel().isMoreSpecificThan(Level.INFO)) {
            events.add(event.toImmutable());
        }
    }

    void record(boolean on) {
        recording = on;
    }

    List<LogEvent> events() {
        return List.copyOf(events);
    }

    /** Lines per logger. */
    Map<String, Integer> perLogger() {
        Map<String, Integer> m = new TreeMap<>();
        for (LogEvent e : events) {
            m.merge(e.getLoggerName(), 1, Integer::sum);
        }
        return m;
    }

    @Override
    public void close() {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        var config = ctx.getConfiguration();
        config.getRootLogger().removeAppender(getName());
        config.removeLogger("io.grpc");
        ctx.updateLoggers();
        stop();
    }
}
