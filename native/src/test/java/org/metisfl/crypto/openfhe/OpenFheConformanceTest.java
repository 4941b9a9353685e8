package org.metisfl.crypto.openfhe;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.metisfl.crypto.HeBackend;
import org.metisfl.crypto.HeBackendConformanceSuite;

/** The OpenFHE backend passes the conformance suite; skipped where its shim was not built. */
class OpenFheConformanceTest extends HeBackendConformanceSuite {

    private static final OpenFheBackend BACKEND = new OpenFheBackend();

    @BeforeAll
    static void requireOpenFhe() {
        if (!BACKEND.isAvailable()) {
            System.out.println(
                    "SKIPPED OpenFheConformanceTest: "
                            + BACKEND.unavailabilityCause().getMessage());
        }
        assumeTrue(BACKEND.isAvailable(), "OpenFHE backend not built here");
    }

    @Override
    protected HeBackend backend() {
        return BACKEND;
    }

    @Override
    protected void assumeAvailable() {
        assumeTrue(
                BACKEND.isAvailable(),
                () ->
                        "OpenFHE backend not built here: "
                                + BACKEND.unavailabilityCause().getMessage());
    }
}
