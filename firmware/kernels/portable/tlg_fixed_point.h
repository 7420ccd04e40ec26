/* Fixed-point arithmetic shared by the portable kernels: the requantization that
 * src/quant/fixed-point.ts states in TypeScript, CMSIS-NN's arm_nn_requantize as generated
 * projects build it (with CMSIS_NN_USE_SINGLE_ROUNDING, TFLite's TFLITE_SINGLE_ROUNDING).
 *
 * The C here has no undefined behaviour. It relies on two implementation-defined behaviours that
 * GCC, Clang and Arm Compiler define alike: converting an out-of-range value to a signed type
 * keeps the low bits, and a right shift of a negative value is arithmetic.
 */
#ifndef TLG_FIXED_POINT_H
#define TLG_FIXED_POINT_H

#include <stdint.h>

#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif

/* val * multiplier * 2^shift / 2^31 for shift in [-31, 30], rounded once, half up, from the
 * exact 64-bit product, and wrapped to int32: arm_nn_requantize with
 * CMSIS_NN_USE_SINGLE_ROUNDING. A negative multiplier (Sub's input 2) scales by a negative
 * real, still rounded half up. */
static inline int32_t tlg_requantize(int32_t val, int32_t multiplier, int32_t shift)
{
    /* floor((p + 2^(t-1)) / 2^t) equals ((p >> (t-1)) + 1) >> 1 (CMSIS-NN's form) and, with a
     * constant shift, compiles to a multiply, one add to the high word and one shift. */
    const int64_t product = (int64_t)val * multiplier;
    const int32_t total_shift = 31 - shift;
    return (int32_t)((product + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

static inline int32_t tlg_clamp(int32_t value, int32_t min, int32_t max)
{
    return value < min ? min : value > max ? max : value;
}

/* clamp(value + offset, min, max) with the sum wrapped to int32 first, as CMSIS-NN's int32
 * additions wrap on the target (the references wrap too). */
static inline int32_t tlg_add_clamp(int32_t value, int32_t offset, int32_t min, int32_t max)
{
    const int32_t sum = (int32_t)((uint32_t)value + (uint32_t)offset);
    return sum < min ? min : sum > max ? max : sum;
}

/* clamp(value + offset) to int8 (a full-range activation): one SSAT on a core that has it. */
static inline int32_t tlg_add_sat8(int32_t value, int32_t offset)
{
    const int32_t sum = (int32_t)((uint32_t)value + (uint32_t)offset);
#if defined(__ARM_FEATURE_SAT)
    return __ssat(sum, 8);
#else
    return sum < -128 ? -128 : sum > 127 ? 127 : sum;
#endif
}

/* clamp(value, min, max): one SSAT for the int8 range, one USAT for 0..255 (an int8 value
 * plus 128, as the generated loops keep some). */
static inline int32_t tlg_saturate(int32_t value, int32_t min, int32_t max)
{
    if (min == -128 && max == 127) return tlg_add_sat8(value, 0);
#if defined(__ARM_FEATURE_SAT)
    if (min == 0 && max == 255) return __usat(value, 8);
#endif
    return tlg_clamp(value, min, max);
}

#endif
