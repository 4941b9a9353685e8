// MetisFL OpenFHE backend shim: the CKKS operations aggregation needs, over OpenFHE's API, with
// opaque handles and plain arrays so JavaCPP can bind it without OpenFHE's headers on the Java side.
// Built only by the Maven profile "openfhe" (OpenFHE installed; see native/README.md).
//
// Every function catches all exceptions: a call that fails returns 0 (handles) or -1 (counts) and
// leaves the reason in lastError() for the calling thread.
#ifndef METISFL_OPENFHE_CKKS_SHIM_H
#define METISFL_OPENFHE_CKKS_SHIM_H

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "openfhe.h"
#include "ciphertext-ser.h"
#include "cryptocontext-ser.h"
#include "key/key-ser.h"
#include "scheme/ckksrns/ckksrns-ser.h"

namespace metisfl_openfhe {

using namespace lbcrypto;

struct Context {
    CryptoContext<DCRTPoly> cc;
};
struct Keys {
    PublicKey<DCRTPoly> publicKey;
    PrivateKey<DCRTPoly> secretKey;
};
struct Cipher {
    Ciphertext<DCRTPoly> ct;
};
struct Buffer {
    std::string bytes;
};

inline std::string& lastErrorRef() {
    static thread_local std::string error;
    return error;
}

inline const char* lastError() {
    return lastErrorRef().c_str();
}

template <typename F>
inline int64_t guarded(F f) {
    try {
        lastErrorRef().clear();
        return f();
    } catch (const std::exception& e) {
        lastErrorRef() = e.what();
    } catch (...) {
        lastErrorRef() = "unknown OpenFHE error";
    }
    return 0;
}

// Depth 2 leaves room for one multiplication by a constant (scale degree 2) before decryption.
inline int64_t createContext(int32_t ringDim, int32_t scaleBits, int32_t firstModBits) {
    return guarded([&]() -> int64_t {
        CCParams<CryptoContextCKKSRNS> p;
        p.SetSecurityLevel(HEStd_128_classic);
        p.SetSecretKeyDist(UNIFORM_TERNARY);
        p.SetRingDim((uint32_t)ringDim);
        p.SetBatchSize((uint32_t)ringDim / 2);
        p.SetMultiplicativeDepth(2);
        p.SetScalingModSize((uint32_t)scaleBits);
        p.SetFirstModSize((uint32_t)firstModBits);
        Context* c = new Context();
        c->cc = GenCryptoContext(p);
        c->cc->Enable(PKE);
        c->cc->Enable(LEVELEDSHE);
        return (int64_t)c;
    });
}

inline int64_t keyGen(int64_t ctx) {
    return guarded([&]() -> int64_t {
        auto kp = ((Context*)ctx)->cc->KeyGen();
        Keys* k = new Keys();
        k->publicKey = kp.publicKey;
        k->secretKey = kp.secretKey;
        return (int64_t)k;
    });
}

inline int64_t encrypt(int64_t ctx, int64_t keys, const double* values, int32_t count,
                       int32_t withSecretKey) {
    return guarded([&]() -> int64_t {
        auto& cc = ((Context*)ctx)->cc;
        std::vector<double> v(values, values + count);
        Plaintext pt = cc->MakeCKKSPackedPlaintext(v);
        Keys* k = (Keys*)keys;
        Cipher* c = new Cipher();
        c->ct = withSecretKey ? cc->Encrypt(k->secretKey, pt) : cc->Encrypt(k->publicKey, pt);
        return (int64_t)c;
    });
}

inline int64_t add(int64_t ctx, int64_t a, int64_t b) {
    return guarded([&]() -> int64_t {
        Cipher* c = new Cipher();
        c->ct = ((Context*)ctx)->cc->EvalAdd(((Cipher*)a)->ct, ((Cipher*)b)->ct);
        return (int64_t)c;
    });
}

inline int64_t multiplyConst(int64_t ctx, int64_t a, double w) {
    return guarded([&]() -> int64_t {
        Cipher* c = new Cipher();
        c->ct = ((Context*)ctx)->cc->EvalMult(((Cipher*)a)->ct, w);
        return (int64_t)c;
    });
}

inline int32_t decrypt(int64_t ctx, int64_t keys, int64_t ct, double* out, int32_t count) {
    return (int32_t)guarded([&]() -> int64_t {
        Plaintext pt;
        ((Context*)ctx)->cc->Decrypt(((Keys*)keys)->secretKey, ((Cipher*)ct)->ct, &pt);
        pt->SetLength((size_t)count);
        std::vector<double> v = pt->GetRealPackedValue();
        for (int32_t i = 0; i < count && i < (int32_t)v.size(); i++) out[i] = v[i];
        return 1;
    });
}

inline int32_t scaleDegree(int64_t ct) {
    return (int32_t)((Cipher*)ct)->ct->GetNoiseScaleDeg();
}

template <typename T>
inline int64_t serializeObject(const T& obj) {
    return guarded([&]() -> int64_t {
        std::stringstream ss;
        Serial::Serialize(obj, ss, SerType::BINARY);
        Buffer* b = new Buffer();
        b->bytes = ss.str();
        return (int64_t)b;
    });
}

inline int64_t serializeCiphertext(int64_t ct) {
    return serializeObject(((Cipher*)ct)->ct);
}
inline int64_t serializePublicKey(int64_t keys) {
    return serializeObject(((Keys*)keys)->publicKey);
}
inline int64_t serializeSecretKey(int64_t keys) {
    return serializeObject(((Keys*)keys)->secretKey);
}

inline int64_t bufferSize(int64_t buf) {
    return (int64_t)((Buffer*)buf)->bytes.size();
}
inline void bufferCopy(int64_t buf, int8_t* out) {
    const std::string& s = ((Buffer*)buf)->bytes;
    std::memcpy(out, s.data(), s.size());
}
inline void freeBuffer(int64_t buf) {
    delete (Buffer*)buf;
}

inline int64_t deserializeCiphertext(const int8_t* data, int64_t len) {
    return guarded([&]() -> int64_t {
        std::stringstream ss(std::string((const char*)data, (size_t)len));
        Ciphertext<DCRTPoly> ct;
        Serial::Deserialize(ct, ss, SerType::BINARY);
        if (!ct) throw std::runtime_error("not an OpenFHE ciphertext");
        Cipher* c = new Cipher();
        c->ct = ct;
        return (int64_t)c;
    });
}

// Either part may be absent (length 0): a holder of the public key only cannot decrypt.
inline int64_t deserializeKeys(const int8_t* pk, int64_t pkLen, const int8_t* sk, int64_t skLen) {
    return guarded([&]() -> int64_t {
        Keys* k = new Keys();
        if (pkLen > 0) {
            std::stringstream ss(std::string((const char*)pk, (size_t)pkLen));
            Serial::Deserialize(k->publicKey, ss, SerType::BINARY);
        }
        if (skLen > 0) {
            std::stringstream ss(std::string((const char*)sk, (size_t)skLen));
            Serial::Deserialize(k->secretKey, ss, SerType::BINARY);
        }
        return (int64_t)k;
    });
}

inline void freeCiphertext(int64_t ct) {
    delete (Cipher*)ct;
}
inline void freeKeys(int64_t keys) {
    delete (Keys*)keys;
}
inline void freeContext(int64_t ctx) {
    delete (Context*)ctx;
}

}  // namespace metisfl_openfhe

#endif  // METISFL_OPENFHE_CKKS_SHIM_H
