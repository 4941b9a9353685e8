package org.metisfl.crypto.nativekernels;

import java.util.List;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeBackend;
import org.metisfl.crypto.HeBackendConformanceSuite;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.ckks.JavaCkksBackend;
import org.metisfl.crypto.ckks.JavaCkksContext;
import org.metisfl.crypto.ckks.RandomSource;

/** The default backend with the native kernels passes the conformance suite. */
class NativeKernelsConformanceTest extends HeBackendConformanceSuite {

    @Override
    protected HeBackend backend() {
        return new HeBackend() {
            @Override
            public String id() {
                return JavaCkksContext.BACKEND_ID;
            }

            @Override
            public boolean isAvailable() {
                return true;
            }

            @Override
            public Throwable unavailabilityCause() {
                return null;
            }

            @Override
            public List<String> presets() {
                return CkksParameters.presetNames();
            }

            @Override
            public HeContext create(CkksParameters parameters) {
                return JavaCkksBackend.create(
                        parameters, NativeRnsKernels.get(), RandomSource.secure());
            }
        };
    }
}
