package org.metisfl.flink.connector.gateway.server;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Routes gRPC's own logging (java.util.logging, under the {@code io.grpc} loggers, which include
 * the shaded Netty transport) through the project's log configuration (SLF4J, then Log4j 2), one
 * line per record and at most one line per logger every {@link #WINDOW_NANOS} (10 s): a malformed
 * or hostile connection, which gRPC reports with a stack trace of some 26 lines, costs the log at
 * most one line, and a flood of them a line every 10 s with the count of those left out. The stack
 * trace is logged at DEBUG.
 *
 * <p>java.util.logging is global to the JVM while the gateway's classes belong to the job's class
 * loader, so the handler is installed when the first gateway of this class loader starts and
 * removed, with the logger's previous settings restored, when the last one closes: nothing of the
 * job stays reachable from the JVM's log manager after the job ends. Another job in the same
 * TaskManager installs its own.
 */
final class GrpcLogBridge extends Handler {
    /** One line per logger at most this often. */
    static final long WINDOW_NANOS = 10_000_000_000L;

    private static final String ROOT = "io.grpc";
    private static int users;
    private static Logger logger; // held: java.util.logging keeps loggers weakly
    private static GrpcLogBridge installed;
    private static boolean savedUseParentHandlers;

    private final SLF4JBridgeHandler target = new SLF4JBridgeHandler();
    private final LongSupplier nanoClock;
    private final Map<String, long[]> windows = new HashMap<>(); // logger -> {start, suppressed}
    private static final java.util.concurrent.atomic.AtomicLong RECEIVED =
            new java.util.concurrent.atomic.AtomicLong();

    GrpcLogBridge(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    /** Installs the bridge for this class loader's first gateway. */
    static synchronized void install() {
        if (users++ > 0) {
            return;
        }
        logger = Logger.getLogger(ROOT);
        savedUseParentHandlers = logger.getUseParentHandlers();
        installed = new GrpcLogBridge(System::nanoTime);
        logger.addHandler(installed);
        logger.setUseParentHandlers(false); // not the JVM's console handler too
    }

    /** Removes the bridge when this class loader's last gateway closes. */
    static synchronized void uninstall() {
        if (users == 0 || --users > 0) {
            return;
        }
        logger.removeHandler(installed);
        logger.setUseParentHandlers(savedUseParentHandlers);
        installed = null;
        logger = null;
    }

    /** Records gRPC logged at the bridge, shown or not (tests). */
    static long received() {
        return RECEIVED.get();
    }

    /** True while a gateway of this class loader runs (tests). */
    static synchronized boolean isInstalled() {
        return installed != null;
    }

    @Override
    public void publish(LogRecord record) {
        if (record == null) {
            return;
        }
        RECEIVED.incrementAndGet();
        String name = String.valueOf(record.getLoggerName());
        long suppressed;
        synchronized (windows) {
            long now = nanoClock.getAsLong();
            long[] w = windows.get(name);
            if (w != null && now - w[0] < WINDOW_NANOS) {
                w[1]++;
                return;
            }
            suppressed = w == null ? 0 : w[1];
            if (windows.size() > 1024) {
                windows.clear(); // logger names are few; never let them grow the heap
            }
            windows.put(name, new long[] {now, 0});
        }
        Throwable thrown = record.getThrown();
        String text = formatted(record);
        LogRecord line = new LogRecord(record.getLevel(), oneLine(text, thrown, suppressed));
        line.setLoggerName(record.getLoggerName());
        line.setMillis(record.getMillis());
        target.publish(line);
        if (thrown != null) {
            LogRecord trace =
                    new LogRecord(Level.FINE, "the stack trace of: " + oneLine(text, null, 0));
            trace.setLoggerName(record.getLoggerName());
            trace.setThrown(thrown);
            target.publish(trace); // DEBUG: only where the log configuration asks for it
        }
    }

    private static String formatted(LogRecord r) {
        String msg = r.getMessage();
        Object[] params = r.getParameters();
        if (msg != null && params != null && params.length > 0) {
            try {
                msg = java.text.MessageFormat.format(msg, params);
            } catch (IllegalArgumentException e) {
                // keep the raw message
            }
        }
        return msg == null ? "" : msg;
    }

    /** The message, the throwable's class and message, and what was left out, on one line. */
    static String oneLine(String message, Throwable thrown, long suppressed) {
        StringBuilder b = new StringBuilder(message);
        if (thrown != null) {
            b.append(": ").append(thrown);
            Throwable root = thrown;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            if (root != thrown) {
                b.append(" (caused by ").append(root).append(')');
            }
        }
        if (suppressed > 0) {
            b.append(" [")
                    .append(suppressed)
                    .append(" similar lines in the last ")
                    .append(WINDOW_NANOS / 1_000_000_000L)
                    .append(" s not shown]");
        }
        StringBuilder safe = new StringBuilder(b.length());
        for (int i = 0; i < b.length(); i++) {
            char c = b.charAt(i);
            if (c == '\n') {
                safe.append("\\n");
            } else if (c == '\r') {
                safe.append("\\r");
            } else if (Character.isISOControl(c) && c != '\t') {
                safe.append(String.format("\\u%04x", (int) c));
            } else {
                safe.append(c);
            }
        }
        return safe.length() > 1000 ? safe.substring(0, 1000) + "…" : safe.toString();
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
}
