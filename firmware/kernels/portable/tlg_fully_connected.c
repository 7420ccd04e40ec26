/* FullyConnected: arm_fully_connected_s8 and arm_fully_connected_per_channel_s8, and the int32
 * accumulator output of MatMulInteger. Output channels are computed two at a time so that each
 * input word is loaded once per two weight rows (tlg_dot_s8.h). */
#include "tlg_dot_s8.h"
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

#include <stddef.h>

/* Requantizes and clamps the accumulator of output channel n into out8, or stores it as it is
 * into out32: the one step in which the two outputs differ. */
static inline void store(const tlg_fc_params *params, int32_t n, int32_t acc, int8_t *out8,
                         int32_t *out32)
{
    if (out32 != NULL) {
        out32[n] = acc;
        return;
    }
    const tlg_requant *rq = params->per_channel ? &params->requant[n] : &params->requant[0];
    const int32_t value = tlg_requantize(acc, rq->multiplier, rq->shift);
    out8[n] = (int8_t)tlg_add_clamp(value, params->output_offset, params->activation_min,
                                    params->activation_max);
}

/* With an accumulator shift the bias is added after the sum is shifted (wrapping as int32). */
static inline int32_t with_bias(int32_t sum, int32_t shift, const int32_t *bias, int32_t n)
{
    if (shift == 0)
        return sum;
    const uint32_t shifted = (uint32_t)sum << shift;
    return (int32_t)(shifted + (bias != NULL ? (uint32_t)bias[n] : 0u));
}

static void fully_connected(const tlg_fc_params *params,
                            int32_t batches,
                            int32_t depth,
                            int32_t channels,
                            const int8_t *input,
                            const int8_t *filter,
                            const int32_t *bias,
                            int8_t *out8,
                            int32_t *out32)
{
    const int32_t x_offset = params->input_offset;
    const int32_t w_offset = params->filter_offset;
    const int32_t shift = params->accumulator_shift;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *x = input + (size_t)b * (size_t)depth;
        int8_t *row8 = out8 != NULL ? out8 + (size_t)b * (size_t)channels : NULL;
        int32_t *row32 = out32 != NULL ? out32 + (size_t)b * (size_t)channels : NULL;
        int32_t n = 0;
        for (; n + 2 <= channels; n += 2) {
            const int8_t *w = filter + (size_t)n * (size_t)depth;
            int32_t acc[2] = {0, 0};
            if (bias != NULL && shift == 0) {
                acc[0] = bias[n];
                acc[1] = bias[n + 1];
            }
            tlg_dot_s8_x2(x, w, w + depth, depth, x_offset, w_offset, acc);
            store(params, n, with_bias(acc[0], shift, bias, n), row8, row32);
            store(params, n + 1, with_bias(acc[1], shift, bias, n + 1), row8, row32);
        }
        if (n < channels) {
            const int8_t *w = filter + (size_t)n * (size_t)depth;
            const int32_t start = bias != NULL && shift == 0 ? bias[n] : 0;
            const int32_t acc = tlg_dot_s8(x, w, depth, x_offset, w_offset, start);
            store(params, n, with_bias(acc, shift, bias, n), row8, row32);
        }
    }
}

void tlg_fully_connected_s8(const tlg_fc_params *params,
                            int32_t batches,
                            int32_t accum_depth,
                            int32_t output_depth,
                            const int8_t *input,
                            const int8_t *filter,
                            const int32_t *bias,
                            int8_t *output)
{
    fully_connected(params, batches, accum_depth, output_depth, input, filter, bias, output, NULL);
}

void tlg_fully_connected_s8_s32(const tlg_fc_params *params,
                                int32_t batches,
                                int32_t accum_depth,
                                int32_t output_depth,
                                const int8_t *input,
                                const int8_t *filter,
                                const int32_t *bias,
                                int32_t *output)
{
    fully_connected(params, batches, accum_depth, output_depth, input, filter, bias, NULL, output);
}
