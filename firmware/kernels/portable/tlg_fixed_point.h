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

/* val * multiplier * 2^shift / 2^31 for shift in [-31, 30], rounded once, half up, from the
 * exact 64-bit product, and wrapped to int32: arm_nn_requantize with
 * CMSIS_NN_USE_SINGLE_ROUNDING. A negative multiplier (Sub's input 2) scales by a negative
 * real, still rounded half up. */
static inline int32_t tlg_requantize(int32_t val, int32_t multiplier, int32_t shift)
{
    const int64_t product = (int64_t)val * multiplier;
    const int32_t total_shift = 31 - shift;
    return (int32_t)(((product >> (total_shift - 1)) + 1) >> 1);
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

#endif
