/* The portable kernels of tinylstm-gen: plain C99 implementations of the integer IR's ops
 * (src/ir/ir.ts), bit-exact with their TypeScript references in src/ir/ops/ and, through them,
 * with CMSIS-NN's arithmetic.
 *
 * No allocation, no floating point, no global state. Generated code passes pointers into its
 * statically planned arena for activations and state, pointers to `const` weights and tables in
 * flash, and one `const` parameter struct per op. Parameters use CMSIS-NN's names:
 *   input_offset, filter_offset, output_offset  the negated zero points, added to the int8
 *                                               values (output_offset: added after
 *                                               requantization)
 *   multiplier, shift                           a requantization: value * multiplier / 2^31
 *                                               * 2^shift rounded once, half up (CMSIS-NN
 *                                               built with CMSIS_NN_USE_SINGLE_ROUNDING),
 *                                               multiplier in [2^30, 2^31) (or negated),
 *                                               shift in [-31, 30]
 *   activation_min, activation_max              the clamp of the int8 result
 *
 * Unless a function says otherwise, an output may be the same buffer as an input of the same
 * size (elementwise kernels work in place) but must not overlap it partially.
 *
 * A requantized value plus an offset or another term is summed exactly and then clamped, as the
 * references do. CMSIS-NN sums in int32 there, which wraps when the requantized value lies
 * within that term of the int32 limits; scales that a compiler derives from real tensors never
 * get there (test/cmsis-nn-reference.test.ts keeps the cases where they differ).
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP, e.g. the Cortex-M7) the int8 dot
 * products of tlg_fully_connected_* use SMLAD on pairs of sign-extended values,
 * tlg_lstm_step_s8 uses SMLAD on weights widened to int16 at compile time, and
 * tlg_lstm_step_compact_s8 on int8 weights widened in registers (SXTB16); the result is the
 * same integer as on any other target.
 */
#ifndef TLG_KERNELS_H
#define TLG_KERNELS_H

#include <stdint.h>

/* A requantization: multiplier (Q31) and shift, as CMSIS-NN's cmsis_nn_scaling. */
typedef struct {
    int32_t multiplier;
    int32_t shift;
} tlg_requant;

/* ---- FullyConnected ---------------------------------------------------------------------- */

typedef struct {
    int32_t input_offset;    /* [-127, 128] */
    int32_t filter_offset;   /* [-127, 128]; 0 for symmetric weights */
    int32_t output_offset;   /* [-128, 127]; ignored by tlg_fully_connected_s8_s32 */
    int32_t activation_min;  /* ignored by tlg_fully_connected_s8_s32 */
    int32_t activation_max;  /* ignored by tlg_fully_connected_s8_s32 */
    /* requant[0] for every output channel, or requant[n] for channel n when per_channel is
     * nonzero. Ignored by tlg_fully_connected_s8_s32. */
    const tlg_requant *requant;
    int32_t per_channel;
    /* The sum of products is shifted left by this many bits before the bias is added: the
     * bias has that many more bits than s_x * s_w (0 as in CMSIS-NN). */
    int32_t accumulator_shift;
} tlg_fc_params;

/* output[b][n] = clamp(requantize(bias[n] + (sum_k (input[b][k] + input_offset)
 *                  * (filter[n][k] + filter_offset) << accumulator_shift), requant[n]) + output_offset,
 *                  activation_min, activation_max)
 * as arm_fully_connected_s8 / arm_fully_connected_per_channel_s8 compute it.
 *   batches       rows of input and output
 *   accum_depth   K: elements of an input row, columns of filter
 *   output_depth  N: rows of filter, elements of an output row
 *   input         int8 [batches, K]
 *   filter        int8 [N, K], row-major (CMSIS-NN's layout)
 *   bias          int32 [N], or NULL for none
 *   output        int8 [batches, N]; must not overlap input */
void tlg_fully_connected_s8(const tlg_fc_params *params,
                            int32_t batches,
                            int32_t accum_depth,
                            int32_t output_depth,
                            const int8_t *input,
                            const int8_t *filter,
                            const int32_t *bias,
                            int8_t *output);

/* The same product with the int32 accumulator as output (MatMulInteger): no requantization,
 * no clamp; sums wrap modulo 2^32. */
void tlg_fully_connected_s8_s32(const tlg_fc_params *params,
                                int32_t batches,
                                int32_t accum_depth,
                                int32_t output_depth,
                                const int8_t *input,
                                const int8_t *filter,
                                const int32_t *bias,
                                int32_t *output);

/* ---- MatMul (two runtime operands) --------------------------------------------------------- */

#define TLG_MATMUL_MAX_BATCH_DIMS 4

typedef struct {
    int32_t a_offset;       /* input_offset of a, [-127, 128] */
    int32_t b_offset;       /* input_offset of b, [-127, 128] */
    int32_t output_offset;  /* ignored by tlg_matmul_s8_s32 */
    tlg_requant requant;    /* ignored by tlg_matmul_s8_s32 */
    int32_t m;              /* rows of a and of the output */
    int32_t k;              /* columns of a, rows of b */
    int32_t n;              /* columns of b and of the output */
    /* The output's batch dimensions (outermost first; batch_rank 0 for a single product) and,
     * for each, how many elements a and b advance per step: m*k (or k*n) times the product
     * of the operand's inner batch dimensions, and 0 where the operand broadcasts. */
    int32_t batch_rank;
    int32_t batch_shape[TLG_MATMUL_MAX_BATCH_DIMS];
    int32_t a_batch_strides[TLG_MATMUL_MAX_BATCH_DIMS];
    int32_t b_batch_strides[TLG_MATMUL_MAX_BATCH_DIMS];
} tlg_matmul_params;

/* output[p][i][j] = clamp(requantize(sum_t (a[p][i][t] + a_offset) * (b[p][t][j] + b_offset),
 *                   requant) + output_offset, -128, 127)
 *   a       int8 [..., m, k]
 *   b       int8 [..., k, n] (row-major: b is not transposed)
 *   output  int8 [batches, m, n]; must not overlap a or b */
void tlg_matmul_s8(const tlg_matmul_params *params, const int8_t *a, const int8_t *b,
                   int8_t *output);

/* The same product with the int32 accumulator as output. */
void tlg_matmul_s8_s32(const tlg_matmul_params *params, const int8_t *a, const int8_t *b,
                       int32_t *output);

/* ---- Elementwise ------------------------------------------------------------------------- */

typedef struct {
    int32_t input_1_offset;  /* [-127, 128] */
    tlg_requant input_1;     /* to the common scale */
    int32_t input_2_offset;  /* [-127, 128] */
    tlg_requant input_2;     /* to the common scale; a negative multiplier subtracts */
    int32_t left_shift;      /* applied to both inputs first; 20 for int8 */
    int32_t output_offset;   /* [-128, 127] */
    tlg_requant output;
    int32_t activation_min;
    int32_t activation_max;
} tlg_add_params;

/* output[i] = clamp(requantize(requantize((input_1[i] + input_1_offset) << left_shift, input_1)
 *             + requantize((input_2[i] + input_2_offset) << left_shift, input_2), output)
 *             + output_offset, activation_min, activation_max): arm_elementwise_add_s8. */
void tlg_add_s8(const tlg_add_params *params,
                int32_t size,
                const int8_t *input_1,
                const int8_t *input_2,
                int8_t *output);

typedef struct {
    int32_t input_1_offset;  /* [-127, 128] */
    int32_t input_2_offset;  /* [-127, 128] */
    int32_t output_offset;   /* [-128, 127] */
    tlg_requant output;
    int32_t activation_min;
    int32_t activation_max;
} tlg_mul_params;

/* output[i] = clamp(requantize((input_1[i] + input_1_offset) * (input_2[i] + input_2_offset),
 *             output) + output_offset, activation_min, activation_max): arm_elementwise_mul_s8. */
void tlg_mul_s8(const tlg_mul_params *params,
                int32_t size,
                const int8_t *input_1,
                const int8_t *input_2,
                int8_t *output);

typedef struct {
    int32_t input_offset;   /* [-127, 128] */
    int32_t output_offset;  /* [-128, 127] */
    tlg_requant requant;
} tlg_requantize_params;

/* output[i] = clamp(requantize(input[i] + input_offset, requant) + output_offset, -128, 127). */
void tlg_requantize_s8(const tlg_requantize_params *params,
                       int32_t size,
                       const int8_t *input,
                       int8_t *output);

/* output[i] = table[input[i] + 128]: any function of one int8 value, tabulated at compile
 * time. table: int8 [256]. */
void tlg_lut_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output);

/* ---- Softmax ----------------------------------------------------------------------------- */

typedef struct {
    int32_t multiplier;  /* input_beta_multiplier: takes input differences to Q5.26 */
    int32_t shift;       /* input_beta_left_shift, [0, 30] */
    int32_t diff_min;    /* differences to the row maximum below this count as exp = 0 */
} tlg_softmax_params;

/* Softmax over each row with the fixed-point arithmetic of arm_softmax_s8 (gemmlowp's
 * exp_on_negative_values and one_over_one_plus_x); output at scale 1/256, zero point -128.
 * Rows whose exponentials sum to 2^28 or more (512 or more values at the row maximum) need a
 * division by 2^32 or more, which CMSIS-NN leaves to the target's shift instructions; this
 * kernel then gives what CMSIS-NN computes on a Cortex-M: -127 for every value within
 * diff_min of the maximum. Output may be input. */
void tlg_softmax_s8(const tlg_softmax_params *params,
                    int32_t num_rows,
                    int32_t row_size,
                    const int8_t *input,
                    int8_t *output);

/* ---- Views ------------------------------------------------------------------------------- */

#define TLG_COPY_MAX_DIMS 6

typedef struct {
    int32_t element_size;  /* bytes: 1, 2 or 4 */
    int32_t rank;          /* of the output, [0, TLG_COPY_MAX_DIMS] */
    int32_t offset;        /* input element of output element 0 */
    int32_t shape[TLG_COPY_MAX_DIMS];    /* output shape */
    int32_t strides[TLG_COPY_MAX_DIMS];  /* input elements per output step, any sign, 0 to
                                            broadcast */
} tlg_copy_params;

/* output[i] = input[offset + sum_d i_d * strides[d]] over the output's indices in row-major
 * order: slices, transposes, broadcasts, gathers at constant indices. Output must not overlap
 * input. */
void tlg_copy(const tlg_copy_params *params, const void *input, void *output);

typedef struct {
    int32_t element_size;   /* bytes: 1, 2 or 4 */
    int32_t outer;          /* product of the output dimensions before the axis */
    int32_t output_inner;   /* elements of the output from the axis on */
    int32_t count;          /* inputs */
    const int32_t *inner;   /* [count]: elements of each input from the axis on */
} tlg_concat_params;

/* Joins inputs[0..count) along the axis. Output must not overlap any input. */
void tlg_concat(const tlg_concat_params *params, const void *const *inputs, void *output);

/* ---- LSTM -------------------------------------------------------------------------------- */

/* A requantization prepared at compile time (src/emit/kernels/lstm-layout.ts) so that it costs
 * one 64-bit multiply-accumulate, one multiply-accumulate and one shift:
 *   tlg_requantize(v, multiplier, shift)
 *     = (int32_t)(((rounding + v * low) >> 32) + v * high) >> right_shift
 * with the sum taken modulo 2^32, for every int32 v (the wrap to int32 included). For
 * shift < 0: low = multiplier, high = 0, rounding = 2^(30 - shift), right_shift = -1 - shift;
 * for shift >= 0: multiplier * 2^(shift + 1) = high * 2^32 + low (low signed),
 * rounding = 2^31, right_shift = 0. */
typedef struct {
    int64_t rounding;
    int32_t low;
    int32_t high;
    int32_t right_shift;
} tlg_fast_requant;

typedef enum {
    TLG_SIGMOID = 0,
    TLG_TANH = 1
} tlg_activation;

/* One segment of the piecewise-linear int16 sigmoid or tanh of arm_nn_activation_s16, which
 * interpolates a 256-entry table T of sigmoid(k/24) in Q16 (CMSIS-NN's sigmoid_table_uint16
 * or the project's, src/quant/tables.ts). Prepared at compile time from T with the rounding
 * of the result folded in (src/emit/kernels/lstm-layout.ts):
 *   sigmoid, k < 255: base = T[k] * 2^9 + 2^9,          slope = T[k + 1] - T[k]
 *   tanh, k < 255:    base = T[k] * 2^8 - 2^23 + 2^7,   slope = T[k + 1] - T[k]
 *   k = 255:          base = the saturated value plus that rounding, slope = 0 */
typedef struct {
    int32_t base;
    int32_t slope;
} tlg_activation_segment;

/* arm_nn_activation_s16's input scaling, x * 3 * 2^left_shift rounded:
 * (x * multiplier + rounding) >> shift, multiplier = 3 << max(left_shift, 0),
 * shift = max(-left_shift, 0), rounding = half of 2^shift (0 for shift 0). */
typedef struct {
    int32_t multiplier;
    int32_t rounding;
    int32_t shift;
} tlg_activation_scale;

/* sigmoid or tanh of int16 values into Q0.15, bit-exact with arm_nn_activation_s16:
 *   scale     the input scaling for left_shift (the input's integer bits beyond 3: 0 for
 *             gates, cell_scale_power + 12 for the cell state; [-31, 13])
 *   segments  [256], of the type's function (see tlg_activation_segment)
 * Output may be input. */
void tlg_activation_s16(const tlg_activation_scale *scale,
                        tlg_activation type,
                        const tlg_activation_segment *segments,
                        int32_t size,
                        const int16_t *input,
                        int16_t *output);

/* What one LSTM unit does with its four gate pre-activations (int16 at 2^-12, already the
 * saturated sums of the input and hidden parts), with the arithmetic of arm_nn_lstm_step_s8:
 *   f, i, o = sigmoid, g = tanh (left shift 0)
 *   c' = clip(requantize(i g, input_to_cell) + sat16(requantize(f c, forget_to_cell)))
 *   h' = sat8(requantize(o tanh(c'), output) + output_offset), tanh scaled by cell_scale
 * The three requantizations are by factors below 1/2 (shift < 0, so high = 0). */
typedef struct {
    tlg_fast_requant forget_to_cell;   /* forget_to_cell_multiplier, _shift */
    tlg_fast_requant input_to_cell;    /* input_to_cell_multiplier, _shift */
    tlg_fast_requant output;           /* output_multiplier, output_shift: Q0.30 to the hidden int8 */
    int32_t output_offset;             /* the hidden state's zero point */
    int32_t cell_min;                  /* -cell_clip, or -32768 without a clip */
    int32_t cell_max;                  /* cell_clip, or 32767 */
    tlg_activation_scale cell_scale;   /* left shift cell_scale_power + 12 */
    const tlg_activation_segment *sigmoid;  /* [256] */
    const tlg_activation_segment *tanh;     /* [256] */
} tlg_lstm_cell_params;

/* An int8 LSTM with int16 gates and cell state, as CMSIS-NN's cmsis_nn_lstm_params, with its
 * weights and biases laid out at compile time (src/emit/kernels/lstm-layout.ts). Gates are in
 * the order f, i, g, o (forget, input, cell, output). The weights are interleaved per hidden
 * unit j, four columns of each gate's row j at a time, in one of two layouts:
 *   fast (tlg_lstm_step_s8), widened to int16:
 *     input_weights[j][c][gate][0..3] = W_x[gate][j][4c .. 4c + 3]
 *   compact (tlg_lstm_step_compact_s8), int8 with the middle columns swapped, so that SXTB16
 *   of the word gives columns 4c, 4c + 1 and SXTB16 of the word rotated by 8 bits 4c + 2, 4c + 3:
 *     input_weights[j][c][gate][0..3] = W_x[gate][j][4c, 4c + 2, 4c + 1, 4c + 3]
 * for c < ceil(input_size / 4), zeros beyond input_size; hidden_weights the same with W_h and
 * hidden_size. The compact layout takes half the flash of the fast one; on the Cortex-M7 its
 * gate products take two SXTB16 more per word of four weights (19.5 instructions per 16
 * multiply-accumulates instead of 13.5). biases[j] = {input effective biases of f, i, g, o,
 * hidden effective biases of f, i, g, o} (the zero points folded in, as cmsis_nn_lstm_gate's
 * effective biases). */
typedef struct {
    int32_t batch_size;
    int32_t input_size;
    int32_t hidden_size;
    const void *input_weights;       /* [hidden_size][ceil(input_size / 4)][4][4], int16 or int8 */
    const void *hidden_weights;      /* [hidden_size][ceil(hidden_size / 4)][4][4], int16 or int8 */
    const int32_t *biases;           /* int32 [hidden_size][8] */
    tlg_fast_requant input_requant[4];   /* input_multiplier, _shift of f, i, g, o: to Q3.12 */
    tlg_fast_requant hidden_requant[4];  /* hidden_multiplier, _shift of f, i, g, o */
    tlg_lstm_cell_params cell;
} tlg_lstm_params;

/* One time step for batch_size sequences with the arithmetic of arm_nn_lstm_step_s8:
 *   gate = act(sat16(requantize(W_h h + b_h, hidden) + sat16(requantize(W_x x + b_x, input))))
 * then tlg_lstm_cell_params' cell and hidden updates.
 *   input       int8 [batch_size, input_size]
 *   hidden_in   int8 [batch_size, hidden_size]
 *   cell_in     int16 [batch_size, hidden_size]
 *   hidden_out  int8 [batch_size, hidden_size]; may be hidden_in or overlap input
 *   cell_out    int16 [batch_size, hidden_size]; may be cell_in
 *   scratch     int16 [4 ceil(input_size / 4) + 4 ceil(hidden_size / 4)]: one sequence's input
 *               and hidden state widened to int16
 * Weights, biases and scratch are 4-byte aligned (the Cortex-M7 loads two words at a time).
 * The four gates of a unit are computed together, and its cell and hidden state right after. */
void tlg_lstm_step_s8(const tlg_lstm_params *params,
                      const int8_t *input,
                      const int8_t *hidden_in,
                      const int16_t *cell_in,
                      int8_t *hidden_out,
                      int16_t *cell_out,
                      int16_t *scratch);

/* tlg_lstm_step_s8 on the compact (int8) layout of the weights: the same arguments, scratch
 * and result. */
void tlg_lstm_step_compact_s8(const tlg_lstm_params *params,
                              const int8_t *input,
                              const int8_t *hidden_in,
                              const int16_t *cell_in,
                              int8_t *hidden_out,
                              int16_t *cell_out,
                              int16_t *scratch);

/* The cell and hidden updates of `size` units from their gate pre-activations, as computed by
 * CMSIS-NN's arm_nn_vec_mat_mul_result_acc_s8_s16 (the CMSIS-NN kernel set's LSTM step): gate
 * k of unit j at gates[j * unit_stride + k * gate_stride], k = 0..3 for f, i, g, o.
 *   cell_out may be cell_in; hidden_out int8 [size] */
void tlg_lstm_update_s16(const tlg_lstm_cell_params *params,
                         int32_t size,
                         int32_t unit_stride,
                         int32_t gate_stride,
                         const int16_t *gates,
                         const int16_t *cell_in,
                         int16_t *cell_out,
                         int8_t *hidden_out);

#endif
