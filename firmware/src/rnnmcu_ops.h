/* rnnmcu — fixed-point primitives shared by the integer kernels (codegen/NUMERICS.md).
 * Every function here has a numpy twin in codegen/qref.py; the two agree bit for bit. */
#ifndef RNNMCU_OPS_H
#define RNNMCU_OPS_H

#include <stdint.h>

/* The kernels rely on arithmetic right shifts of negative values (every GCC/Clang target). */
#if ((-1) >> 1) != -1
#error "rnnmcu needs arithmetic right shifts of negative integers"
#endif

#define RNNMCU_INLINE static inline

RNNMCU_INLINE int32_t rnnmcu_sat16(int64_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : (int32_t)v);
}

RNNMCU_INLINE int32_t rnnmcu_sat(int64_t v, int32_t lo, int32_t hi)
{
    return v > hi ? hi : (v < lo ? lo : (int32_t)v);
}

/* The high word of the 64-bit product a * b, i.e. floor(a * b / 2^32).  One SMULL (Cortex-M) or
 * MULH (RV32IM), and MULSH on ESP32's LX6/LX7.  Xtensa cores without MULSH (ESP8266's LX106,
 * built with the call0 ABI) would call the library's 64-bit multiply (about 30 instructions and a
 * call); there it is four 32-bit MULLs on 16-bit halves (the signed high-product method of
 * Hacker's Delight, section 8-2), every partial sum provably inside int32.  RNNMCU_SOFT_MULHI
 * forces that path (tests check it against the 64-bit product). */
#if defined(RNNMCU_SOFT_MULHI) || (defined(__XTENSA__) && defined(__XTENSA_CALL0_ABI__))
RNNMCU_INLINE int32_t rnnmcu_mulhi(int32_t a, int32_t b)
{
    const uint32_t a0 = (uint32_t)a & 0xFFFFu, b0 = (uint32_t)b & 0xFFFFu; /* low halves, unsigned */
    const int32_t a1 = a >> 16, b1 = b >> 16;                                /* high halves, signed */
    const int32_t t = a1 * (int32_t)b0 + (int32_t)((a0 * b0) >> 16);       /* |t| < 2^31 */
    const int32_t w1 = (int32_t)((uint32_t)t & 0xFFFFu) + (int32_t)a0 * b1; /* |w1| < 2^31 */
    return a1 * b1 + (t >> 16) + (w1 >> 16);
}
#else
RNNMCU_INLINE int32_t rnnmcu_mulhi(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b) >> 32);
}
#endif

/* Requantise an accumulator: (acc * m + 2^(sh-1)) >> sh with a 64-bit product; 1 <= sh <= 62.
 * For sh > 32 (the usual case) the same value comes from the high word of the product alone:
 * 2^(sh-1) is then a multiple of 2^32, so with P = acc*m = H*2^32 + L (0 <= L < 2^32),
 * (P + 2^(sh-1)) >> sh = (H + 2^(sh-33)) >> (sh-32) exactly, |H| <= 2^30.  The high word is one
 * instruction on Cortex-M (SMULL) and RV32IM (MULH), and needs no 64-bit shift or add.  A
 * smaller sh is brought to 33 by scaling acc when acc * 2^(33-sh) fits in 32 bits (exact). */
RNNMCU_INLINE int64_t rnnmcu_rq(int32_t acc, int32_t m, int32_t sh)
{
    if (sh <= 32) {
        /* acc * 2^d with sh + d = 33 gives the same value exactly, when it fits in 32 bits */
        const int32_t d = 33 - sh, lim = d < 31 ? (int32_t)(INT32_MAX >> d) : 0;
        if (d > 31 || acc > lim || acc < -lim - 1) /* sh = 1: a shift of 32 never fits */
            return ((int64_t)acc * m + ((int64_t)1 << (sh - 1))) >> sh;
        acc = (int32_t)((uint32_t)acc << d);
        sh = 33;
    }
    {
        const int32_t hi = rnnmcu_mulhi(acc, m);
        return (hi + ((int32_t)1 << (sh - 33))) >> (sh - 32);
    }
}

/* rq of a W/U/Dense accumulator, in 32-bit arithmetic.  The generator proves for every row
 * (codegen/quantize.py, check_narrow) that |acc| * 2^(33-sh) < 2^31 when sh < 33, and that the
 * result stays below 2^26; with that, this equals rnnmcu_rq exactly: one SMULL/MULH, no 64-bit add. */
RNNMCU_INLINE int32_t rnnmcu_rq32(int32_t acc, int32_t m, int32_t sh)
{
    /* With s = max(sh, 33) - 32 >= 1 and hi the high word of (acc * 2^d) * m:
     * (hi + 2^(s-1)) >> s == ((hi >> (s-1)) + 1) >> 1, one add fewer. */
    int32_t e = sh - 33;
    if (e < 0) {
        /* sh = 1 (a shift of 32) meets only acc == 0 on the proven domain: 31 gives the same 0
         * without C's undefined full-width shift */
        acc = (int32_t)((uint32_t)acc << (e < -31 ? 31 : -e));
        e = 0;
    }
    return ((rnnmcu_mulhi(acc, m) >> e) + 1) >> 1;
}

/* rnnmcu_rq32 with its shift already split by the generator into l = max(33 - sh, 0) (at most
 * 31: a larger l only meets acc == 0) and e = max(sh - 33, 0): no branch on the shift, one
 * instruction each (the per-row records of a recurrent layer, rnnmcu_row_q_t). */
RNNMCU_INLINE int32_t rnnmcu_rq32_le(int32_t acc, int32_t m, uint32_t l, uint32_t e)
{
    acc = (int32_t)((uint32_t)acc << l);
    return ((rnnmcu_mulhi(acc, m) >> e) + 1) >> 1;
}

/* sat16 of a value known to fit in int32 (one SSAT on Cortex-M) */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#define rnnmcu_sat16_32(v) ((int32_t)__ssat((v), 16))
#else
RNNMCU_INLINE int32_t rnnmcu_sat16_32(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}
#endif

/* Rounding (half up) right shift; s == 0 leaves v unchanged. */
RNNMCU_INLINE int32_t rnnmcu_rshr(int32_t v, int32_t s)
{
    return s ? (v + ((int32_t)1 << (s - 1))) >> s : v;
}

RNNMCU_INLINE int64_t rnnmcu_rshr64(int64_t v, int32_t s)
{
    return s ? (v + ((int64_t)1 << (s - 1))) >> s : v;
}

/* Interpolated lookup of an int16 value in a 257-entry table covering the whole int16 range:
 * t0 + (((t1 - t0) * f + 128) >> 8) with t0 = t[i], t1 = t[i + 1] and i, f the high and low byte
 * of x + 32768.  Since 256 * t0 is a multiple of 256, that equals (t0 * (256 - f) + t1 * f + 128)
 * >> 8, which Cortex-M's DSP extension computes with one SMLAD from the pair t[i], t[i + 1] in one
 * (halfword-aligned) word load and the pair 256 - f, f: 8 instructions instead of 10. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__ARM_FEATURE_UNALIGNED)
#include <arm_acle.h>
#include <string.h>
RNNMCU_INLINE int32_t rnnmcu_table(const int16_t *t, int32_t x)
{
    const uint32_t u = (uint32_t)(x + 32768);
    const uint32_t f = u & 255u;
    int32_t pair; /* t[i] in the low half, t[i + 1] in the high (little-endian) */
    memcpy(&pair, t + (u >> 8), sizeof pair);
    /* f * 0xFFFF + 256 = f << 16 | (256 - f): 256 - f is 1..256, so the low half never borrows */
    return __smlad(pair, (int32_t)(f * 0xFFFFu + 256u), 128) >> 8;
}
#else
RNNMCU_INLINE int32_t rnnmcu_table(const int16_t *t, int32_t x)
{
    const uint32_t u = (uint32_t)(x + 32768);
    const uint32_t i = u >> 8;
    const int32_t f = (int32_t)(u & 255u);
    const int32_t t0 = t[i];
    return t0 + (((t[i + 1] - t0) * f + 128) >> 8);
}
#endif

#endif
