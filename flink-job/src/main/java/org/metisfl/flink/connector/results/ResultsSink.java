package org.metisfl.flink.connector.results;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.metisfl.flink.model.RoundResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends each round's result as one JSON line to the federation's results file (and logs it). Run
 * it with parallelism 1. After a failover a round may be written again; readers keep the last line
 * of each round.
 */
public final class ResultsSink implements Sink<RoundResult> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ResultsSink.class);

    private final String path;

    public ResultsSink(String path) {
        this.path = path;
    }

    @Override
    public SinkWriter<RoundResult> createWriter(WriterInitContext context) throws IOException {
        Path file = Path.of(path).toAbsolutePath();
        Files.createDirectories(file.getParent());
        BufferedWriter out =
                Files.newBufferedWriter(
                        file,
                        StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
        Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
        return new SinkWriter<>() {
            @Override
            public void write(RoundResult r, Context ctx) throws IOException {
                String line = gson.toJson(r);
                out.write(line);
                out.newLine();
                out.flush();
                LOG.info("Round result: {}", line);
            }

            @Override
            public void flush(boolean endOfInput) throws IOException {
                out.flush();
            }

            @Override
            public void close() throws IOException {
                out.close();
            }
        };
    }
}
