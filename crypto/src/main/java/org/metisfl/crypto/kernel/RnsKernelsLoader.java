package org.metisfl.crypto.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * Chooses the kernels: the available {@link RnsKernelProvider} with the highest priority, or the
 * pure-Java kernels. The system property {@value #PROPERTY} ({@code auto}, {@code java} or a
 * provider's name such as {@code native}) overrides the choice; naming a provider that is not
 * available fails with its cause.
 */
public final class RnsKernelsLoader {

    public static final String PROPERTY = "metisfl.crypto.kernels";

    private static volatile RnsKernels defaultKernels;

    private RnsKernelsLoader() {}

    /** The kernels chosen for this JVM (computed once). */
    public static RnsKernels defaultKernels() {
        RnsKernels k = defaultKernels;
        if (k == null) {
            synchronized (RnsKernelsLoader.class) {
                k = defaultKernels;
                if (k == null) {
                    k = choose(System.getProperty(PROPERTY, "auto"));
                    defaultKernels = k;
                }
            }
        }
        return k;
    }

    /** The kernels named {@code choice} ("auto", "java" or a provider name). */
    public static RnsKernels choose(String choice) {
        String c = choice.trim().toLowerCase(Locale.ROOT);
        if (c.equals("java")) {
            return JavaRnsKernels.INSTANCE;
        }
        RnsKernelProvider best = null;
        List<String> seen = new ArrayList<>();
        for (RnsKernelProvider p : providers()) {
            seen.add(p.name());
            if (c.equals(p.name())) {
                if (!p.isAvailable()) {
                    throw new IllegalStateException(
                            PROPERTY
                                    + "="
                                    + choice
                                    + " but those kernels are unavailable: "
                                    + p.unavailabilityCause(),
                            p.unavailabilityCause());
                }
                return p.kernels();
            }
            if (p.isAvailable() && (best == null || p.priority() > best.priority())) {
                best = p;
            }
        }
        if (!c.equals("auto")) {
            throw new IllegalArgumentException(
                    PROPERTY
                            + "="
                            + choice
                            + " names no kernels; known: java, auto"
                            + (seen.isEmpty() ? "" : ", " + String.join(", ", seen)));
        }
        return best != null && best.priority() > 0 ? best.kernels() : JavaRnsKernels.INSTANCE;
    }

    /** Every provider on the class path, available or not. */
    public static List<RnsKernelProvider> providers() {
        List<RnsKernelProvider> out = new ArrayList<>();
        for (RnsKernelProvider p :
                ServiceLoader.load(
                        RnsKernelProvider.class, RnsKernelsLoader.class.getClassLoader())) {
            out.add(p);
        }
        return out;
    }
}
