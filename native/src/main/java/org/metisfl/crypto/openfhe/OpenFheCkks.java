package org.metisfl.crypto.openfhe;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JNI bridge to {@code src/main/cpp/openfhe_ckks_shim.h}. Its native library is compiled only
 * by the Maven profile {@code openfhe} (OpenFHE installed); elsewhere loading this class fails and
 * {@link OpenFheBackend} reports itself unavailable. Handles are pointers owned by the Java objects
 * that hold them.
 */
@Platform(
        include = "openfhe_ckks_shim.h",
        compiler = "cpp17",
        link = {"OPENFHEpke", "OPENFHEcore"})
@Namespace("metisfl_openfhe")
public final class OpenFheCkks {

    static {
        Loader.load();
    }

    private OpenFheCkks() {}

    public static native @Cast("const char*") BytePointer lastError();

    public static native long createContext(int ringDim, int scaleBits, int firstModBits);

    public static native long keyGen(long ctx);

    public static native long encrypt(
            long ctx,
            long keys,
            @Cast("const double*") double[] values,
            int count,
            int withSecretKey);

    public static native long add(long ctx, long a, long b);

    public static native long multiplyConst(long ctx, long a, double w);

    public static native int decrypt(long ctx, long keys, long ct, double[] out, int count);

    public static native int scaleDegree(long ct);

    public static native long serializeCiphertext(long ct);

    public static native long serializePublicKey(long keys);

    public static native long serializeSecretKey(long keys);

    public static native long bufferSize(long buf);

    public static native void bufferCopy(long buf, @Cast("int8_t*") byte[] out);

    public static native void freeBuffer(long buf);

    public static native long deserializeCiphertext(@Cast("const int8_t*") byte[] data, long len);

    public static native long deserializeKeys(
            @Cast("const int8_t*") byte[] pk,
            long pkLen,
            @Cast("const int8_t*") byte[] sk,
            long skLen);

    public static native void freeCiphertext(long ct);

    public static native void freeKeys(long keys);

    public static native void freeContext(long ctx);
}
