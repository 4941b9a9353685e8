package org.metisfl.flink.model;

/**
 * Makes a learner-supplied string safe to print in a log line: every control character (newline,
 * carriage return, tab, escape, DEL and the C1 controls) and every line or paragraph separator is
 * replaced by a Java-style escape ({@code \n}, {@code \r}, {@code \t}, {@code \\u001b}, ...), and a
 * backslash is doubled, so that a learner cannot forge log lines or terminal sequences. The string
 * itself is kept unchanged everywhere else (a learner's name is its own, and results show it).
 */
public final class LogSafe {
    private LogSafe() {}

    /** {@code s} with its control characters escaped; "null" for null. */
    public static String of(String s) {
        if (s == null) {
            return "null";
        }
        int i = 0;
        while (i < s.length() && !needsEscape(s.charAt(i))) {
            i++;
        }
        if (i == s.length()) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!needsEscape(c)) {
                b.append(c);
                continue;
            }
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> b.append(String.format("\\u%04x", (int) c));
            }
        }
        return b.toString();
    }

    private static boolean needsEscape(char c) {
        return c == '\\' || Character.isISOControl(c) || c == '\u2028' || c == '\u2029';
    }
}
