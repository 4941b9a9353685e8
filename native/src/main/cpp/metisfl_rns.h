// MetisFL native RNS kernels: negacyclic NTT and modular vector arithmetic for RNS-CKKS.
//
// The same algorithms as org.metisfl.crypto.kernel.JavaRnsKernels (Shoup multiplication by a
// precomputed factor floor(w * 2^64 / q), Cooley-Tukey forward and Gentleman-Sande inverse NTT),
// with every output fully reduced into [0, q): results are bit-identical to the Java kernels.
// Primes are below 2^61. The forward transform keeps butterfly values lazily in [0, 4q)
// (Harvey's bounds) and reduces once at the end.
#ifndef METISFL_RNS_H
#define METISFL_RNS_H

#include <cstdint>

namespace metisfl {

typedef unsigned __int128 u128;

static inline uint64_t mul_hi(uint64_t a, uint64_t b) {
    return (uint64_t)(((u128)a * b) >> 64);
}

// x * w mod q, result in [0, 2q), for any x < 2^64.
static inline uint64_t mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t wp, uint64_t q) {
    return x * w - mul_hi(x, wp) * q;
}

static inline uint64_t reduce_once(uint64_t x, uint64_t q) {
    return x >= q ? x - q : x;
}

inline void forwardNtt(int64_t* data, int off, int n, int64_t q_, const int64_t* psi_,
                       const int64_t* psiShoup_) {
    uint64_t* a = (uint64_t*)data + off;
    const uint64_t* w = (const uint64_t*)psi_;
    const uint64_t* ws = (const uint64_t*)psiShoup_;
    const uint64_t q = (uint64_t)q_;
    const uint64_t two_q = 2 * q;
    // values stay in [0, 4q) between stages
    for (int m = 1, t = n >> 1; m < n; m <<= 1, t >>= 1) {
        for (int i = 0; i < m; i++) {
            const uint64_t s = w[m + i];
            const uint64_t sp = ws[m + i];
            uint64_t* x = a + 2 * i * t;
            uint64_t* y = x + t;
            for (int j = 0; j < t; j++) {
                uint64_t u = x[j];
                if (u >= two_q) u -= two_q;          // [0, 2q)
                uint64_t v = mul_shoup_lazy(y[j], s, sp, q);  // [0, 2q)
                x[j] = u + v;                        // [0, 4q)
                y[j] = u + two_q - v;                // (0, 4q)
            }
        }
    }
    for (int j = 0; j < n; j++) {
        uint64_t v = a[j];
        if (v >= two_q) v -= two_q;
        a[j] = reduce_once(v, q);
    }
}

inline void inverseNtt(int64_t* data, int off, int n, int64_t q_, const int64_t* psiInv_,
                       const int64_t* psiInvShoup_, int64_t nInv_, int64_t nInvShoup_) {
    uint64_t* a = (uint64_t*)data + off;
    const uint64_t* w = (const uint64_t*)psiInv_;
    const uint64_t* ws = (const uint64_t*)psiInvShoup_;
    const uint64_t q = (uint64_t)q_;
    const uint64_t two_q = 2 * q;
    // values stay in [0, 2q) between stages
    for (int m = n >> 1, t = 1; m >= 1; m >>= 1, t <<= 1) {
        for (int i = 0; i < m; i++) {
            const uint64_t s = w[m + i];
            const uint64_t sp = ws[m + i];
            uint64_t* x = a + 2 * i * t;
            uint64_t* y = x + t;
            for (int j = 0; j < t; j++) {
                uint64_t u = x[j];
                uint64_t v = y[j];
                uint64_t sum = u + v;                // [0, 4q)
                x[j] = sum >= two_q ? sum - two_q : sum;
                y[j] = mul_shoup_lazy(u + two_q - v, s, sp, q);  // [0, 2q)
            }
        }
    }
    const uint64_t ni = (uint64_t)nInv_;
    const uint64_t nis = (uint64_t)nInvShoup_;
    for (int j = 0; j < n; j++) {
        a[j] = reduce_once(mul_shoup_lazy(a[j], ni, nis, q), q);
    }
}

inline void addMod(int64_t* a_, int aOff, const int64_t* b_, int bOff, int len, int64_t q_) {
    uint64_t* a = (uint64_t*)a_ + aOff;
    const uint64_t* b = (const uint64_t*)b_ + bOff;
    const uint64_t q = (uint64_t)q_;
    for (int i = 0; i < len; i++) {
        a[i] = reduce_once(a[i] + b[i], q);
    }
}

inline void mulScalarMod(int64_t* a_, int off, int len, int64_t w_, int64_t wShoup_, int64_t q_) {
    uint64_t* a = (uint64_t*)a_ + off;
    const uint64_t q = (uint64_t)q_, w = (uint64_t)w_, wp = (uint64_t)wShoup_;
    for (int i = 0; i < len; i++) {
        a[i] = reduce_once(mul_shoup_lazy(a[i], w, wp, q), q);
    }
}

inline void mulPointwiseMod(int64_t* a_, int aOff, const int64_t* w_, const int64_t* ws_,
                            int wOff, int len, int64_t q_) {
    uint64_t* a = (uint64_t*)a_ + aOff;
    const uint64_t* w = (const uint64_t*)w_ + wOff;
    const uint64_t* ws = (const uint64_t*)ws_ + wOff;
    const uint64_t q = (uint64_t)q_;
    for (int i = 0; i < len; i++) {
        a[i] = reduce_once(mul_shoup_lazy(a[i], w[i], ws[i], q), q);
    }
}

inline void mulPointwiseAddMod(int64_t* a_, int aOff, const int64_t* w_, const int64_t* ws_,
                               int wOff, const int64_t* b_, int bOff, int len, int64_t q_) {
    uint64_t* a = (uint64_t*)a_ + aOff;
    const uint64_t* w = (const uint64_t*)w_ + wOff;
    const uint64_t* ws = (const uint64_t*)ws_ + wOff;
    const uint64_t* b = (const uint64_t*)b_ + bOff;
    const uint64_t q = (uint64_t)q_;
    for (int i = 0; i < len; i++) {
        uint64_t r = reduce_once(mul_shoup_lazy(a[i], w[i], ws[i], q), q);
        a[i] = reduce_once(r + b[i], q);
    }
}

inline void mulScalarAddMod(int64_t* acc_, int accOff, const int64_t* b_, int bOff, int len,
                            int64_t w_, int64_t wShoup_, int64_t q_) {
    uint64_t* acc = (uint64_t*)acc_ + accOff;
    const uint64_t* b = (const uint64_t*)b_ + bOff;
    const uint64_t q = (uint64_t)q_, w = (uint64_t)w_, wp = (uint64_t)wShoup_;
    for (int i = 0; i < len; i++) {
        uint64_t r = reduce_once(mul_shoup_lazy(b[i], w, wp, q), q);
        acc[i] = reduce_once(acc[i] + r, q);
    }
}

}  // namespace metisfl

#endif  // METISFL_RNS_H
