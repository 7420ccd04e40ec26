/* Runs test cases through the portable kernels (firmware/kernels/portable/): the host build
 * reads stdin and writes stdout, the Cortex-M7 build (QEMU) uses semihosting files; see
 * case_io.h. The payload layouts are those of the cases' `encode` in kernel-cases.ts. */
#include <stddef.h>
#include <stdint.h>

#include "case_io.h"
#include "case_ops.h"
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

static void run_requantize_values(void)
{
    int32_t n;
    const int32_t *values = case_s32(&n);
    const int32_t *multipliers = case_s32(NULL);
    const int32_t *shifts = case_s32(NULL);
    int32_t *out = case_out_s32(n);
    for (int32_t i = 0; i < n; i++)
        out[i] = tlg_requantize(values[i], multipliers[i], shifts[i]);
    case_result(out, n * 4);
}

/* The int32 output variant of FullyConnected and MatMul is chosen by a leading flag. */
static void run_fully_connected(void)
{
    const int32_t int32_output = case_i32();
    const int32_t batches = case_i32();
    const int32_t depth = case_i32();
    const int32_t channels = case_i32();
    tlg_fc_params params;
    params.input_offset = case_i32();
    params.filter_offset = case_i32();
    params.output_offset = case_i32();
    params.activation_min = case_i32();
    params.activation_max = case_i32();
    params.per_channel = case_i32();
    int32_t count;
    const int32_t *multipliers = case_s32(&count);
    const int32_t *shifts = case_s32(NULL);
    tlg_requant requant[256];
    if (count > 256)
        case_fail("more than 256 requantizations");
    for (int32_t i = 0; i < count; i++) {
        requant[i].multiplier = multipliers[i];
        requant[i].shift = shifts[i];
    }
    params.requant = requant;
    const int8_t *input = case_s8(NULL);
    const int8_t *filter = case_s8(NULL);
    int32_t bias_count;
    const int32_t *bias = case_s32(&bias_count);
    if (bias_count == 0)
        bias = NULL;
    const int32_t n = batches * channels;
    if (int32_output) {
        int32_t *out = case_out_s32(n);
        tlg_fully_connected_s8_s32(&params, batches, depth, channels, input, filter, bias, out);
        case_result(out, n * 4);
    } else {
        int8_t *out = case_out_s8(n);
        tlg_fully_connected_s8(&params, batches, depth, channels, input, filter, bias, out);
        case_result(out, n);
    }
}

static void run_matmul(void)
{
    const int32_t int32_output = case_i32();
    tlg_matmul_params params;
    params.a_offset = case_i32();
    params.b_offset = case_i32();
    params.output_offset = case_i32();
    params.requant.multiplier = case_i32();
    params.requant.shift = case_i32();
    params.m = case_i32();
    params.k = case_i32();
    params.n = case_i32();
    int32_t rank;
    const int32_t *shape = case_s32(&rank);
    const int32_t *a_strides = case_s32(NULL);
    const int32_t *b_strides = case_s32(NULL);
    if (rank > TLG_MATMUL_MAX_BATCH_DIMS)
        case_fail("too many batch dimensions");
    params.batch_rank = rank;
    int32_t batches = 1;
    for (int32_t d = 0; d < rank; d++) {
        params.batch_shape[d] = shape[d];
        params.a_batch_strides[d] = a_strides[d];
        params.b_batch_strides[d] = b_strides[d];
        batches *= shape[d];
    }
    const int8_t *a = case_s8(NULL);
    const int8_t *b = case_s8(NULL);
    const int32_t n = batches * params.m * params.n;
    if (int32_output) {
        int32_t *out = case_out_s32(n);
        tlg_matmul_s8_s32(&params, a, b, out);
        case_result(out, n * 4);
    } else {
        int8_t *out = case_out_s8(n);
        tlg_matmul_s8(&params, a, b, out);
        case_result(out, n);
    }
}

static void run_add(void)
{
    tlg_add_params params;
    params.input_1_offset = case_i32();
    params.input_1.multiplier = case_i32();
    params.input_1.shift = case_i32();
    params.input_2_offset = case_i32();
    params.input_2.multiplier = case_i32();
    params.input_2.shift = case_i32();
    params.left_shift = case_i32();
    params.output_offset = case_i32();
    params.output.multiplier = case_i32();
    params.output.shift = case_i32();
    params.activation_min = case_i32();
    params.activation_max = case_i32();
    int32_t n;
    const int8_t *a = case_s8(&n);
    const int8_t *b = case_s8(NULL);
    int8_t *out = case_out_s8(n);
    tlg_add_s8(&params, n, a, b, out);
    case_result(out, n);
}

static void run_mul(void)
{
    tlg_mul_params params;
    params.input_1_offset = case_i32();
    params.input_2_offset = case_i32();
    params.output_offset = case_i32();
    params.output.multiplier = case_i32();
    params.output.shift = case_i32();
    params.activation_min = case_i32();
    params.activation_max = case_i32();
    int32_t n;
    const int8_t *a = case_s8(&n);
    const int8_t *b = case_s8(NULL);
    int8_t *out = case_out_s8(n);
    tlg_mul_s8(&params, n, a, b, out);
    case_result(out, n);
}

/* Requantize runs in place, as generated code may call it. */
static void run_requantize(void)
{
    tlg_requantize_params params;
    params.input_offset = case_i32();
    params.output_offset = case_i32();
    params.requant.multiplier = case_i32();
    params.requant.shift = case_i32();
    int32_t n;
    int8_t *x = case_s8(&n);
    tlg_requantize_s8(&params, n, x, x);
    case_result(x, n);
}

static void run_lut(void)
{
    const int8_t *table = case_s8(NULL);
    int32_t n;
    const int8_t *x = case_s8(&n);
    int8_t *out = case_out_s8(n);
    tlg_lut_s8(table, n, x, out);
    case_result(out, n);
}

static void run_softmax(void)
{
    tlg_softmax_params params;
    params.multiplier = case_i32();
    params.shift = case_i32();
    params.diff_min = case_i32();
    const int32_t rows = case_i32();
    const int32_t row_size = case_i32();
    const int8_t *x = case_s8(NULL);
    int8_t *out = case_out_s8(rows * row_size);
    tlg_softmax_s8(&params, rows, row_size, x, out);
    case_result(out, rows * row_size);
}

/* An array of 1-, 2- or 4-byte elements, read into the pool of that width. */
static const void *element_array(int32_t element_size, int32_t *count)
{
    if (element_size == 1)
        return case_s8(count);
    if (element_size == 2)
        return case_s16(count);
    return case_s32(count);
}

static void *element_output(int32_t element_size, int32_t count)
{
    if (element_size == 1)
        return case_out_s8(count);
    if (element_size == 2)
        return case_out_s16(count);
    return case_out_s32(count);
}

static void run_copy(void)
{
    tlg_copy_params params;
    params.element_size = case_i32();
    params.rank = case_i32();
    params.offset = case_i32();
    const int32_t *shape = case_s32(NULL);
    const int32_t *strides = case_s32(NULL);
    if (params.rank > TLG_COPY_MAX_DIMS)
        case_fail("too many dimensions");
    int32_t n = 1;
    for (int32_t d = 0; d < params.rank; d++) {
        params.shape[d] = shape[d];
        params.strides[d] = strides[d];
        n *= shape[d];
    }
    const void *x = element_array(params.element_size, NULL);
    void *out = element_output(params.element_size, n);
    tlg_copy(&params, x, out);
    case_result(out, n * params.element_size);
}

static void run_concat(void)
{
    tlg_concat_params params;
    params.element_size = case_i32();
    params.outer = case_i32();
    params.output_inner = case_i32();
    params.inner = case_s32(&params.count);
    const void *inputs[16];
    if (params.count > 16)
        case_fail("more than 16 inputs");
    for (int32_t p = 0; p < params.count; p++)
        inputs[p] = element_array(params.element_size, NULL);
    const int32_t n = params.outer * params.output_inner;
    void *out = element_output(params.element_size, n);
    tlg_concat(&params, inputs, out);
    case_result(out, n * params.element_size);
}

static void run_activation_s16(void)
{
    const int32_t left_shift = case_i32();
    const tlg_activation type = case_i32() == 0 ? TLG_SIGMOID : TLG_TANH;
    const uint16_t *table = case_u16(NULL);
    int32_t n;
    const int16_t *x = case_s16(&n);
    int16_t *out = case_out_s16(n);
    tlg_activation_s16(x, out, n, left_shift, type, table);
    case_result(out, n * 2);
}

static void read_gate(tlg_lstm_gate *gate)
{
    gate->input.multiplier = case_i32();
    gate->input.shift = case_i32();
    gate->hidden.multiplier = case_i32();
    gate->hidden.shift = case_i32();
    gate->activation = case_i32() == 0 ? TLG_SIGMOID : TLG_TANH;
    gate->input_weights = case_s8(NULL);
    gate->hidden_weights = case_s8(NULL);
    gate->input_effective_bias = case_s32(NULL);
    gate->hidden_effective_bias = case_s32(NULL);
}

/* time_steps steps, time-major; the cell state is updated in place, as the generated loop
 * keeps it, and each step's hidden output is the next step's hidden input. */
static void run_lstm(void)
{
    const int32_t steps = case_i32();
    const int32_t time_major = case_i32();
    tlg_lstm_params params;
    params.batch_size = case_i32();
    params.input_size = case_i32();
    params.hidden_size = case_i32();
    params.forget_to_cell.multiplier = case_i32();
    params.forget_to_cell.shift = case_i32();
    params.input_to_cell.multiplier = case_i32();
    params.input_to_cell.shift = case_i32();
    params.cell_clip = case_i32();
    params.cell_scale_power = case_i32();
    params.output.multiplier = case_i32();
    params.output.shift = case_i32();
    params.output_offset = case_i32();
    read_gate(&params.forget_gate);
    read_gate(&params.input_gate);
    read_gate(&params.cell_gate);
    read_gate(&params.output_gate);
    params.sigmoid_table = case_u16(NULL);
    const int8_t *x = case_s8(NULL);
    const int8_t *h0 = case_s8(NULL);
    int16_t *cell = case_s16(NULL);
    if (!time_major)
        case_fail("the portable LSTM step runs time-major sequences only");

    const int32_t step_in = params.batch_size * params.input_size;
    const int32_t step_out = params.batch_size * params.hidden_size;
    int8_t *h = case_out_s8(steps * step_out);
    for (int32_t t = 0; t < steps; t++) {
        const int8_t *h_prev = t == 0 ? h0 : h + (size_t)(t - 1) * (size_t)step_out;
        const int8_t *x_t = x + (size_t)t * (size_t)step_in;
        tlg_lstm_step_s8(&params, x_t, h_prev, cell, h + (size_t)t * (size_t)step_out, cell);
    }
    case_result(h, steps * step_out);
    case_result(cell, step_out * 2);
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
        case CASE_MATMUL:
            run_matmul();
            break;
        case CASE_ADD:
            run_add();
            break;
        case CASE_MUL:
            run_mul();
            break;
        case CASE_REQUANTIZE:
            run_requantize();
            break;
        case CASE_LUT:
            run_lut();
            break;
        case CASE_SOFTMAX:
            run_softmax();
            break;
        case CASE_COPY:
            run_copy();
            break;
        case CASE_CONCAT:
            run_concat();
            break;
        case CASE_ACTIVATION_S16:
            run_activation_s16();
            break;
        case CASE_LSTM:
            run_lstm();
            break;
        default:
            case_fail("unknown op code");
        }
    }
}
