package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FlinkRestClientTest {

    @Test
    void errorMessageIsTheRootCauseOfFlinksStackTrace() {
        String body =
                "{\"errors\":[\"Internal server error.\",\"<Exception on server side:\\n"
                        + "java.util.concurrent.CompletionException:"
                        + " org.apache.flink.runtime.rest.handler.RestHandlerException: outer\\n"
                        + "\\tat a.b(C.java:1)\\n"
                        + "Caused by: org.apache.flink.runtime.rest.handler.RestHandlerException:"
                        + " Jar file /x/nonexist.jar does not exist\\n"
                        + "\\t... 43 more\\n\\nEnd of exception on server side>\"]}";
        assertThat(FlinkRestClient.errorMessage(body))
                .isEqualTo("Jar file /x/nonexist.jar does not exist");
    }

    @Test
    void errorMessageOfAPlainBodyIsTheBody() {
        assertThat(FlinkRestClient.errorMessage("Not Found")).isEqualTo("Not Found");
    }

    @Test
    void localClustersAreRecognisedByTheirHost() {
        assertThat(FlinkRestClient.connect("http://localhost:8081").isLocal()).isTrue();
        assertThat(FlinkRestClient.connect("http://127.0.0.1:8081/").isLocal()).isTrue();
        assertThat(FlinkRestClient.connect("http://flink.example.com:8081").isLocal()).isFalse();
    }

    @Test
    void aClusterAddressMustBeAnHttpUrl() {
        assertThatThrownBy(() -> FlinkRestClient.connect("localhost:8081"))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("--cluster http://HOST:PORT");
    }
}
