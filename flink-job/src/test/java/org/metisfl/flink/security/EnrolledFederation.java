package org.metisfl.flink.security;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;
import org.metisfl.transport.DevSecurity;

/**
 * The federation the hostile-client ITCases ({@link HostileClientsITCase}, {@link
 * GatewayFuzzITCase}) attack: TLS with enrollment, a model of two tensors (3,700 values), and three
 * well-behaved learners that join and open their task streams.
 */
final class EnrolledFederation {
    private EnrolledFederation() {}

    static final int N = 3700;
    static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("dense/kernel", 50, 60), RawLearner.spec("dense/bias", 700));

    /** The well-behaved learners' training examples. */
    static final long[] EXAMPLES = {100, 200, 700};

    /** N values of a sine: {@code scale * sin(0.37 i + shift)}. */
    static float[] pattern(float scale, float shift) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.sin(i * 0.37 + shift);
        }
        return v;
    }

    /**
     * The job settings both tests start from: {@code dev}'s TLS with enrollment, {@code rounds}
     * rounds of at least {@code minLearners}, the initial model {@code pattern(0.1f, 0)} (written
     * under {@code work}), shards of 1,024 values, no evaluation.
     */
    static Map<String, String> settings(DevSecurity dev, Path work, int rounds, int minLearners)
            throws IOException {
        Path initial = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                initial,
                List.of(
                        new TensorSpecInfo("dense/kernel", new long[] {50, 60}),
                        new TensorSpecInfo("dense/bias", new long[] {700})),
                pattern(0.1f, 0));
        Map<String, String> settings = new HashMap<>(dev.jobSettings());
        settings.put("security.insecure", "false");
        settings.put("security.admission", "enrollment");
        settings.put("federation.rounds", Integer.toString(rounds));
        settings.put("federation.min-learners", Integer.toString(minLearners));
        settings.put("federation.initial-model", initial.toString());
        settings.put("evaluation.enabled", "false");
        settings.put("aggregation.shard-size", "1024");
        return settings;
    }

    /**
     * Joins the three well-behaved learners ({@code good-0} to {@code good-2}, with {@link
     * #EXAMPLES}) at {@code port} with {@code enrollment}, adding each to {@code good} (which the
     * caller closes) before it joins, and opens their task streams.
     */
    static void joinWellBehaved(
            DevSecurity dev, int port, String enrollment, List<TlsLearner> good) {
        for (int i = 0; i < EXAMPLES.length; i++) {
            TlsLearner l = new TlsLearner(dev, port);
            good.add(l);
            l.join("good-" + i, EXAMPLES[i], enrollment);
            l.openTaskStream();
        }
    }
}
