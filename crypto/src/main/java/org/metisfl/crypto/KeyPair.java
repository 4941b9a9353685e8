package org.metisfl.crypto;

/** A public key and its secret key. */
public record KeyPair(PublicKey publicKey, SecretKey secretKey) {}
