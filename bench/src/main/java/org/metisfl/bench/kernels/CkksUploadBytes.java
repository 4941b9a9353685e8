package org.metisfl.bench.kernels;

import java.util.Locale;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;

/**
 * Bytes on the wire for one update of N float parameters under each CKKS preset, against float32
 * (4N bytes): compact secret-key ciphertexts (a learner holding the key) and public-key ones.
 *
 * <p>Usage: {@code java -cp ... org.metisfl.bench.kernels.CkksUploadBytes [values]}.
 */
public final class CkksUploadBytes {

    private CkksUploadBytes() {}

    public static void main(String[] args) {
        int values = args.length > 0 ? Integer.parseInt(args[0]) : 1 << 20;
        float[] update = new float[values];
        System.out.printf(
                Locale.ROOT,
                "| preset | ciphertexts | secret-key (compact) bytes | expansion | public-key bytes |"
                        + " expansion |%n| --- | --- | --- | --- | --- | --- |%n");
        for (String preset : CkksParameters.presetNames()) {
            HeContext he =
                    HeBackends.get(HeBackends.DEFAULT_BACKEND)
                            .create(CkksParameters.preset(preset));
            KeyPair k = he.generateKeys();
            long sk = 0;
            for (Ciphertext c : he.encrypt(k.secretKey(), update)) {
                sk += he.serialize(c).length;
            }
            long pk = 0;
            for (Ciphertext c : he.encrypt(k.publicKey(), update)) {
                pk += he.serialize(c).length;
            }
            double plain = 4.0 * values;
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %d | %,d | %.2fx | %,d | %.2fx |%n",
                    preset,
                    he.ciphertextCount(values),
                    sk,
                    sk / plain,
                    pk,
                    pk / plain);
        }
    }
}
