/* One element of the elementwise kernels, for the fused loops the compiler generates
 * (IR op Elementwise): the same results as tlg_add_s8 and tlg_mul_s8, inlined with the
 * constants of each call so that the compiler specializes the shifts. (A requantization of one
 * int8 value is a table there.)
 *
 * An Add reads its two input rescalings from compile-time tables (int32 [256] per input, indexed
 * by value + 128): requantize((value + input_offset) << left_shift, input multiplier, shift), or
 * tables scaled so that their sum shifted right is the output (tlg_ew_add_scaled). A Mul
 * requantizes with one 64-bit multiply-accumulate, or with one rounded high multiply (SMMLAR)
 * where that is exact, possibly on tables scaled for it (tlg_ew_mul_tables). The compiler picks
 * each form only after checking it against the Add's or Mul's arithmetic for every pair of int8
 * inputs (src/emit/kernels/elementwise.ts, src/plan/elementwise-tables.ts). Results may be kept
 * as the value plus 128, so activation ranges are 0..255 there (tlg_saturate). */
#ifndef TLG_ELEMENTWISE_INLINE_H
#define TLG_ELEMENTWISE_INLINE_H

#include <stdint.h>

#include "tlg_fixed_point.h"

/* requantize(value) + offset, wrapped to int32. For the shifts of multipliers below 1/2 (down
 * to -22) and an int8 zero point the offset rides in the rounding constant, so that the
 * compiler emits one multiply-accumulate and a shift; the sum cannot wrap there (the requantized
 * value is below 2^30). */
static inline int32_t tlg_requantize_add(int32_t value, int32_t multiplier, int32_t shift, int32_t offset)
{
    if (shift <= -1 && shift >= -22 && offset >= -256 && offset <= 256) {
        const int32_t total = 31 - shift;
        const int64_t init = ((int64_t)1 << (total - 1)) + (int64_t)offset * ((int64_t)1 << total);
        return (int32_t)(((int64_t)value * multiplier + init) >> 32) >> (total - 32);
    }
    return (int32_t)((uint32_t)tlg_requantize(value, multiplier, shift) + (uint32_t)offset);
}

/* The rounded high word of value·multiplier, plus offset: one SMMLAR, or SMMULR for an offset
 * of 0 (a constant in generated code, so the test folds away and no register holds the 0). The
 * compiler uses it for requantize(value, multiplier·2^(32 - T), shift) + offset where it checked
 * at compile time that both agree for every value the step can see
 * (src/emit/kernels/elementwise.ts). */
static inline int32_t tlg_high_multiply_add(int32_t value, int32_t multiplier, int32_t offset)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t result;
    if (offset == 0)
        __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(value), "r"(multiplier));
    else
        __asm__("smmlar %0, %1, %2, %3" : "=r"(result) : "r"(value), "r"(multiplier), "r"(offset));
    return result;
#else
    return (int32_t)(((int64_t)value * multiplier + 0x80000000LL) >> 32) + offset;
#endif
}

/* sum: the two rescaled inputs added (they wrap as int32, as CMSIS-NN's sum does). */
static inline int32_t tlg_ew_add(int32_t rescaled_1, int32_t rescaled_2, int32_t multiplier,
                                 int32_t shift, int32_t output_offset, int32_t activation_min,
                                 int32_t activation_max)
{
    const int32_t sum = (int32_t)((uint32_t)rescaled_1 + (uint32_t)rescaled_2);
    const int32_t value = tlg_requantize_add(sum, multiplier, shift, output_offset);
    return tlg_saturate(value, activation_min, activation_max);
}

static inline int32_t tlg_ew_mul(int32_t a, int32_t b, int32_t input_1_offset,
                                 int32_t input_2_offset, int32_t multiplier, int32_t shift,
                                 int32_t output_offset, int32_t activation_min,
                                 int32_t activation_max)
{
    const int32_t product = (a + input_1_offset) * (b + input_2_offset);
    const int32_t value = tlg_requantize_add(product, multiplier, shift, output_offset);
    return tlg_saturate(value, activation_min, activation_max);
}

/* An Add from tables the compiler scaled so that the sum of the two entries, shifted right by
 * `shift`, is the Add's output (rounding and output offset included), which it checked for
 * every pair of int8 inputs (src/emit/kernels/elementwise.ts). */
static inline int32_t tlg_ew_add_scaled(int32_t scaled_1, int32_t scaled_2, int32_t shift,
                                        int32_t activation_min, int32_t activation_max)
{
    return tlg_saturate((int32_t)((uint32_t)scaled_1 + (uint32_t)scaled_2) >> shift, activation_min, activation_max);
}

/* tlg_ew_mul with the requantization as one SMMLAR (tlg_high_multiply_add). */
static inline int32_t tlg_ew_mul_high(int32_t a, int32_t b, int32_t input_1_offset,
                                      int32_t input_2_offset, int32_t high_multiplier,
                                      int32_t output_offset, int32_t activation_min,
                                      int32_t activation_max)
{
    const int32_t product = (a + input_1_offset) * (b + input_2_offset);
    const int32_t value = tlg_high_multiply_add(product, high_multiplier, output_offset);
    return tlg_saturate(value, activation_min, activation_max);
}

/* A Mul from tables the compiler scaled for it (src/plan/elementwise-tables.ts): the rounded
 * high word of the two entries' product is the requantized product. */
static inline int32_t tlg_ew_mul_tables(int32_t scaled_1, int32_t scaled_2, int32_t output_offset,
                                        int32_t activation_min, int32_t activation_max)
{
    return tlg_saturate(tlg_high_multiply_add(scaled_2, scaled_1, output_offset), activation_min, activation_max);
}

/* A table pointer the compiler may not see through: GCC turns table + k indexed by i into
 * table indexed by i + k, an addition per lookup, where the pointer to the entry of value 0 is
 * what the loop needs (k != 0 for tables read with a signed index). */
#if defined(__GNUC__)
#define TLG_OPAQUE_POINTER(p) __asm__("" : "+r"(p))
#else
#define TLG_OPAQUE_POINTER(p) ((void)0)
#endif

#endif
