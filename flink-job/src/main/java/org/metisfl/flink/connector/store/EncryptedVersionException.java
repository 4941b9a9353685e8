package org.metisfl.flink.connector.store;

import java.io.IOException;

/**
 * A stored version is encrypted (a CKKS federation's): its values can only be read with the key
 * bundle whose key id it names.
 */
public final class EncryptedVersionException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient StoredEncryption encryption;

    public EncryptedVersionException(long version, StoredEncryption encryption) {
        super(
                "model version "
                        + version
                        + " is encrypted (CKKS "
                        + encryption.preset
                        + ", key id "
                        + encryption.keyId
                        + "): its values can be read only with that key bundle's secret key");
        this.encryption = encryption;
    }

    public StoredEncryption encryption() {
        return encryption;
    }
}
