package org.metisfl.crypto.nativekernels;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.NoException;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JNI bridge to {@code src/main/cpp/metisfl_rns.h}, generated and compiled by the JavaCPP Maven
 * plugin with the system's g++ during the build. Arrays are passed pinned (critical regions, no
 * copies); the calls never block or call back into Java. Use {@link NativeRnsKernels}.
 */
@Platform(include = "metisfl_rns.h", compiler = "cpp11")
@Namespace("metisfl")
@NoException
@CriticalRegion
public final class NativeRns {

    static {
        Loader.load();
    }

    private NativeRns() {}

    public static native void forwardNtt(
            @Cast("int64_t*") long[] a,
            int off,
            int n,
            long q,
            @Cast("const int64_t*") long[] psi,
            @Cast("const int64_t*") long[] psiShoup);

    public static native void inverseNtt(
            @Cast("int64_t*") long[] a,
            int off,
            int n,
            long q,
            @Cast("const int64_t*") long[] psiInv,
            @Cast("const int64_t*") long[] psiInvShoup,
            long nInv,
            long nInvShoup);

    public static native void addMod(
            @Cast("int64_t*") long[] a,
            int aOff,
            @Cast("const int64_t*") long[] b,
            int bOff,
            int len,
            long q);

    public static native void mulScalarMod(
            @Cast("int64_t*") long[] a, int off, int len, long w, long wShoup, long q);

    public static native void mulPointwiseMod(
            @Cast("int64_t*") long[] a,
            int aOff,
            @Cast("const int64_t*") long[] w,
            @Cast("const int64_t*") long[] wShoup,
            int wOff,
            int len,
            long q);

    public static native void mulPointwiseAddMod(
            @Cast("int64_t*") long[] a,
            int aOff,
            @Cast("const int64_t*") long[] w,
            @Cast("const int64_t*") long[] wShoup,
            int wOff,
            @Cast("const int64_t*") long[] b,
            int bOff,
            int len,
            long q);

    public static native void mulScalarAddMod(
            @Cast("int64_t*") long[] acc,
            int accOff,
            @Cast("const int64_t*") long[] b,
            int bOff,
            int len,
            long w,
            long wShoup,
            long q);
}
