/* Runs test cases through the portable kernels (firmware/kernels/portable/): the host build
 * reads stdin and writes stdout, the Cortex-M7 build (QEMU) uses semihosting files; see
 * case_io.h. The payload layouts are those of the cases' `encode` in kernel-cases.ts. */
#include <stddef.h>
#include <stdint.h>

#include "case_io.h"
#include "case_ops.h"
#include "tlg_elementwise_inline.h"
#include "tlg_fc_w16.h"
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

/* The same FC through tlg_fc_rows_s8, from the rows the compiler prepared (the case carries
 * them where the generated code would use that kernel); fails the case unless it equals
 * tlg_fully_connected_s8's `expected`. */
static void check_fc_rows(int32_t batches, int32_t depth, int32_t channels, int32_t min, int32_t max,
                          const int8_t *input, const int8_t *expected)
{
    static uint32_t lanes[32];
    static int8_t out[4 * 64];
    const int32_t prepared = case_i32();
    const int32_t input_shift = case_i32();
    const int32_t own_shift = case_i32();
    const int32_t shift = case_i32();
    const int32_t *weights = case_s32(NULL);
    const int32_t *records = case_s32(NULL);
    if (!prepared)
        return;
    if (depth > 64 || channels > 64 || batches > 4)
        case_fail("FC case too large for the prepared-rows check");
    /* own_shift is a constant in generated code (the records' offsets are constants of the
     * loads), so each value gets its own call. */
    if (own_shift)
        tlg_fc_rows_s8(batches, depth, channels, input_shift, 1, 0, min, max, input, lanes, weights,
                       records, out);
    else
        tlg_fc_rows_s8(batches, depth, channels, input_shift, 0, shift, min, max, input, lanes,
                       weights, records, out);
    for (int32_t i = 0; i < batches * channels; i++)
        if (out[i] != expected[i])
            case_fail("tlg_fc_rows_s8 differs from tlg_fully_connected_s8");
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
    params.accumulator_shift = case_i32();
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
        check_fc_rows(batches, depth, channels, 0, 0, input, NULL);
        case_result(out, n * 4);
    } else {
        int8_t *out = case_out_s8(n);
        tlg_fully_connected_s8(&params, batches, depth, channels, input, filter, bias, out);
        check_fc_rows(batches, depth, channels, params.activation_min, params.activation_max, input, out);
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

/* The case carries the uint16 table for CMSIS-NN's driver; the portable kernel reads the input
 * scaling and the segments prepared from it, which follow. */
static void run_activation_s16(void)
{
    (void)case_i32(); /* left shift: prepared in the scaling */
    const tlg_activation type = case_i32() == 0 ? TLG_SIGMOID : TLG_TANH;
    (void)case_u16(NULL);
    int32_t n;
    const int16_t *x = case_s16(&n);
    tlg_activation_scale scale;
    scale.multiplier = case_i32();
    scale.rounding = case_i32();
    scale.shift = case_i32();
    const tlg_activation_segment *segments = (const tlg_activation_segment *)case_s32(NULL);
    int16_t *out = case_out_s16(n);
    tlg_activation_s16(&scale, type, segments, n, x, out);
    case_result(out, n * 2);
}

/* The plain parameters of one gate, as CMSIS-NN's cmsis_nn_lstm_gate. */
typedef struct {
    int32_t input_multiplier, input_shift, hidden_multiplier, hidden_shift;
    const int8_t *input_weights, *hidden_weights;
    const int32_t *input_effective_bias, *hidden_effective_bias;
} plain_gate;

static void read_gate(plain_gate *gate)
{
    gate->input_multiplier = case_i32();
    gate->input_shift = case_i32();
    gate->hidden_multiplier = case_i32();
    gate->hidden_shift = case_i32();
    (void)case_i32(); /* the activation: f, i, o sigmoid, g tanh */
    gate->input_weights = case_s8(NULL);
    gate->hidden_weights = case_s8(NULL);
    gate->input_effective_bias = case_s32(NULL);
    gate->hidden_effective_bias = case_s32(NULL);
}

static void read_fast_requant(tlg_fast_requant *r)
{
    const uint32_t low_word = (uint32_t)case_i32();
    const int32_t high_word = case_i32();
    r->rounding = (int64_t)(((uint64_t)(uint32_t)high_word << 32) | low_word);
    r->low = case_i32();
    r->high = case_i32();
    r->right_shift = case_i32();
}

static int32_t saturate16(int32_t v)
{
    return tlg_clamp(v, -32768, 32767);
}

/* A gate's pre-activations for one sequence as CMSIS-NN's arm_nn_vec_mat_mul_result_acc_s8_s16
 * leaves them after its input and hidden calls: the products in plain C. */
static void gate_products(const plain_gate *g, int32_t in_size, int32_t hid_size, const int8_t *x,
                          const int8_t *h, int16_t *out, int32_t stride)
{
    for (int32_t j = 0; j < hid_size; j++) {
        uint32_t ax = (uint32_t)g->input_effective_bias[j];
        for (int32_t k = 0; k < in_size; k++)
            ax += (uint32_t)(g->input_weights[j * in_size + k] * x[k]);
        const int32_t v = saturate16(tlg_requantize((int32_t)ax, g->input_multiplier, g->input_shift));
        uint32_t ah = (uint32_t)g->hidden_effective_bias[j];
        for (int32_t k = 0; k < hid_size; k++)
            ah += (uint32_t)(g->hidden_weights[j * hid_size + k] * h[k]);
        out[j * stride] = (int16_t)tlg_add_clamp(
            tlg_requantize((int32_t)ah, g->hidden_multiplier, g->hidden_shift), v, -32768, 32767);
    }
}

/* time_steps steps, time-major, three times: through tlg_lstm_step_s8 on the fast (int16)
 * layout, through plain gate products and tlg_lstm_update_s16 (the CMSIS-NN set's update), and
 * through tlg_lstm_step_compact_s8 on the compact (int8) layout. The cell state is updated in
 * place, as the generated loop keeps it, and each step's hidden output overwrites the hidden
 * state it was computed from. */
static void run_lstm(void)
{
    const int32_t steps = case_i32();
    const int32_t time_major = case_i32();
    const int32_t batch = case_i32();
    const int32_t in_size = case_i32();
    const int32_t hid_size = case_i32();
    tlg_lstm_params params;
    params.batch_size = batch;
    params.input_size = in_size;
    params.hidden_size = hid_size;
    /* Cell and hidden requantizations, clip and power: prepared below; the hidden offset. */
    for (int32_t i = 0; i < 8; i++)
        (void)case_i32();
    params.cell.output_offset = case_i32();
    plain_gate gates[4];
    for (int32_t k = 0; k < 4; k++)
        read_gate(&gates[k]);
    (void)case_u16(NULL); /* the table: prepared as segments below */
    const int8_t *x = case_s8(NULL);
    const int8_t *h0 = case_s8(NULL);
    const int16_t *c0 = case_s16(NULL);
    if (!time_major)
        case_fail("the portable LSTM step runs time-major sequences only");

    const void *const fast_input_weights = case_s32(NULL);
    const void *const fast_hidden_weights = case_s32(NULL);
    params.biases = case_s32(NULL);
    const void *const compact_input_weights = case_s32(NULL);
    const void *const compact_hidden_weights = case_s32(NULL);
    for (int32_t k = 0; k < 4; k++)
        read_fast_requant(&params.input_requant[k]);
    for (int32_t k = 0; k < 4; k++)
        read_fast_requant(&params.hidden_requant[k]);
    tlg_lstm_cell_params *cell = &params.cell;
    read_fast_requant(&cell->forget_to_cell);
    read_fast_requant(&cell->input_to_cell);
    read_fast_requant(&cell->output);
    cell->cell_min = case_i32();
    cell->cell_max = case_i32();
    cell->cell_scale.multiplier = case_i32();
    cell->cell_scale.rounding = case_i32();
    cell->cell_scale.shift = case_i32();
    cell->sigmoid = (const tlg_activation_segment *)case_s32(NULL);
    cell->tanh = (const tlg_activation_segment *)case_s32(NULL);

    const int32_t step_in = batch * in_size;
    const int32_t state = batch * hid_size;
    int16_t *scratch = (int16_t *)case_out_s32(2 * (((in_size + 3) / 4) + ((hid_size + 3) / 4)));
    int16_t *unit_gates = case_out_s16(4 * hid_size);
    /* The gates of a unit side by side (stacked CMSIS-NN calls) or each gate's block apart
     * (a call per gate), by the parity of the hidden size. */
    const int32_t unit_stride = hid_size % 2 == 0 ? 4 : 1;
    const int32_t gate_stride = hid_size % 2 == 0 ? 1 : hid_size;
    for (int32_t pass = 0; pass < 3; pass++) {
        params.input_weights = pass == 2 ? compact_input_weights : fast_input_weights;
        params.hidden_weights = pass == 2 ? compact_hidden_weights : fast_hidden_weights;
        int8_t *h = case_out_s8(steps * state);
        int8_t *h_state = case_out_s8(state);
        int16_t *c = case_out_s16(state);
        for (int32_t i = 0; i < state; i++) {
            h_state[i] = h0[i];
            c[i] = c0[i];
        }
        for (int32_t t = 0; t < steps; t++) {
            const int8_t *x_t = x + (size_t)t * (size_t)step_in;
            if (pass == 0) {
                tlg_lstm_step_s8(&params, x_t, h_state, c, h_state, c, scratch);
            } else if (pass == 2) {
                tlg_lstm_step_compact_s8(&params, x_t, h_state, c, h_state, c, scratch);
            } else {
                for (int32_t b = 0; b < batch; b++) {
                    for (int32_t k = 0; k < 4; k++)
                        gate_products(&gates[k], in_size, hid_size, x_t + b * in_size,
                                      h_state + b * hid_size, unit_gates + k * gate_stride,
                                      unit_stride);
                    tlg_lstm_update_s16(cell, hid_size, unit_stride, gate_stride, unit_gates,
                                        c + b * hid_size, c + b * hid_size, h_state + b * hid_size);
                }
            }
            for (int32_t i = 0; i < state; i++)
                h[(size_t)t * (size_t)state + (size_t)i] = h_state[i];
        }
        case_result(h, steps * state);
        case_result(c, state * 2);
    }
}

static void run_high_multiply(void)
{
    int32_t n;
    const int32_t *values = case_s32(&n);
    const int32_t *multipliers = case_s32(NULL);
    const int32_t *offsets = case_s32(NULL);
    int32_t *out = case_out_s32(n);
    for (int32_t i = 0; i < n; i++)
        out[i] = tlg_high_multiply_add(values[i], multipliers[i], offsets[i]);
    case_result(out, n * 4);
}

/* The rows of one product as a fused elementwise loop computes them (the generated code of
 * src/emit/kernels/elementwise.ts): the input widened once, then per element its record of
 * constants: the rows' sums together, each row's output. A block's shift is the same for all
 * its rows, or -1 when each row carries its own; its multiplier is the rows' common one, or 0
 * when each row carries its own. With `advance`, the last block's requantization is at the
 * record's start, where the generated loop's tlg_row_out_next reads it and moves its pointer on
 * (that needs the record size as a constant, so this driver adds it; the fixtures' firmware runs
 * tlg_row_out_next itself). Writes the rows block by block. */
static void run_products(void)
{
    const int32_t size = case_i32();
    const int32_t rows = case_i32();
    const int32_t depth = case_i32();
    const int32_t input_shift = case_i32();
    const int32_t min = case_i32();
    const int32_t max = case_i32();
    const int32_t unit_words = case_i32();
    const int32_t weights_offset = case_i32();
    const int32_t advance = case_i32();
    const int32_t *row_offsets = case_s32(NULL);
    const int32_t *shifts = case_s32(NULL);
    const int32_t *multipliers = case_s32(NULL);
    const int8_t *input = case_s8(NULL);
    const int32_t *units = case_s32(NULL);
    static uint32_t lanes[2 * 16];
    if (depth > 64 || rows > 4)
        case_fail("product case too large");
    tlg_widen_lanes(input, depth, input_shift, lanes);
    int8_t *out = case_out_s8(rows * size);
    const int32_t *u = units;
    for (int32_t e = 0; e < size; e++) {
        int32_t acc[4] = {0, 0, 0, 0};
        tlg_dot_rows_w16(rows, (depth + 3) / 4, lanes, u + weights_offset, 0, acc);
        for (int32_t b = 0; b < rows; b++) {
            const int32_t *row = u + row_offsets[b];
            const int32_t shift = shifts[b] >= 0 ? shifts[b] : row[3];
            const int32_t multiplier = multipliers[b] != 0 ? multipliers[b] : row[2];
            if (advance && b == rows - 1 && row != u)
                case_fail("the last block's requantization is not at the record's start");
            out[b * size + e] = (int8_t)tlg_row_out_m(acc[b], row, 0, multiplier, shift, min, max);
        }
        u += unit_words;
    }
    case_result(out, rows * size);
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
        case CASE_PRODUCTS:
            run_products();
            break;
        case CASE_HIGH_MULTIPLY:
            run_high_multiply();
            break;
        default:
            case_fail("unknown op code");
        }
    }
}
