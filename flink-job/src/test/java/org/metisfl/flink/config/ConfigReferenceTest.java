package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigReferenceTest {
    @Test
    void publishedReferenceListsEveryKeyAsTheCodeDefinesIt() throws Exception {
        Path doc = Path.of("../docs/reference/federation-config.md");
        assertThat(Files.readString(doc))
                .as(
                        "docs/reference/federation-config.md is stale: regenerate it with"
                                + " ConfigReference")
                .isEqualTo(ConfigReference.markdown());
        assertThat(ConfigReference.markdown()).contains("`round.timeout`", "`gateway.port`");
    }
}
