package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** gateway.max-model-size accepts only models the job can hold end to end. */
class ModelSizeLimitTest {

    @Test
    void theLimitIs2047MiBOfValues() {
        assertThat(FederationConfig.MAX_MODEL_BYTES).isEqualTo(2_146_435_072L);
        // a whole model fits one Java array, and a model file one protobuf message
        assertThat(FederationConfig.MAX_MODEL_BYTES).isLessThan(Integer.MAX_VALUE - 8);
    }

    @Test
    void acceptsAModelSizeUpToTheLimit() {
        assertThat(FederationConfig.of(Map.of("gateway.max-model-size", "2047 mb")).maxModelBytes())
                .isEqualTo(2047L << 20);
        assertThat(FederationConfig.of(Map.of()).maxModelBytes()).isEqualTo(1L << 30);
    }

    @Test
    void refusesAModelSizeBeyondWhatTheJobCanHoldNamingTheRealLimit() {
        for (String size : new String[] {"2 gb", "2048 mb", "8 gb"}) {
            assertThatThrownBy(() -> FederationConfig.of(Map.of("gateway.max-model-size", size)))
                    .as(size)
                    .isInstanceOf(InvalidConfigException.class)
                    .hasMessageContaining("gateway.max-model-size")
                    .hasMessageContaining("between 4 bytes and 2047 mb")
                    .hasMessageContaining("one Java array");
        }
    }
}
