/* int8 dot products shared by the fully connected and LSTM kernels: one input vector against
 * two weight rows at once (the rows need not be adjacent: the LSTM pairs rows of two gates), and
 * against a single row for the remainder.
 *
 * Sums wrap modulo 2^32, as the int32 accumulators of CMSIS-NN do on the target and as the
 * references wrap their exact sums. With the DSP extension, four int8 values are loaded per word
 * and sign-extended into two pairs of int16 lanes with the offset added (SXTAB16; an int8 plus
 * an offset in [-127, 128] fits an int16 lane), then multiplied and accumulated two at a time
 * (SMLAD, which wraps like the plain sum). Two rows keep every value of the loop in a register
 * on the Cortex-M7 (four rows spill). Columns beyond a multiple of four, and every column on
 * other targets, take the plain loop.
 */
#ifndef TLG_DOT_S8_H
#define TLG_DOT_S8_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>

/* Four int8 values as one word; the Cortex-M7 loads unaligned words. */
static inline uint32_t tlg_load_s8x4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, sizeof(word));
    return word;
}

/* The offset in both 16-bit lanes, as SXTAB16 adds it. */
static inline uint32_t tlg_pack_s16x2(int32_t offset)
{
    const uint32_t lane = (uint32_t)offset & 0xFFFFu;
    return lane | (lane << 16);
}

/* SXTAB16 of the word rotated right by 8, which moves bytes 1 and 3 to the lanes it reads. GCC
 * does not fold the rotation into the instruction by itself, so it is written out. */
static inline int32_t tlg_sxtab16_ror8(uint32_t offsets, uint32_t word)
{
#if defined(__GNUC__)
    int32_t result;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(offsets), "r"(word));
    return result;
#else
    return __sxtab16(offsets, (word >> 8) | (word << 24));
#endif
}
#endif

/* acc[r] += sum_k (x[k] + x_offset) * (w_r[k] + w_offset) for r = 0, 1. */
static inline void tlg_dot_s8_x2(const int8_t *x,
                                 const int8_t *w0,
                                 const int8_t *w1,
                                 int32_t depth,
                                 int32_t x_offset,
                                 int32_t w_offset,
                                 int32_t acc[2])
{
    int32_t k = 0;
    int32_t a0 = acc[0], a1 = acc[1];
#if defined(__ARM_FEATURE_DSP)
    const uint32_t x_offsets = tlg_pack_s16x2(x_offset);
    const uint32_t w_offsets = tlg_pack_s16x2(w_offset);
    for (; k + 4 <= depth; k += 4) {
        const uint32_t xv = tlg_load_s8x4(x + k);
        const int32_t x_even = __sxtab16(x_offsets, xv);
        const int32_t x_odd = tlg_sxtab16_ror8(x_offsets, xv);
        uint32_t wv = tlg_load_s8x4(w0 + k);
        a0 = __smlad(__sxtab16(w_offsets, wv), x_even, a0);
        a0 = __smlad(tlg_sxtab16_ror8(w_offsets, wv), x_odd, a0);
        wv = tlg_load_s8x4(w1 + k);
        a1 = __smlad(__sxtab16(w_offsets, wv), x_even, a1);
        a1 = __smlad(tlg_sxtab16_ror8(w_offsets, wv), x_odd, a1);
    }
#endif
    {
        uint32_t s0 = (uint32_t)a0, s1 = (uint32_t)a1;
        for (; k < depth; k++) {
            const int32_t xk = x[k] + x_offset;
            s0 += (uint32_t)(xk * (w0[k] + w_offset));
            s1 += (uint32_t)(xk * (w1[k] + w_offset));
        }
        acc[0] = (int32_t)s0;
        acc[1] = (int32_t)s1;
    }
}

/* acc + sum_k (x[k] + x_offset) * (w[k] + w_offset). */
static inline int32_t tlg_dot_s8(const int8_t *x,
                                 const int8_t *w,
                                 int32_t depth,
                                 int32_t x_offset,
                                 int32_t w_offset,
                                 int32_t acc)
{
    int32_t k = 0;
#if defined(__ARM_FEATURE_DSP)
    const uint32_t x_offsets = tlg_pack_s16x2(x_offset);
    const uint32_t w_offsets = tlg_pack_s16x2(w_offset);
    for (; k + 4 <= depth; k += 4) {
        const uint32_t xv = tlg_load_s8x4(x + k);
        const uint32_t wv = tlg_load_s8x4(w + k);
        acc = __smlad(__sxtab16(w_offsets, wv), __sxtab16(x_offsets, xv), acc);
        acc = __smlad(tlg_sxtab16_ror8(w_offsets, wv), tlg_sxtab16_ror8(x_offsets, xv), acc);
    }
#endif
    {
        uint32_t sum = (uint32_t)acc;
        for (; k < depth; k++)
            sum += (uint32_t)((x[k] + x_offset) * (w[k] + w_offset));
        return (int32_t)sum;
    }
}

#endif
