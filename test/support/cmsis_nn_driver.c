/* Runs test cases through CMSIS-NN itself, built from the sources CMSIS_NN_PATH names (the
 * project ships no copy of it), so that test/cmsis-nn-reference.test.ts can hold the TypeScript
 * references against the library they follow. Same streams as kernels_driver.c (case_io.h),
 * same payload layouts (the `encode` of each case in kernel-cases.ts); the ops CMSIS-NN has no
 * function for end the run with an error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arm_nn_tables.h"
#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"
#include "case_io.h"
#include "case_ops.h"

static void check(arm_cmsis_nn_status status)
{
    if (status != ARM_CMSIS_NN_SUCCESS)
        case_fail("a CMSIS-NN function returned an error");
}

static void run_requantize_values(void)
{
    int32_t n;
    const int32_t *values = case_s32(&n);
    const int32_t *multipliers = case_s32(NULL);
    const int32_t *shifts = case_s32(NULL);
    int32_t *out = case_out_s32(n);
    for (int32_t i = 0; i < n; i++)
        out[i] = arm_nn_requantize(values[i], multipliers[i], shifts[i]);
    case_result(out, n * 4);
}

/* arm_fully_connected_s8 or, with one requantization per channel,
 * arm_fully_connected_per_channel_s8; the kernel sums go into the context buffer through
 * arm_vector_sum_s8 when the build asks for one (arm_fully_connected_s8_get_buffer_size). */
static void run_fully_connected(void)
{
    if (case_i32() != 0)
        case_fail("CMSIS-NN has no s8 fully connected with an int32 output");
    const int32_t batches = case_i32();
    const int32_t depth = case_i32();
    const int32_t channels = case_i32();
    cmsis_nn_fc_params fc_params;
    fc_params.input_offset = case_i32();
    fc_params.filter_offset = case_i32();
    fc_params.output_offset = case_i32();
    fc_params.activation.min = case_i32();
    fc_params.activation.max = case_i32();
    const int32_t per_channel = case_i32();
    if (case_i32() != 0)
        case_fail("CMSIS-NN's FC has no accumulator shift");
    int32_t *multipliers = case_s32(NULL);
    int32_t *shifts = case_s32(NULL);
    const int8_t *input = case_s8(NULL);
    const int8_t *filter = case_s8(NULL);
    int32_t bias_count;
    const int32_t *bias = case_s32(&bias_count);
    if (bias_count == 0)
        bias = NULL;
    /* The rows the portable set prepares for the same FC (kernels_driver.c runs them). */
    for (int32_t i = 0; i < 4; i++)
        (void)case_i32();
    (void)case_s32(NULL);
    (void)case_s32(NULL);

    const cmsis_nn_dims input_dims = {batches, 1, 1, depth};
    const cmsis_nn_dims filter_dims = {depth, 1, 1, channels};
    const cmsis_nn_dims bias_dims = {1, 1, 1, channels};
    const cmsis_nn_dims output_dims = {batches, 1, 1, channels};
    cmsis_nn_context ctx = {NULL, 0};
    ctx.size = arm_fully_connected_s8_get_buffer_size(&filter_dims);
    if (ctx.size > 0) {
        int32_t *sums = case_out_s32(ctx.size / 4);
        check(arm_vector_sum_s8(sums, depth, channels, filter, fc_params.input_offset,
                                fc_params.filter_offset, bias));
        ctx.buf = sums;
    }

    int8_t *out = case_out_s8(batches * channels);
    if (per_channel) {
        const cmsis_nn_per_channel_quant_params quant = {multipliers, shifts};
        check(arm_fully_connected_per_channel_s8(&ctx, &fc_params, &quant, &input_dims, input,
                                                 &filter_dims, filter, &bias_dims, bias,
                                                 &output_dims, out));
    } else {
        const cmsis_nn_per_tensor_quant_params quant = {multipliers[0], shifts[0]};
        check(arm_fully_connected_s8(&ctx, &fc_params, &quant, &input_dims, input, &filter_dims,
                                     filter, &bias_dims, bias, &output_dims, out));
    }
    case_result(out, batches * channels);
}

static void run_add(void)
{
    const int32_t in1_offset = case_i32();
    const int32_t in1_mult = case_i32();
    const int32_t in1_shift = case_i32();
    const int32_t in2_offset = case_i32();
    const int32_t in2_mult = case_i32();
    const int32_t in2_shift = case_i32();
    const int32_t left_shift = case_i32();
    const int32_t out_offset = case_i32();
    const int32_t out_mult = case_i32();
    const int32_t out_shift = case_i32();
    const int32_t act_min = case_i32();
    const int32_t act_max = case_i32();
    int32_t n;
    const int8_t *a = case_s8(&n);
    const int8_t *b = case_s8(NULL);
    int8_t *out = case_out_s8(n);
    check(arm_elementwise_add_s8(a, b, in1_offset, in1_mult, in1_shift, in2_offset, in2_mult,
                                 in2_shift, left_shift, out, out_offset, out_mult, out_shift,
                                 act_min, act_max, n));
    case_result(out, n);
}

static void run_mul(void)
{
    const int32_t in1_offset = case_i32();
    const int32_t in2_offset = case_i32();
    const int32_t out_offset = case_i32();
    const int32_t out_mult = case_i32();
    const int32_t out_shift = case_i32();
    const int32_t act_min = case_i32();
    const int32_t act_max = case_i32();
    int32_t n;
    const int8_t *a = case_s8(&n);
    const int8_t *b = case_s8(NULL);
    int8_t *out = case_out_s8(n);
    check(arm_elementwise_mul_s8(a, b, in1_offset, in2_offset, out, out_offset, out_mult,
                                 out_shift, act_min, act_max, n));
    case_result(out, n);
}

static void run_softmax(void)
{
    const int32_t mult = case_i32();
    const int32_t shift = case_i32();
    const int32_t diff_min = case_i32();
    const int32_t rows = case_i32();
    const int32_t row_size = case_i32();
    const int8_t *x = case_s8(NULL);
    int8_t *out = case_out_s8(rows * row_size);
    arm_softmax_s8(x, rows, row_size, mult, shift, diff_min, out);
    case_result(out, rows * row_size);
}

/* CMSIS-NN reads its own sigmoid_table_uint16; the case must carry the same table. */
static void check_table(const uint16_t *table, int32_t count)
{
    if (count != 256 || memcmp(table, sigmoid_table_uint16, sizeof(sigmoid_table_uint16)) != 0)
        case_fail("the case's sigmoid table is not CMSIS-NN's sigmoid_table_uint16");
}

static void run_activation_s16(void)
{
    const int32_t left_shift = case_i32();
    const arm_nn_activation_type type = case_i32() == 0 ? ARM_SIGMOID : ARM_TANH;
    int32_t table_count;
    const uint16_t *table = case_u16(&table_count);
    check_table(table, table_count);
    int32_t n;
    const int16_t *x = case_s16(&n);
    int16_t *out = case_out_s16(n);
    check(arm_nn_activation_s16(x, out, n, left_shift, type));
    case_result(out, n * 2);
}

static void read_gate(cmsis_nn_lstm_gate *gate)
{
    gate->input_multiplier = case_i32();
    gate->input_shift = case_i32();
    gate->hidden_multiplier = case_i32();
    gate->hidden_shift = case_i32();
    gate->activation_type = case_i32() == 0 ? ARM_SIGMOID : ARM_TANH;
    gate->input_weights = case_s8(NULL);
    gate->hidden_weights = case_s8(NULL);
    gate->input_effective_bias = case_s32(NULL);
    gate->hidden_effective_bias = case_s32(NULL);
    gate->bias = NULL;
}

/* arm_lstm_unidirectional_s8 over the whole sequence, from the case's initial states. */
static void run_lstm(void)
{
    cmsis_nn_lstm_params params;
    memset(&params, 0, sizeof params);
    params.time_steps = case_i32();
    params.time_major = case_i32();
    params.batch_size = case_i32();
    params.input_size = case_i32();
    params.hidden_size = case_i32();
    params.forget_to_cell_multiplier = case_i32();
    params.forget_to_cell_shift = case_i32();
    params.input_to_cell_multiplier = case_i32();
    params.input_to_cell_shift = case_i32();
    params.cell_clip = case_i32();
    params.cell_scale_power = case_i32();
    params.output_multiplier = case_i32();
    params.output_shift = case_i32();
    params.output_offset = case_i32();
    read_gate(&params.forget_gate);
    read_gate(&params.input_gate);
    read_gate(&params.cell_gate);
    read_gate(&params.output_gate);
    int32_t table_count;
    const uint16_t *table = case_u16(&table_count);
    check_table(table, table_count);
    const int8_t *x = case_s8(NULL);
    int8_t *hidden = case_s8(NULL);
    int16_t *cell = case_s16(NULL);

    const int32_t state = params.batch_size * params.hidden_size;
    cmsis_nn_lstm_context buffers;
    buffers.temp1 = case_out_s16(state);
    buffers.temp2 = case_out_s16(state);
    buffers.cell_state = cell;
    buffers.hidden_state = hidden;
    int8_t *out = case_out_s8(params.time_steps * state);
    check(arm_lstm_unidirectional_s8(x, out, &params, &buffers));
    case_result(out, params.time_steps * state);
    case_result(cell, state * 2);
}

int main(void)
{
    if (!case_io_open())
        case_fail("cannot open cases.bin and results.bin");
    for (;;) {
        const int32_t op = case_begin();
        switch (op) {
        case CASE_END:
            case_io_close();
            return 0;
        case CASE_REQUANTIZE_VALUES:
            run_requantize_values();
            break;
        case CASE_FULLY_CONNECTED:
            run_fully_connected();
            break;
        case CASE_ADD:
            run_add();
            break;
        case CASE_MUL:
            run_mul();
            break;
        case CASE_SOFTMAX:
            run_softmax();
            break;
        case CASE_ACTIVATION_S16:
            run_activation_s16();
            break;
        case CASE_LSTM:
            run_lstm();
            break;
        default:
            case_fail("an op this driver does not run");
        }
    }
}
