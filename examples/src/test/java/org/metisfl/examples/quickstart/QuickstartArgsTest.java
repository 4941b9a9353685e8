package org.metisfl.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class QuickstartArgsTest {
    @Test
    void defaultsRunTheShippedQuickstartFederation() {
        QuickstartArgs a = QuickstartArgs.parse(new String[0]);
        assertThat(a.federation).isEqualTo(Path.of("conf/federations/quickstart.yaml"));
        assertThat(a.learners).isEqualTo(3);
        assertThat(a.webUiPort).isEqualTo(8081);
        assertThat(a.rounds).isNull();
    }

    @Test
    void optionsAndOverridesAreRead() {
        QuickstartArgs a =
                QuickstartArgs.parse(
                        new String[] {
                            "--learners",
                            "5",
                            "--rounds",
                            "2",
                            "--partition",
                            "dirichlet",
                            "--set",
                            "round.timeout=1 min"
                        });
        assertThat(a.learners).isEqualTo(5);
        assertThat(a.rounds).isEqualTo(2);
        assertThat(a.partition).isEqualTo("dirichlet");
        assertThat(a.settings).containsExactly("round.timeout=1 min");
    }

    @Test
    void badOptionsSayWhatIsWrong() {
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--learners", "0"}))
                .hasMessageContaining("--learners must be at least 1");
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--rounds", "many"}))
                .hasMessageContaining("--rounds takes a number");
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--set", "novalue"}))
                .hasMessageContaining("KEY=VALUE");
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--bogus", "1"}))
                .hasMessageContaining("unknown option '--bogus'");
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--learners"}))
                .hasMessageContaining("needs a value");
    }

    @Test
    void learnerKindPicksJavaPythonOrBothInTurns() {
        assertThat(QuickstartArgs.parse(new String[0]).learner).isEqualTo("java");
        QuickstartArgs python = QuickstartArgs.parse(new String[] {"--learner", "python"});
        assertThat(Quickstart.pythonLearner(python, 0)).isTrue();
        assertThat(Quickstart.pythonLearner(python, 1)).isTrue();
        QuickstartArgs mixed = QuickstartArgs.parse(new String[] {"--learner", "mixed"});
        assertThat(Quickstart.pythonLearner(mixed, 0)).isFalse();
        assertThat(Quickstart.pythonLearner(mixed, 1)).isTrue();
        assertThat(Quickstart.pythonLearner(mixed, 2)).isFalse();
        assertThatThrownBy(() -> QuickstartArgs.parse(new String[] {"--learner", "rust"}))
                .hasMessageContaining("--learner takes java, python or mixed, got 'rust'");
    }
}
