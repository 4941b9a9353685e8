package org.metisfl.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarises a JFR recording as markdown: where CPU samples land (top frame, and the nearest
 * MetisFL frame below it, which says which of our code paths the time belongs to), which threads
 * burn them, and which frames allocate most.
 *
 * <p>Usage: {@code JfrSummary recording.jfr [rows]}.
 */
public final class JfrSummary {
    private JfrSummary() {}

    public static void main(String[] args) throws IOException {
        System.out.println(
                summarize(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 25));
    }

    static String summarize(Path file, int rows) throws IOException {
        Map<String, Long> top = new HashMap<>();
        Map<String, Long> ours = new HashMap<>();
        Map<String, Long> threads = new HashMap<>();
        Map<String, Long> alloc = new HashMap<>();
        Map<String, Long> nativeTop = new HashMap<>();
        long nativeSamples = 0;
        long nativeTls = 0;
        long underTls = 0;
        long samples = 0;
        long allocated = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            String type = e.getEventType().getName();
            if (type.equals("jdk.ExecutionSample")) {
                RecordedStackTrace st = e.getStackTrace();
                if (st == null || st.getFrames().isEmpty()) {
                    continue;
                }
                samples++;
                List<RecordedFrame> frames = st.getFrames();
                top.merge(name(frames.get(0)), 1L, Long::sum);
                String mine = "(no MetisFL frame)";
                for (RecordedFrame f : frames) {
                    if (f.getMethod().getType().getName().startsWith("org.metisfl")) {
                        mine = name(f);
                        break;
                    }
                }
                ours.merge(mine, 1L, Long::sum);
                if (inTls(frames)) {
                    underTls++;
                }
                String thread =
                        e.getThread("sampledThread") == null
                                ? "?"
                                : e.getThread("sampledThread").getJavaName();
                threads.merge(
                        thread == null ? "?" : thread.replaceAll("[0-9]+", "N"), 1L, Long::sum);
            } else if (type.equals("jdk.NativeMethodSample")) {
                RecordedStackTrace st = e.getStackTrace();
                if (st == null || st.getFrames().isEmpty()) {
                    continue;
                }
                nativeSamples++;
                nativeTop.merge(name(st.getFrames().get(0)), 1L, Long::sum);
                if (isTls(st.getFrames().get(0))) {
                    nativeTls++;
                }
            } else if (type.equals("jdk.ObjectAllocationSample")) {
                RecordedStackTrace st = e.getStackTrace();
                long w = e.getLong("weight");
                allocated += w;
                String where = "?";
                if (st != null) {
                    for (RecordedFrame f : st.getFrames()) {
                        String n = name(f);
                        where = n;
                        if (f.getMethod().getType().getName().startsWith("org.metisfl")) {
                            break;
                        }
                    }
                    if (!st.getFrames().isEmpty() && !where.startsWith("org.metisfl")) {
                        where = name(st.getFrames().get(0));
                    }
                }
                alloc.merge(where, w, Long::sum);
            }
        }
        StringBuilder s = new StringBuilder();
        s.append("CPU samples: ").append(samples).append("\n\n");
        s.append(table("top frame (self time)", top, samples, rows, false));
        s.append(table("nearest MetisFL frame on the stack", ours, samples, rows, false));
        s.append(table("thread", threads, samples, rows, false));
        s.append(
                String.format(
                        java.util.Locale.ROOT,
                        "TLS: %d of %d CPU samples (%s) are TLS work (their innermost TLS frame,"
                                + " Netty's SslHandler or engine, netty-tcnative or JSSE, is not"
                                + " dispatching to the handlers after it: HTTP/2 and gRPC run"
                                + " inside SslHandler.unwrap); %d of %d"
                                + " native-method samples (%s) are in a TLS native method"
                                + " (BoringSSL's cipher work, which CPU samples do not see).%n%n",
                        underTls,
                        samples,
                        Table.pct(underTls / (double) Math.max(1, samples)),
                        nativeTls,
                        nativeSamples,
                        Table.pct(nativeTls / (double) Math.max(1, nativeSamples))));
        s.append(
                table(
                        "top native method (threads in native code, waits included)",
                        nativeTop,
                        nativeSamples,
                        Math.min(rows, 10),
                        false));
        s.append("Allocation (sampled weight): ").append(allocated >> 20).append(" MiB\n\n");
        s.append(
                table(
                        "allocating frame (nearest MetisFL frame, else top)",
                        alloc,
                        allocated,
                        rows,
                        true));
        return s.toString();
    }

    /**
     * Whether a sample is TLS work: it has a TLS frame, and no Netty pipeline dispatch lies between
     * the top of the stack and the innermost TLS frame (the HTTP/2 and gRPC handlers run inside
     * {@code SslHandler.unwrap}, and are not TLS work).
     */
    static boolean inTls(List<RecordedFrame> frames) {
        for (RecordedFrame f : frames) {
            if (isTls(f)) {
                return true;
            }
            if (f.getMethod().getType().getName().endsWith(".AbstractChannelHandlerContext")) {
                return false;
            }
        }
        return false;
    }

    /** A frame of the TLS stack: Netty's SSL handler and engines, netty-tcnative, JSSE. */
    static boolean isTls(RecordedFrame f) {
        String type = f.getMethod().getType().getName();
        return type.contains(".handler.ssl.")
                || type.contains(".internal.tcnative.")
                || type.startsWith("sun.security.ssl.")
                || type.startsWith("com.sun.crypto.provider.GaloisCounterMode");
    }

    private static String name(RecordedFrame f) {
        String type = f.getMethod().getType().getName();
        return type + "." + f.getMethod().getName();
    }

    private static String table(
            String title, Map<String, Long> counts, long total, int rows, boolean bytes) {
        Table t = new Table(title, bytes ? "MiB" : "samples", "share");
        counts.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .limit(rows)
                .forEach(
                        e ->
                                t.row(
                                        "`" + e.getKey() + "`",
                                        bytes ? e.getValue() >> 20 : e.getValue(),
                                        Table.pct(e.getValue() / (double) Math.max(1, total))));
        return t + "\n";
    }
}
