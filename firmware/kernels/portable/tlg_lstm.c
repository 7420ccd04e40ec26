/* The int8 LSTM step with CMSIS-NN's arithmetic (arm_nn_lstm_step_s8: int16 gates at 2^-12,
 * Q0.15 activations, int16 cell state) and its int16 sigmoid/tanh (arm_nn_activation_s16). */
#include "tlg_dot_s8.h"
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

#include <stddef.h>

#define Q15_MIN (-32768)
#define Q15_MAX 32767

/* arm_nn_activation_s16 on one value. tanh(x) = 2 sigmoid(2x) - 1 reads the same table at
 * twice the resolution. The arithmetic is unsigned 32-bit and keeps the low 16 bits, as there. */
static int16_t activation(int32_t value, int32_t left_shift, tlg_activation type,
                          const uint16_t *table)
{
    const int sigmoid = type == TLG_SIGMOID;
    const uint32_t abs_input_shift = sigmoid ? 9u : 8u;
    const uint32_t max_saturation = sigmoid ? 0x7FFFu << 10 : 0xFFFFu << 8;
    const int32_t input_multiplier = left_shift < 0 ? 3 : 3 * (1 << left_shift);
    const int32_t abs_left_shift = left_shift < 0 ? -left_shift : 0;
    const int32_t rounding = abs_left_shift > 0 ? 1 << (abs_left_shift - 1) : 0;
    const int32_t input = (value * input_multiplier + rounding) >> abs_left_shift;
    const uint32_t abs_input = input > 0 ? (uint32_t)input : 0u - (uint32_t)input;
    const uint32_t uh = abs_input >> abs_input_shift;
    uint32_t result;
    if (uh >= 255u) {
        result = max_saturation;
    } else {
        const uint32_t ua = table[uh];
        const uint32_t ub = table[uh + 1u];
        const uint32_t ut = abs_input & (sigmoid ? 0x1FFu : 0xFFu);
        result = (ua << abs_input_shift) + ut * (ub - ua);
    }
    if (sigmoid) {
        result = input >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1u;
        result >>= 10;
    } else {
        result = input >= 0 ? result - (1u << 23) + (1u << 7)
                            : (1u << 23) - result + (1u << 7) - 1u;
        result >>= 8;
    }
    return (int16_t)(result & 0xFFFFu);
}

void tlg_activation_s16(const int16_t *input,
                        int16_t *output,
                        int32_t size,
                        int32_t left_shift,
                        tlg_activation type,
                        const uint16_t *sigmoid_table)
{
    for (int32_t i = 0; i < size; i++)
        output[i] = activation(input[i], left_shift, type, sigmoid_table);
}

/* The gate's int16 pre-activation from its two accumulators (biases included), each
 * requantized and saturated as arm_nn_vec_mat_mul_result_acc_s8_s16 does (input part first),
 * then activated. */
static int16_t gate_value(const tlg_lstm_gate *gate, int32_t acc_x, int32_t acc_h,
                          const uint16_t *table)
{
    const int32_t x = tlg_requantize(acc_x, gate->input.multiplier, gate->input.shift);
    const int32_t v = tlg_clamp(x, Q15_MIN, Q15_MAX);
    const int32_t h = tlg_requantize(acc_h, gate->hidden.multiplier, gate->hidden.shift);
    return activation(tlg_add_clamp(h, v, Q15_MIN, Q15_MAX), 0, gate->activation, table);
}

void tlg_lstm_step_s8(const tlg_lstm_params *params,
                      const int8_t *input,
                      const int8_t *hidden_in,
                      const int16_t *cell_in,
                      int8_t *hidden_out,
                      int16_t *cell_out)
{
    const int32_t in_size = params->input_size;
    const int32_t hid_size = params->hidden_size;
    const tlg_lstm_gate *f = &params->forget_gate;
    const tlg_lstm_gate *i = &params->input_gate;
    const tlg_lstm_gate *g = &params->cell_gate;
    const tlg_lstm_gate *o = &params->output_gate;
    const int32_t clip_min = params->cell_clip > 0 ? -params->cell_clip : Q15_MIN;
    const int32_t clip_max = params->cell_clip > 0 ? params->cell_clip : Q15_MAX;
    const int32_t tanh_shift = params->cell_scale_power + 12;
    const tlg_requant forget_to_cell = params->forget_to_cell;
    const tlg_requant input_to_cell = params->input_to_cell;
    const tlg_requant out = params->output;
    const uint16_t *table = params->sigmoid_table;

    for (int32_t b = 0; b < params->batch_size; b++) {
        const int8_t *x = input + (size_t)b * (size_t)in_size;
        const int8_t *h = hidden_in + (size_t)b * (size_t)hid_size;
        const size_t base = (size_t)b * (size_t)hid_size;
        for (int32_t j = 0; j < hid_size; j++) {
            /* 1. The four gates of unit j: a row of each gate's weights, two gates at a time. */
            const size_t wx = (size_t)j * (size_t)in_size;
            const size_t wh = (size_t)j * (size_t)hid_size;
            int32_t acc_x[4] = {f->input_effective_bias[j], i->input_effective_bias[j],
                                g->input_effective_bias[j], o->input_effective_bias[j]};
            int32_t acc_h[4] = {f->hidden_effective_bias[j], i->hidden_effective_bias[j],
                                g->hidden_effective_bias[j], o->hidden_effective_bias[j]};
            tlg_dot_s8_x2(x, f->input_weights + wx, i->input_weights + wx, in_size, 0, 0, acc_x);
            tlg_dot_s8_x2(x, g->input_weights + wx, o->input_weights + wx, in_size, 0, 0,
                          acc_x + 2);
            tlg_dot_s8_x2(h, f->hidden_weights + wh, i->hidden_weights + wh, hid_size, 0, 0,
                          acc_h);
            tlg_dot_s8_x2(h, g->hidden_weights + wh, o->hidden_weights + wh, hid_size, 0, 0,
                          acc_h + 2);
            const int32_t forget = gate_value(f, acc_x[0], acc_h[0], table);
            const int32_t in_gate = gate_value(i, acc_x[1], acc_h[1], table);
            const int32_t cell_gate = gate_value(g, acc_x[2], acc_h[2], table);
            const int32_t out_gate = gate_value(o, acc_x[3], acc_h[3], table);

            /* 2. The cell state: the forget term saturated first (arm_elementwise_mul_s16), then
             *    the input term added and clipped (arm_elementwise_mul_acc_s16). */
            const int32_t kept = tlg_requantize(forget * cell_in[base + (size_t)j],
                                                forget_to_cell.multiplier, forget_to_cell.shift);
            const int32_t added = tlg_requantize(in_gate * cell_gate, input_to_cell.multiplier,
                                                 input_to_cell.shift);
            const int32_t cell =
                tlg_add_clamp(added, tlg_clamp(kept, Q15_MIN, Q15_MAX), clip_min, clip_max);
            cell_out[base + (size_t)j] = (int16_t)cell;

            /* 3. The hidden state: o * tanh(c) to int8 (arm_elementwise_mul_s16_s8). */
            const int32_t t = activation(cell, tanh_shift, TLG_TANH, table);
            const int32_t value = tlg_requantize(out_gate * t, out.multiplier, out.shift);
            hidden_out[base + (size_t)j] =
                (int8_t)tlg_add_clamp(value, params->output_offset, -128, 127);
        }
    }
}
