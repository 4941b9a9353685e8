package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogSafeTest {

    @Test
    void printableTextIsKeptAsItIs() {
        String plain = "learner-7 (Zürich, 東京) 100%";
        assertThat(LogSafe.of(plain)).isSameAs(plain);
        assertThat(LogSafe.of("")).isEmpty();
        assertThat(LogSafe.of(null)).isEqualTo("null");
    }

    @Test
    void controlCharactersAndSeparatorsAreEscaped() {
        assertThat(LogSafe.of("a\nb")).isEqualTo("a\\nb");
        assertThat(LogSafe.of("a\r\nb\tc")).isEqualTo("a\\r\\nb\\tc");
        assertThat(LogSafe.of("\u001b[31mred")).isEqualTo("\\u001b[31mred");
        assertThat(LogSafe.of("x\u0000y\u007fz\u0085")).isEqualTo("x\\u0000y\\u007fz\\u0085");
        assertThat(LogSafe.of("p\u2028q\u2029")).isEqualTo("p\\u2028q\\u2029");
    }

    @Test
    void aBackslashIsDoubledSoAnEscapeCannotBeForged() {
        // Without doubling, the literal text "a\nb" would log exactly like a real newline.
        assertThat(LogSafe.of("a\\nb")).isEqualTo("a\\\\nb");
        assertThat(LogSafe.of("a\\nb")).isNotEqualTo(LogSafe.of("a\nb"));
    }
}
