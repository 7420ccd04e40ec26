/* Elementwise int8 kernels: Add (and Sub) and Mul with the arithmetic of arm_elementwise_add_s8
 * and arm_elementwise_mul_s8, Requantize, and table lookup. All work in place. */
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

void tlg_add_s8(const tlg_add_params *params,
                int32_t size,
                const int8_t *input_1,
                const int8_t *input_2,
                int8_t *output)
{
    const tlg_requant in_1 = params->input_1;
    const tlg_requant in_2 = params->input_2;
    const tlg_requant out = params->output;
    const uint32_t left = (uint32_t)params->left_shift;
    for (int32_t i = 0; i < size; i++) {
        const int32_t a = (int32_t)((uint32_t)(input_1[i] + params->input_1_offset) << left);
        const int32_t b = (int32_t)((uint32_t)(input_2[i] + params->input_2_offset) << left);
        const uint32_t sum = (uint32_t)tlg_requantize(a, in_1.multiplier, in_1.shift) +
                             (uint32_t)tlg_requantize(b, in_2.multiplier, in_2.shift);
        const int32_t value = tlg_requantize((int32_t)sum, out.multiplier, out.shift);
        output[i] = (int8_t)tlg_add_clamp(value, params->output_offset, params->activation_min,
                                          params->activation_max);
    }
}

void tlg_mul_s8(const tlg_mul_params *params,
                int32_t size,
                const int8_t *input_1,
                const int8_t *input_2,
                int8_t *output)
{
    const tlg_requant out = params->output;
    for (int32_t i = 0; i < size; i++) {
        const int32_t a = input_1[i] + params->input_1_offset;
        const int32_t b = input_2[i] + params->input_2_offset;
        const int32_t value = tlg_requantize(a * b, out.multiplier, out.shift);
        output[i] = (int8_t)tlg_add_clamp(value, params->output_offset, params->activation_min,
                                          params->activation_max);
    }
}

void tlg_requantize_s8(const tlg_requantize_params *params,
                       int32_t size,
                       const int8_t *input,
                       int8_t *output)
{
    const tlg_requant rq = params->requant;
    for (int32_t i = 0; i < size; i++) {
        const int32_t x = input[i] + params->input_offset;
        const int32_t value = tlg_requantize(x, rq.multiplier, rq.shift);
        output[i] = (int8_t)tlg_add_clamp(value, params->output_offset, -128, 127);
    }
}

void tlg_lut_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; i++)
        output[i] = table[input[i] + 128];
}
