/* Softmax with the fixed-point arithmetic of arm_softmax_s8 (TFLite's integer softmax, gemmlowp's
 * exp and reciprocal): differences to the row maximum scaled to Q5.26, exponentiated to Q0.31,
 * summed in Q12.19, inverted, and written as int8 at scale 1/256, zero point -128. */
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

#include <stddef.h>

#define ACCUM_BITS 12

/* Sums and differences that wrap, as CMSIS-NN's int32 arithmetic does on the target. */
static int32_t add32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t sub32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* dividend / 2^exponent, rounded to nearest with midpoints away from zero, for exponent in
 * [0, 31]: arm_nn_divide_by_power_of_two. */
static int32_t divide_by_power_of_two(int32_t dividend, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = dividend & mask;
    int32_t result = dividend >> exponent;
    int32_t threshold = mask >> 1;
    if (result < 0)
        threshold++;
    if (remainder > threshold)
        result++;
    return result;
}

/* Saturating rounding doubling high multiply (gemmlowp's SaturatingRoundingDoublingHighMul,
 * arm_nn_doubling_high_mult): (m1 * m2 + nudge) / 2^31 truncated toward zero, the nudge
 * rounding half away from zero. */
static int32_t mul_sat(int32_t m1, int32_t m2)
{
    if (m1 == INT32_MIN && m2 == INT32_MIN)
        return INT32_MAX;
    const int64_t half = (int64_t)1 << 30;
    const int64_t nudge = (m1 < 0) != (m2 < 0) ? 1 - half : half;
    return (int32_t)(((int64_t)m1 * m2 + nudge) / ((int64_t)1 << 31));
}

/* val * 2^exponent saturated to int32, exponent in [1, 30]: arm_nn_mult_by_power_of_two. */
static int32_t mul_pow2(int32_t val, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (val > threshold)
        return INT32_MAX;
    if (val < -threshold)
        return INT32_MIN;
    return (int32_t)((uint32_t)val << exponent);
}

/* exp(val) for val <= 0 in Q5.26, result in Q0.31: exp on [-1/4, 0) by a polynomial around
 * -1/8, times exp(-2^k / 4) for each bit k of the rest (arm_nn_exp_on_negative_values). */
static int32_t exp_on_negative_values(int32_t val)
{
    static const int32_t factors[7] = {1672461947, 1302514674, 790015084, 290630308,
                                       39332535,   720401,     242};
    const int32_t quarter = 1 << 24;
    const int32_t val_mod_minus_quarter = (val & (quarter - 1)) - quarter;
    const int32_t remainder = val_mod_minus_quarter - val;
    const int32_t x = add32((int32_t)((uint32_t)val_mod_minus_quarter << 5), 1 << 28);
    const int32_t x2 = mul_sat(x, x);
    const int32_t x4_over_4 = divide_by_power_of_two(mul_sat(x2, x2), 2);
    const int32_t x3_terms = mul_sat(add32(x4_over_4, mul_sat(x2, x)), 715827883);
    const int32_t poly = divide_by_power_of_two(add32(x3_terms, x2), 1);
    int32_t result = add32(1895147668, mul_sat(1895147668, add32(x, poly)));
    for (int32_t i = 0; i < 7; i++) {
        if (remainder & (1 << (24 + i)))
            result = mul_sat(result, factors[i]);
    }
    return val == 0 ? INT32_MAX : result;
}

/* 1 / (1 + val) for val in [0, 1) in Q0.31, result in Q1.30 read as Q0.31: three
 * Newton-Raphson steps from a linear first guess (arm_nn_one_over_one_plus_x_for_x_in_0_1). */
static int32_t one_over_one_plus_x(int32_t val)
{
    const int64_t sum = (int64_t)val + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = add32(1515870810, mul_sat(half_denominator, -1010580540));
    const int32_t one = 1 << 29;
    for (int32_t i = 0; i < 3; i++) {
        const int32_t error = sub32(one, mul_sat(half_denominator, x));
        x = add32(x, mul_pow2(mul_sat(x, error), 2));
    }
    return mul_pow2(x, 1);
}

static int32_t count_leading_zeros(uint32_t value)
{
    int32_t n = 0;
    if (value == 0u)
        return 32;
    while ((value & 0x80000000u) == 0u) {
        value <<= 1;
        n++;
    }
    return n;
}

/* exp of diff (an input minus the row maximum) in Q0.31. diff * 2^shift is the int32 product
 * of CMSIS-NN, wrapping as it does on the target. */
static int32_t exp_of_difference(const tlg_softmax_params *params, int32_t diff)
{
    const int32_t scaled = (int32_t)((uint32_t)diff * ((uint32_t)1 << params->shift));
    return exp_on_negative_values(mul_sat(scaled, params->multiplier));
}

/* The rounding division of the output. Past 2^31 (exponent 32 or more) CMSIS-NN's
 * arm_nn_divide_by_power_of_two shifts by 32 or more, which the Cortex-M's register shifts turn
 * into 1 for any dividend >= 0, the only kind here. */
static int32_t divide_output(int32_t dividend, int32_t exponent)
{
    return exponent < 32 ? divide_by_power_of_two(dividend, exponent) : 1;
}

void tlg_softmax_s8(const tlg_softmax_params *params,
                    int32_t num_rows,
                    int32_t row_size,
                    const int8_t *input,
                    int8_t *output)
{
    for (int32_t r = 0; r < num_rows; r++) {
        const int8_t *in = input + (size_t)r * (size_t)row_size;
        int8_t *out = output + (size_t)r * (size_t)row_size;

        int32_t max = in[0];
        for (int32_t c = 1; c < row_size; c++)
            max = in[c] > max ? in[c] : max;

        int32_t sum = 0;
        for (int32_t c = 0; c < row_size; c++) {
            const int32_t diff = in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t e = exp_of_difference(params, diff);
                sum = add32(sum, divide_by_power_of_two(e, ACCUM_BITS));
            }
        }

        const int32_t headroom = count_leading_zeros((uint32_t)sum);
        const uint32_t normalized = sum > 0 ? (uint32_t)sum << headroom : 0u;
        const int32_t shifted_scale = one_over_one_plus_x((int32_t)(normalized - 0x80000000u));
        const int32_t bits_over_unit = ACCUM_BITS - headroom + 23;

        for (int32_t c = 0; c < row_size; c++) {
            const int32_t diff = in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t scaled = mul_sat(shifted_scale, exp_of_difference(params, diff));
                out[c] = (int8_t)tlg_clamp(divide_output(scaled, bits_over_unit) - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
