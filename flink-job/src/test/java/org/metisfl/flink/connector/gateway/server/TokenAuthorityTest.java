package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
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
        TokenAuthority t = new TokenAuthority(TokenAuthority.newSecret());
        assertThat(t.check("", "")).contains("call Join");
        assertThat(t.check("someone", "x")).contains("unknown learner");
        String id = t.newLearnerId();
        assertThat(t.check(id, "forged")).contains("invalid token");
        assertThat(t.newLearnerId()).isNotEqualTo(id);
    }

    @Test
    void tokensExpireAfterTheirLifetime() {
        AtomicLong now = new AtomicLong(1_800_000_000_000L);
        TokenAuthority t =
                new TokenAuthority(TokenAuthority.newSecret(), Duration.ofMinutes(10), now::get);
        String id = t.newLearnerId();
        String token = t.tokenFor(id);
        now.addAndGet(Duration.ofMinutes(9).toMillis());
        assertThat(t.check(id, token)).isNull();
        now.addAndGet(Duration.ofMinutes(1).toMillis());
        assertThat(t.check(id, token)).contains("expired");
    }

    @Test
    void aTokenNamesItsLearner() {
        TokenAuthority t = new TokenAuthority(TokenAuthority.newSecret());
        String alice = t.newLearnerId();
        String bob = t.newLearnerId();
        assertThat(t.check(bob, t.tokenFor(alice))).contains("another learner");
    }

    @Test
    void leavingRevokesTheLearnersTokens() {
        TokenAuthority t = new TokenAuthority(TokenAuthority.newSecret());
        String id = t.newLearnerId();
        String token = t.tokenFor(id);
        t.revoke(id);
        assertThat(t.check(id, token)).contains("left the federation");
    }

    @Test
    void theControlCredentialIsNoLearnerToken() {
        TokenAuthority t = new TokenAuthority(TokenAuthority.newSecret());
        String id = t.newLearnerId();
        assertThat(t.check(id, t.controlToken())).contains("invalid token");
        assertThat(t.controlToken()).isNotEqualTo(t.tokenFor(id));
    }
}
