package org.metisfl.flink.model;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a federation's results file (JSON lines, one {@link RoundResult} per round). After a
 * failover or a resume a round may appear twice: the last line of a round wins.
 */
public final class RoundResults {
    private RoundResults() {}

    /** The rounds recorded so far in round order; empty if the file does not exist (yet). */
    public static List<RoundResult> read(Path file) throws IOException {
        Map<Long, RoundResult> byRound = new TreeMap<>();
        if (!Files.exists(file)) {
            return List.of();
        }
        Gson gson = new Gson();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                RoundResult r = gson.fromJson(line, RoundResult.class);
                if (r != null) {
                    byRound.put(r.round, r);
                }
            } catch (JsonParseException partialLine) {
                // a line being written: it is complete on the next read
            }
        }
        return new ArrayList<>(byRound.values());
    }
}
