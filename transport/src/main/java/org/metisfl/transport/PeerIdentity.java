package org.metisfl.transport;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The identity a client proved under mutual TLS: the common name (CN) of its certificate. A server
 * interceptor puts it in the call's {@link Context}; {@link #current()} reads it (null without
 * mutual TLS).
 */
public final class PeerIdentity implements ServerInterceptor {
    private static final Context.Key<String> KEY = Context.key("metisfl-peer-identity");

    /** The identity of the client of the current call, or null if it presented no certificate. */
    public static String current() {
        return KEY.get();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String identity = identityOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        if (identity == null) {
            return next.startCall(call, headers);
        }
        return Contexts.interceptCall(
                Context.current().withValue(KEY, identity), call, headers, next);
    }

    static String identityOf(SSLSession session) {
        if (session == null) {
            return null;
        }
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return null;
        }
        return commonName(leaf);
    }

    /** The CN of a certificate's subject, or null if it has none. */
    public static String commonName(X509Certificate cert) {
        try {
            LdapName name = new LdapName(cert.getSubjectX500Principal().getName());
            for (Rdn rdn : name.getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
            return null;
        } catch (InvalidNameException e) {
            return null;
        }
    }
}
