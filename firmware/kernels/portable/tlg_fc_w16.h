/* A fully connected layer with its weights widened to int16 at compile time: the dot products
 * load two weights per word and four per 64-bit load, with no sign extension in the inner loop
 * (SMLAD under __ARM_FEATURE_DSP), and each row's requantization is prepared at compile time.
 * Same result as tlg_fully_connected_s8: the input offset is added when the input is widened,
 * the weight offset at compile time.
 *
 * The function is always inlined: generated code calls it with constant sizes, which lets the
 * compiler unroll the inner loop of small layers (the rank-r products of a TinyLSTM). */
#ifndef TLG_FC_W16_H
#define TLG_FC_W16_H

#include <stdint.h>
#include <string.h>

#include "tlg_fixed_point.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* Four MACs: w and x hold four int16 each. */
static inline int32_t tlg_mac4(uint64_t w, uint64_t x, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    acc = __smlad((uint32_t)w, (uint32_t)x, acc);
    return __smlad((uint32_t)(w >> 32), (uint32_t)(x >> 32), acc);
#else
    for (int i = 0; i < 4; i++) {
        acc += (int32_t)(int16_t)(uint16_t)(w >> (16 * i)) * (int32_t)(int16_t)(uint16_t)(x >> (16 * i));
    }
    return acc;
#endif
}

/* p is 8-byte aligned (rows and scratch are): one LDRD. */
static inline uint64_t tlg_load4(const int16_t *p)
{
    uint64_t v;
#if defined(__GNUC__)
    p = (const int16_t *)__builtin_assume_aligned(p, 8);
#endif
    memcpy(&v, p, sizeof v);
    return v;
}

/* The output stage: a full int8 range is one saturation. */
static inline int32_t tlg_fc_out(int32_t v, int32_t offset, int32_t min, int32_t max)
{
    return (min == -128 && max == 127) ? tlg_add_sat8(v, offset) : tlg_add_clamp(v, offset, min, max);
}

/* output[b][n] = clamp(requantize(bias[n] + sum_k (input[b][k] + input_offset) * weights[n][k],
 *                  requant[n or 0]) + output_offset, activation_min, activation_max)
 *   accum_depth    K
 *   padded_depth   K rounded up to a multiple of 4: the row length of weights and input16
 *   input          int8 [batches, K]
 *   input16        scratch int16 [padded_depth], 8-byte aligned
 *   weights        int16 [N, padded_depth] (weight + weight offset, zero padded), 8-byte aligned
 *   bias           int32 [N], or NULL
 *   requant        [N] when per_channel, else [1]
 *   output         int8 [batches, N]; must not overlap input */
__attribute__((always_inline)) static inline void tlg_fc_w16_s8(int32_t batches, int32_t accum_depth, int32_t padded_depth,
                                 int32_t output_depth, int32_t input_offset,
                                 int32_t output_offset, int32_t activation_min,
                                 int32_t activation_max, const tlg_requant_prepared *requant,
                                 int32_t per_channel, const int8_t *input, int16_t *input16,
                                 const int16_t *weights, const int32_t *bias, int8_t *output)
{
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *x = input + b * accum_depth;
        int8_t *y = output + b * output_depth;
        for (int32_t k = 0; k < accum_depth; k++) input16[k] = (int16_t)(x[k] + input_offset);
        for (int32_t k = accum_depth; k < padded_depth; k++) input16[k] = 0;

        /* Four rows per pass share each load of the input. */
        int32_t n = 0;
        for (; n + 3 < output_depth; n += 4) {
            const int16_t *w0 = weights + n * padded_depth;
            const int16_t *w1 = w0 + padded_depth;
            const int16_t *w2 = w1 + padded_depth;
            const int16_t *w3 = w2 + padded_depth;
            int32_t acc0 = bias ? bias[n] : 0;
            int32_t acc1 = bias ? bias[n + 1] : 0;
            int32_t acc2 = bias ? bias[n + 2] : 0;
            int32_t acc3 = bias ? bias[n + 3] : 0;
            for (int32_t k = 0; k < padded_depth; k += 4) {
                const uint64_t xv = tlg_load4(input16 + k);
                acc0 = tlg_mac4(tlg_load4(w0 + k), xv, acc0);
                acc1 = tlg_mac4(tlg_load4(w1 + k), xv, acc1);
                acc2 = tlg_mac4(tlg_load4(w2 + k), xv, acc2);
                acc3 = tlg_mac4(tlg_load4(w3 + k), xv, acc3);
            }
            const tlg_requant_prepared *rq = &requant[per_channel ? n : 0];
            const int32_t step = per_channel ? 1 : 0;
            y[n] = (int8_t)tlg_fc_out(tlg_requantize_prepared(acc0, rq), output_offset, activation_min, activation_max);
            y[n + 1] = (int8_t)tlg_fc_out(tlg_requantize_prepared(acc1, rq + step), output_offset, activation_min, activation_max);
            y[n + 2] = (int8_t)tlg_fc_out(tlg_requantize_prepared(acc2, rq + 2 * step), output_offset, activation_min, activation_max);
            y[n + 3] = (int8_t)tlg_fc_out(tlg_requantize_prepared(acc3, rq + 3 * step), output_offset, activation_min, activation_max);
        }
        /* The last rows, one at a time (a count, so that constant sizes remove the loop). */
        const int32_t tail = output_depth & 3;
        for (int32_t t = 0; t < tail; t++, n++) {
            const int16_t *w = weights + n * padded_depth;
            int32_t acc = bias ? bias[n] : 0;
            for (int32_t k = 0; k < padded_depth; k += 4) acc = tlg_mac4(tlg_load4(w + k), tlg_load4(input16 + k), acc);
            const int32_t v = tlg_requantize_prepared(acc, &requant[per_channel ? n : 0]);
            y[n] = (int8_t)tlg_fc_out(v, output_offset, activation_min, activation_max);
        }
    }
}

#endif
