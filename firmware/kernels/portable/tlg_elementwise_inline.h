/* One element of the elementwise kernels, for the fused loops the compiler generates
 * (IR op Elementwise): the same arithmetic as tlg_add_s8, tlg_mul_s8 and tlg_requantize_s8,
 * inlined with the constants of each call so that the compiler specializes the shifts.
 *
 * An Add's two input rescalings come from compile-time tables (int32 [256] per input, indexed
 * by value + 128): requantize((value + input_offset) << left_shift, input multiplier, shift). */
#ifndef TLG_ELEMENTWISE_INLINE_H
#define TLG_ELEMENTWISE_INLINE_H

#include <stdint.h>

#include "tlg_fixed_point.h"

/* sum: the two rescaled inputs added (they wrap as int32, as CMSIS-NN's sum does). */
static inline int32_t tlg_ew_add(int32_t rescaled_1, int32_t rescaled_2, int32_t multiplier,
                                 int32_t shift, int32_t output_offset, int32_t activation_min,
                                 int32_t activation_max)
{
    const int32_t sum = (int32_t)((uint32_t)rescaled_1 + (uint32_t)rescaled_2);
    const int32_t value = tlg_requantize(sum, multiplier, shift);
    if (activation_min == -128 && activation_max == 127) return tlg_add_sat8(value, output_offset);
    return tlg_add_clamp(value, output_offset, activation_min, activation_max);
}

static inline int32_t tlg_ew_mul(int32_t a, int32_t b, int32_t input_1_offset,
                                 int32_t input_2_offset, int32_t multiplier, int32_t shift,
                                 int32_t output_offset, int32_t activation_min,
                                 int32_t activation_max)
{
    const int32_t value = tlg_requantize((a + input_1_offset) * (b + input_2_offset), multiplier, shift);
    if (activation_min == -128 && activation_max == 127) return tlg_add_sat8(value, output_offset);
    return tlg_add_clamp(value, output_offset, activation_min, activation_max);
}

static inline int32_t tlg_ew_requantize(int32_t x, int32_t input_offset, int32_t multiplier,
                                        int32_t shift, int32_t output_offset)
{
    return tlg_add_sat8(tlg_requantize(x + input_offset, multiplier, shift), output_offset);
}

#endif
