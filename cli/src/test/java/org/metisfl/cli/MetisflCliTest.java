package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's commands against an in-process fake of Flink's REST API. */
class MetisflCliTest {
    @TempDir Path dir;

    private FakeFlink flink;
    private CliEnvironment env;
    private Path jar;
    private Path federation;
    private int gatewayPort;

    /** What one run of the CLI printed and returned. */
    record Run(int code, String out, String err) {}

    @BeforeEach
    void setUp() throws Exception {
        flink = new FakeFlink();
        env =
                new CliEnvironment(
                        dir.resolve("home"),
                        dir.resolve("state"),
                        dir,
                        flink.url(),
                        Duration.ofMillis(10));
        jar = Files.write(dir.resolve("job.jar"), new byte[] {'P', 'K', 3, 4, 1, 2, 3});
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            gatewayPort = s.getLocalPort();
        }
        federation =
                Files.writeString(
                        dir.resolve("fed.yaml"),
                        """
                        federation:
                          name: demo
                          rounds: 3
                          min-learners: 2
                        round.timeout: 5 min
                        gateway:
                          port: %d
                        """
                                .formatted(gatewayPort));
    }

    /** The CLI as its hints name it: bin/metisfl of the home, relative to the working dir. */
    private String cli() {
        return env.command();
    }

    /** Makes the home look like a built checkout: bin/metisfl, the example file, the job jar. */
    private void installHome() throws Exception {
        Path home = env.home();
        Files.createDirectories(home.resolve("bin"));
        Files.writeString(home.resolve("bin/metisfl"), "#!/bin/sh\n");
        Path conf = Files.createDirectories(home.resolve("conf/federations"));
        Files.copy(federation, conf.resolve("quickstart.yaml"));
        Path target = Files.createDirectories(home.resolve("flink-job/target"));
        Files.copy(jar, target.resolve("metisfl-flink-job-0.1.0-SNAPSHOT-job.jar"));
    }

    /**
     * Every command the output suggests: from the CLI's name to the quote that closes it, or to the
     * end of its line.
     */
    private List<String> hints(String text) {
        List<String> hints = new java.util.ArrayList<>();
        for (int i = text.indexOf(cli() + " "); i >= 0; i = text.indexOf(cli() + " ", i + 1)) {
            int end = i;
            boolean quotedWord = false;
            while (end < text.length() && text.charAt(end) != '\n') {
                if (text.charAt(end) == '\'') {
                    if (quotedWord) {
                        quotedWord = false;
                    } else if (text.charAt(end - 1) == ' ') {
                        quotedWord = true; // a word quoted for the shell
                    } else {
                        break; // the quote around the whole hint
                    }
                }
                end++;
            }
            hints.add(text.substring(i, end).strip());
        }
        return hints;
    }

    /** Pastes a suggested command: the CLI it names exists, and its words run as they would. */
    private Run paste(String hint) {
        assertThat(hint).startsWith(cli() + " ");
        assertThat(env.workingDir().resolve(cli())).as("the CLI the hint names").exists();
        List<String> words = new java.util.ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        String rest = hint.substring(cli().length() + 1);
        for (int i = 0; i < rest.length(); i++) {
            char c = rest.charAt(i);
            if (c == '\'') {
                quoted = !quoted;
                any = true;
            } else if (c == ' ' && !quoted) {
                if (any) {
                    words.add(word.toString());
                }
                word.setLength(0);
                any = false;
            } else {
                word.append(c);
                any = true;
            }
        }
        if (any) {
            words.add(word.toString());
        }
        return run(words.toArray(String[]::new));
    }

    @AfterEach
    void tearDown() {
        flink.close();
    }

    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MetisflCli.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    private Run submit(String... extra) {
        String[] base = {"submit", federation.toString(), "--jar", jar.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return run(args);
    }

    @Test
    void submitUploadsTheJarOnceAndRunsTheFederationAsSetArguments() {
        Run first = submit("--set", "federation.rounds=5");
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out())
                .contains("Submitted federation 'demo' as job")
                .contains("127.0.0.1:" + gatewayPort);

        List<FakeFlink.Request> runs = flink.requests("POST", "/jars/");
        assertThat(runs).hasSize(2); // upload + run
        var body = JsonParser.parseString(runs.get(1).body()).getAsJsonObject();
        assertThat(body.get("entryClass").getAsString())
                .isEqualTo(FederationSubmission.ENTRY_CLASS);
        List<String> args =
                body.getAsJsonArray("programArgsList").asList().stream()
                        .map(e -> e.getAsString())
                        .toList();
        assertThat(args)
                .containsSubsequence("--set", "federation.name=demo")
                .containsSubsequence("--set", "federation.rounds=5")
                .containsSubsequence("--set", "round.timeout=5 min")
                .contains("federation.results-file=" + dir.resolve("results/demo.jsonl"));
        assertThat(body.has("savepointPath")).isFalse();

        // Same jar again: no second upload.
        flink.jobs.clear();
        Run second = submit();
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("Using the job jar already on the cluster");
        assertThat(flink.requests("POST", "/jars/upload")).hasSize(1);
        assertThat(flink.requests("POST", "/jars/").stream().filter(r -> r.path().endsWith("/run")))
                .hasSize(2);
    }

    @Test
    void invalidFederationFileIsRefusedWithTheLoadersMessageBeforeAnythingIsSent() {
        Run r = submit("--set", "federation.rouns=4");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip())
                .startsWith("metisfl: invalid federation: --set federation.rouns=4: unknown key")
                .contains("unknown key 'federation.rouns'")
                .contains("did you mean federation.rounds?")
                .doesNotContain("\n");
        assertThat(flink.requests).isEmpty();

        Run missing = run("submit", dir.resolve("nope.yaml").toString(), "--jar", jar.toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("federation file not found");
    }

    @Test
    void unreachableClusterNamesTheUrlAndTheFix() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        String url = "http://127.0.0.1:" + closed;
        Run r = run("status", "--cluster", url);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip())
                .isEqualTo(
                        "metisfl: cannot reach the Flink cluster at "
                                + url
                                + " (connection refused); start the local cluster with"
                                + " bin/flink-cluster start, or pass --cluster http://HOST:PORT");
    }

    @Test
    void statusShowsTheJobAndTheFederationsProgressFromItsResultsFile() throws Exception {
        Run s = submit();
        assertThat(s.code()).as(s.err()).isZero();
        Path results = Files.createDirectories(dir.resolve("results")).resolve("demo.jsonl");
        Files.writeString(
                results,
                """
                {"federation":"demo","round":1,"participants":2,"contributors":["a","b"],"evalMetrics":{"accuracy":0.5}}
                {"federation":"demo","round":2,"participants":2,"contributors":["a"],"evalMetrics":{"accuracy":0.75}}
                {"federation":"demo","round":3,"partic""");

        // The running round, as the coordinator's metrics tell it.
        String job = flink.jobs.keySet().iterator().next();
        long deadline = System.currentTimeMillis() + 125_000;
        long dropAt = System.currentTimeMillis() + 4_000;
        flink.metrics.put(
                job,
                Map.of(
                        "phase", "TRAINING",
                        "round", "3",
                        "participants", "3",
                        "roundContributors", "1",
                        "roundDeadline", Long.toString(deadline),
                        "roundWaitingFor", "b,c",
                        "roundGone", "c@" + dropAt,
                        "roundDropped", ""));

        Run r = run("status");
        assertThat(r.code()).as(r.err()).isZero();
        java.time.format.DateTimeFormatter time =
                java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
                        .withZone(java.time.ZoneId.systemDefault());
        assertThat(r.out())
                .contains("federation 'demo'  RUNNING")
                .contains("Gateways:   127.0.0.1:" + gatewayPort)
                .contains("round 2 of 3 done, 1/2 learners contributed, last accuracy 0.7500")
                .contains(
                        "Round 3:   running; 1 of 3 participants contributed so far; deadline "
                                + time.format(java.time.Instant.ofEpochMilli(deadline))
                                + " (in 2 min")
                .contains("waiting for: b, c")
                .contains(
                        "task stream gone (dropped unless back in time, round.participant-grace): c"
                                + " until "
                                + time.format(java.time.Instant.ofEpochMilli(dropAt)))
                .doesNotContain("dropped:     ")
                .containsPattern("\\s+1\\s+2\\s+2\\s+0\\s+0 s\\n")
                .containsPattern("\\s+2\\s+2\\s+1\\s+0\\s+0 s\\n");

        // The report of the rounds so far, as status suggests it, pasted.
        installHome();
        List<String> hints = hints(r.out());
        assertThat(hints).containsExactly(cli() + " report results/demo.jsonl");
        Run report = paste(hints.get(0));
        assertThat(report.code()).as(report.err()).isZero();
        assertThat(
                        org.metisfl.cli.report.FederationReport.readRows(
                                dir.resolve("results/demo.html")))
                .extracting(org.metisfl.cli.report.FederationReport.Row::round)
                .containsExactly(1L, 2L);
    }

    @Test
    void jobDefaultsToTheOneRunningMetisflJobAndOtherwiseAsksForIt() {
        flink.addJob("some other job", "RUNNING");
        FakeFlink.Job old = flink.addJob("MetisFL federation old", "FINISHED");
        Run none = run("status");
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err())
                .contains("no running MetisFL job on " + flink.url())
                .contains(old.id() + " 'old', is FINISHED");

        FakeFlink.Job a = flink.addJob("MetisFL federation a", "RUNNING");
        Run one = run("status");
        assertThat(one.code()).as(one.err()).isZero();
        assertThat(one.out()).contains("Job " + a.id());

        FakeFlink.Job b = flink.addJob("MetisFL federation b", "RESTARTING");
        Run two = run("stop");
        assertThat(two.code()).isEqualTo(2);
        assertThat(two.err())
                .contains("2 MetisFL jobs are running")
                .contains(a.id())
                .contains(b.id())
                .contains("give the job id, e.g. '" + cli() + " stop ");
        assertThat(flink.requests("POST", "/jobs")).isEmpty();
    }

    @Test
    void unknownJobIsReportedAsNotFound() {
        String id = "0123456789abcdef0123456789abcdef";
        Run r = run("status", id);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip())
                .isEqualTo(
                        "metisfl: job "
                                + id
                                + " not found on "
                                + flink.url()
                                + "; run '"
                                + cli()
                                + " jobs' to see the MetisFL jobs there");
        Run bad = run("savepoint", "nope");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("'nope' is not a Flink job id");
    }

    @Test
    void stopWaitsForTheSavepointAndPrintsItsPathAndHowToResume() {
        Run s = submit("--set", "round.quorum=0.75");
        assertThat(s.code()).as(s.err()).isZero();
        String id = flink.jobs.keySet().iterator().next();

        Run r = run("stop");
        assertThat(r.code()).as(r.err()).isZero();
        String location = "file:/savepoints/savepoint-" + id.substring(0, 6);
        assertThat(r.out())
                .contains("Stopped job " + id + " (FINISHED) with savepoint " + location)
                .contains(
                        "Resume it with: "
                                + cli()
                                + " resume --from "
                                + location
                                + " fed.yaml --set round.quorum=0.75");
        var stop = flink.requests("POST", "/jobs/" + id + "/stop");
        assertThat(stop).hasSize(1);
        assertThat(
                        JsonParser.parseString(stop.get(0).body())
                                .getAsJsonObject()
                                .get("drain")
                                .getAsBoolean())
                .isFalse();
        assertThat(flink.requests("GET", "/jobs/" + id + "/savepoints/").size())
                .isGreaterThan(flink.savepointPollsInProgress);
    }

    @Test
    void failedSavepointShowsFlinksReason() {
        FakeFlink.Job job = flink.addJob("MetisFL federation demo", "RUNNING");
        flink.savepointFailure =
                "java.util.concurrent.CompletionException: java.lang.Exception: boom\n"
                        + "\tat x.y(Z.java:1)\n"
                        + "Caused by: org.apache.flink.runtime.checkpoint.CheckpointException:"
                        + " Checkpoint Coordinator is suspending.\n"
                        + "\tat a.b(C.java:2)\n";
        Run r = run("savepoint", job.id());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip())
                .startsWith("metisfl: the savepoint of job " + job.id() + " failed:")
                .contains("Checkpoint Coordinator is suspending.");
    }

    @Test
    void savepointPrintsThePathAndLeavesTheJobRunning() {
        FakeFlink.Job job = flink.addJob("MetisFL federation demo", "RUNNING");
        Run r = run("savepoint");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("Savepoint of job " + job.id() + ": file:/savepoints/");
        assertThat(flink.jobs.get(job.id()).state()).isEqualTo("RUNNING");
    }

    @Test
    void resumeRunsTheJarFromTheSavepoint() {
        Run r =
                run(
                        "resume",
                        "--from",
                        "file:/savepoints/savepoint-abc",
                        federation.toString(),
                        "--jar",
                        jar.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("Resumed federation 'demo' as job");
        var run =
                flink.requests("POST", "/jars/").stream()
                        .filter(q -> q.path().endsWith("/run"))
                        .findFirst()
                        .orElseThrow();
        var body = JsonParser.parseString(run.body()).getAsJsonObject();
        assertThat(body.get("savepointPath").getAsString())
                .isEqualTo("file:/savepoints/savepoint-abc");
        assertThat(body.get("allowNonRestoredState").getAsBoolean()).isFalse();
    }

    @Test
    void aJobThatFailsToStartShowsFlinksRootCause() {
        flink.runError =
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute"
                        + " application.\n\tat a.b(C.java:1)\nCaused by:"
                        + " org.apache.flink.client.program.ProgramInvocationException: The main"
                        + " method caused an error: gateway 0 cannot listen\n\t... 4 more\n";
        Run r = submit();
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip())
                .startsWith(
                        "metisfl: Flink at " + flink.url() + " refused starting the federation job")
                .endsWith("The main method caused an error: gateway 0 cannot listen");
    }

    @Test
    void gatewayPortInUseOnALocalClusterIsRefused() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Run r = submit("--set", "gateway.port=" + taken.getLocalPort());
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err())
                    .contains("learner gateway port " + taken.getLocalPort() + " is in use")
                    .contains("pick another port, e.g. '" + cli() + " submit ");
        }
        assertThat(flink.requests("POST", "/jars")).isEmpty();
    }

    @Test
    void missingJobJarTellsToBuildFirst() {
        Run r = run("submit", federation.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("the job jar is missing").contains("mvn install -DskipTests");
    }

    @Test
    void theHintsAfterSubmitWorkWhenPasted() throws Exception {
        installHome();
        Run s = submit();
        assertThat(s.code()).as(s.err()).isZero();
        String id = flink.jobs.keySet().iterator().next();
        List<String> hints = hints(s.out());
        assertThat(hints)
                .containsExactly(
                        cli() + " learners --count 2 --job " + id, cli() + " status " + id);

        Run learners = paste(hints.get(0));
        // Past the command line and the job (the learner programs are not built in this test).
        assertThat(learners.err()).contains("the Fashion-MNIST example is not built");
        Run status = paste(hints.get(1));
        assertThat(status.code()).as(status.err()).isZero();
        assertThat(status.out()).contains("Job " + id);
    }

    @Test
    void aSecondFederationUnderARunningNameIsRefusedAndTheRenamingHintWorksWhenPasted()
            throws Exception {
        installHome();
        Run first = submit();
        assertThat(first.code()).as(first.err()).isZero();
        String firstId = flink.jobs.keySet().iterator().next();
        try (ServerSocket taken =
                new ServerSocket(gatewayPort, 1, InetAddress.getLoopbackAddress())) {
            Run again = submit();
            assertThat(again.code()).isEqualTo(2);
            assertThat(again.err())
                    .contains("a federation named 'demo' is already running", firstId);
            List<String> hints = hints(again.err());
            assertThat(hints).hasSize(2);
            assertThat(hints.get(0)).contains("--set federation.name=demo-2", "gateway.port=");
            assertThat(hints.get(1)).isEqualTo(cli() + " stop " + firstId);
            Run renamed = paste(hints.get(0));
            assertThat(renamed.code()).as(renamed.err()).isZero();
            assertThat(renamed.out()).contains("Submitted federation 'demo-2'");
        }
        assertThat(flink.jobs).hasSize(2);
    }

    @Test
    void withSeveralJobsTheHintRepeatsTheCommandForOneJobAndWorksWhenPasted() throws Exception {
        installHome();
        assertThat(submit().code()).isZero();
        int otherPort;
        try (ServerSocket sock = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            otherPort = sock.getLocalPort();
        }
        Run second = submit("--set", "federation.name=other", "--set", "gateway.port=" + otherPort);
        assertThat(second.code()).as(second.err()).isZero();

        for (String[] command :
                List.of(
                        new String[] {"status"},
                        new String[] {"learners", "--count", "1"},
                        new String[] {"stop", "--timeout", "30"})) {
            Run r = run(command);
            assertThat(r.code())
                    .as(String.join(" ", command) + ": " + r.out() + r.err())
                    .isEqualTo(2);
            List<String> hints = hints(r.err());
            assertThat(hints).as(r.err()).hasSize(1);
            Run pasted = paste(hints.get(0));
            assertThat(pasted.err()).doesNotContain("MetisFL jobs are running");
            if (command[0].equals("learners")) {
                assertThat(hints.get(0)).contains(" --job ");
                assertThat(pasted.err()).contains("the Fashion-MNIST example is not built");
            } else {
                assertThat(pasted.code()).as(pasted.err()).isZero();
            }
        }
    }

    @Test
    void withoutARunningJobTheHintsShowTheLatestAndStartOneWhenPasted() throws Exception {
        installHome();
        FakeFlink.Job old = flink.addJob("MetisFL federation old", "FINISHED");
        Run none = run("status");
        assertThat(none.code()).isEqualTo(1);
        List<String> hints = hints(none.err());
        assertThat(hints)
                .containsExactly(
                        cli() + " status " + old.id(),
                        cli() + " submit home/conf/federations/quickstart.yaml");
        Run status = paste(hints.get(0));
        assertThat(status.code()).as(status.err()).isZero();
        assertThat(status.out()).contains("FINISHED");
        Run submit = paste(hints.get(1));
        assertThat(submit.code()).as(submit.err()).isZero();
        assertThat(submit.out()).contains("Submitted federation 'demo'");
    }

    @Test
    void theResumeHintOfStopResumesWhenPasted() throws Exception {
        installHome();
        assertThat(submit("--set", "round.quorum=0.75").code()).isZero();
        Run stop = run("stop");
        assertThat(stop.code()).as(stop.err()).isZero();
        List<String> hints = hints(stop.out());
        assertThat(hints).singleElement().asString().startsWith(cli() + " resume --from ");
        Run resumed = paste(hints.get(0));
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("Resumed federation 'demo'");
        var run =
                flink.requests("POST", "/jars/").stream()
                        .filter(q -> q.path().endsWith("/run"))
                        .reduce((a, b) -> b)
                        .orElseThrow();
        assertThat(run.body()).contains("round.quorum=0.75").contains("savepointPath");
    }

    @Test
    void theJobListHintOfAnUnknownJobWorksWhenPasted() throws Exception {
        installHome();
        FakeFlink.Job job = flink.addJob("MetisFL federation demo", "RUNNING");
        for (String bad : List.of("0123456789abcdef0123456789abcdef", "nope")) {
            Run r = run("status", bad);
            List<String> hints = hints(r.err());
            assertThat(hints).containsExactly(cli() + " jobs");
            Run jobs = paste(hints.get(0));
            assertThat(jobs.code()).as(jobs.err()).isZero();
            assertThat(jobs.out()).contains(job.id() + "  RUNNING").contains("federation 'demo'");
            assertThat(hints(jobs.out())).containsExactly(cli() + " status " + job.id());
        }
    }

    @Test
    void theOtherPortHintOfATakenGatewayPortSubmitsWhenPasted() throws Exception {
        installHome();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Run r = submit("--set", "gateway.port=" + taken.getLocalPort());
            assertThat(r.code()).isEqualTo(1);
            List<String> hints = hints(r.err());
            assertThat(hints).hasSize(1);
            Run pasted = paste(hints.get(0));
            assertThat(pasted.code()).as(pasted.err()).isZero();
            assertThat(pasted.out()).contains("Submitted federation 'demo'");
        }
    }

    @Test
    void noCommandSuggestsTheHelpThatWorksWhenPasted() throws Exception {
        installHome();
        Run r = run();
        assertThat(r.code()).isEqualTo(2);
        List<String> hints = hints(r.err());
        assertThat(hints).containsExactly(cli() + " --help");
        Run help = paste(hints.get(0));
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("report", "jobs", "learners");
    }

    @Test
    void reportCommandWritesTheHtmlReportOfAResultsFile() throws Exception {
        Path results =
                Files.writeString(
                        dir.resolve("r.jsonl"),
                        """
                        {"federation":"demo","round":1,"participants":2,"contributors":["a","b"],"evalMetrics":{"accuracy":0.5}}
                        {"federation":"demo","round":2,"participants":2,"contributors":["a"],"evalMetrics":{"accuracy":0.75}}
                        """);
        Run r = run("report", "r.jsonl");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("Report: " + dir.resolve("r.html"));
        assertThat(org.metisfl.cli.report.FederationReport.readRows(dir.resolve("r.html")))
                .extracting(org.metisfl.cli.report.FederationReport.Row::accuracy)
                .containsExactly(0.5, 0.75);
        assertThat(results).exists();
        Run missing = run("report", "none.jsonl");
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("the results file " + dir.resolve("none.jsonl"));
    }
}
