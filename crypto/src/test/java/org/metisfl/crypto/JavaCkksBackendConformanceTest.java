package org.metisfl.crypto;

import org.metisfl.crypto.ckks.JavaCkksBackend;

/** The pure-Java RNS-CKKS backend passes the conformance suite. */
class JavaCkksBackendConformanceTest extends HeBackendConformanceSuite {

    @Override
    protected HeBackend backend() {
        return new JavaCkksBackend();
    }
}
