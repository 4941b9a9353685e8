package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TokenAuthorityTest {
    @Test
    void tokensVerifyOnEveryGatewaySharingTheSecretOnly() {
        String secret = TokenAuthority.newSecret();
        TokenAuthority gateway0 = new TokenAuthority(secret);
        TokenAuthority gateway1 = new TokenAuthority(secret);
        TokenAuthority other = new TokenAuthority(TokenAuthority.newSecret());
        String id = gateway0.newLearnerId();
        String token = gateway0.tokenFor(id);
        assertThat(gateway1.check(id, token)).isNull();
        assertThat(other.check(id, token)).contains("invalid token");
    }

    @Test
    void explainsWhatIsWrongWithCredentials() {
        TokenAuthority t = new TokenAuthority("k");
        assertThat(t.check("", "")).contains("call Join");
        assertThat(t.check("someone", "x")).contains("unknown learner");
        String id = t.newLearnerId();
        assertThat(t.check(id, "forged")).contains("invalid token");
        assertThat(t.newLearnerId()).isNotEqualTo(id);
    }
}
