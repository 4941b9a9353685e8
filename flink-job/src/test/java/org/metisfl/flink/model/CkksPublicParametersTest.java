package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.InvalidConfigException;

/** The job's side of a key bundle: public parameters in, secret keys refused. */
class CkksPublicParametersTest {
    @TempDir Path dir;

    @Test
    void readsTheBundlesPublicParametersAndItsKeyEncryptsWhatTheSecretKeyDecrypts()
            throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);
        KeyBundle keys = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE));

        CkksPublicParameters p = CkksPublicParameters.read(dir.resolve(KeyBundle.PUBLIC_FILE));

        assertThat(p.backend()).isEqualTo("metisfl-ckks");
        assertThat(p.preset()).isEqualTo("n13-q120");
        assertThat(p.parameterHash()).isEqualTo(keys.parameterHash());
        assertThat(p.keyId()).isEqualTo(keys.keyId());
        HeContext he = HeContexts.of("metisfl-ckks", "n13-q120");
        float[] v = {1.5f, -2.25f, 3e-3f};
        List<byte[]> cts = he.encrypt(p.publicKey(he), v).stream().map(he::serialize).toList();
        float[] back = keys.decryptShard(new ShardCiphertexts(1.0, cts).encode());
        for (int i = 0; i < v.length; i++) {
            assertThat(back[i]).isCloseTo(v[i], org.assertj.core.data.Offset.offset(1e-6f));
        }
        assertThat(cts)
                .allSatisfy(
                        b ->
                                assertThat(he.deserializeCiphertext(b))
                                        .isInstanceOf(Ciphertext.class));
    }

    @Test
    void refusesASecretKeyFileSayingWhereItBelongs() throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);
        assertThatThrownBy(() -> CkksPublicParameters.read(dir.resolve(KeyBundle.SECRET_FILE)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is a CKKS secret key: the job must never hold it")
                .hasMessageContaining("ckks-public.properties");
    }

    @Test
    void refusesAThresholdMembersSecretKeyShareOrShamirShareSayingTheJobMustNeverHoldIt()
            throws Exception {
        HeContext he = HeContexts.of("metisfl-ckks", "n13-q180-t");
        org.metisfl.crypto.ThresholdHe t = he.threshold().orElseThrow();
        byte[] seed = t.newCommonSeed();
        List<org.metisfl.crypto.KeyShare> members =
                List.of(t.generateKeyShare(seed), t.generateKeyShare(seed));
        Path share = dir.resolve("member-0.share");
        Files.write(share, t.serialize(members.get(0).secretShare()));
        assertThatThrownBy(() -> CkksPublicParameters.read(share))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("secret key share (threshold mode): the job must never hold")
                .hasMessageContaining("ckks-public.properties");

        org.metisfl.crypto.Committee committee =
                t.combineKeyShares(members.stream().map(k -> k.publicShare()).toList());
        List<List<byte[]>> dealt = new java.util.ArrayList<>();
        for (org.metisfl.crypto.KeyShare k : members) {
            dealt.add(t.dealShamirShares(k.secretShare(), committee, 2));
        }
        int me =
                committee
                        .memberIds()
                        .indexOf(
                                java.util.HexFormat.of()
                                        .formatHex(members.get(0).secretShare().shareId()));
        org.metisfl.crypto.ShamirKeyShare shamir =
                t.combineDealings(
                        members.get(0).secretShare(),
                        committee,
                        2,
                        List.of(dealt.get(0).get(me), dealt.get(1).get(me)));
        Path shamirFile = dir.resolve("member-0.shamir");
        Files.write(shamirFile, t.serialize(shamir));
        assertThatThrownBy(() -> CkksPublicParameters.read(shamirFile))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Shamir key share (threshold mode): the job must never hold");

        // The same share inside a properties file's public-key entry is refused as well.
        Path props = dir.resolve("share.properties");
        Files.writeString(
                props,
                "secure-aggregation.backend=metisfl-ckks\nsecure-aggregation.preset=n13-q180-t\n"
                        + "parameter-hash=00\nkey-id=00\npublic-key="
                        + java.util.Base64.getEncoder()
                                .encodeToString(t.serialize(members.get(1).secretShare()))
                        + "\n");
        assertThatThrownBy(() -> CkksPublicParameters.read(props))
                .hasMessageContaining("which the job must never hold");
    }

    @Test
    void refusesAPropertiesFileWithASecretOrWithoutThePublicKey() throws Exception {
        Path f = dir.resolve("p.properties");
        Files.writeString(f, "secure-aggregation.backend=metisfl-ckks\nsecret-key=abc\n");
        assertThatThrownBy(() -> CkksPublicParameters.read(f))
                .hasMessageContaining("'secret-key' entry");
        Files.writeString(
                f,
                "secure-aggregation.backend=metisfl-ckks\nsecure-aggregation.preset=n13-q120\n"
                        + "parameter-hash=00\nkey-id=00\n");
        assertThatThrownBy(() -> CkksPublicParameters.read(f)).hasMessageContaining("'public-key'");
    }

    private Map<String, String> ckks() {
        Map<String, String> s = new HashMap<>();
        s.put("secure-aggregation", "ckks");
        s.put("aggregation.shard-size", "8192");
        return s;
    }

    @Test
    void theFederationConfigurationTakesPublicParametersOnlyAndMatchingOnes() throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);
        Map<String, String> s = ckks();
        s.put("secure-aggregation.public-key", dir.resolve(KeyBundle.PUBLIC_FILE).toString());
        FederationConfig ok = FederationConfig.of(s);
        assertThat(ok.heKeyId()).isPresent();

        s.put("secure-aggregation.preset", "n13-q180");
        assertThatThrownBy(() -> FederationConfig.of(s))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("secure-aggregation.public-key")
                .hasMessageContaining("preset n13-q120");

        Map<String, String> secret = ckks();
        secret.put("secure-aggregation.public-key", dir.resolve(KeyBundle.SECRET_FILE).toString());
        assertThatThrownBy(() -> FederationConfig.of(secret))
                .hasMessageContaining("is a CKKS secret key");

        Map<String, String> named = ckks();
        named.put("secure-aggregation.secret-key", dir.resolve(KeyBundle.SECRET_FILE).toString());
        assertThatThrownBy(() -> FederationConfig.of(named))
                .hasMessageContaining("the job never takes a CKKS secret key");

        Map<String, String> fileWithoutKey = ckks();
        fileWithoutKey.put("federation.initial-model", dir.resolve("m.bin").toString());
        assertThatThrownBy(() -> FederationConfig.of(fileWithoutKey))
                .hasMessageContaining("secure-aggregation.public-key")
                .hasMessageContaining("encrypts the initial model file");

        Map<String, String> firstLearner = ckks();
        assertThat(FederationConfig.of(firstLearner).heKeyId()).isEmpty();
    }
}
