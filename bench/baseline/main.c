/* The benchmark's baseline: a stacked int8 LSTM with a fully connected head (pm-lstm), run
 * the way an engineer would write it by hand on CMSIS-NN's public API: one
 * arm_lstm_unidirectional_s8 call per layer over the whole sequence, then
 * arm_fully_connected_per_channel_s8 on the last hidden state. bench/baseline.ts writes the
 * parameters and test inputs into baseline_model.c/.h from the compiler's integer IR.
 *
 * It prints the lines of a generated test application (TLG BEGIN, OUT, COST, END) so that the
 * same parser reads it, but no CHECK lines: CMSIS-NN built with its default double rounding
 * computes other integers than the golden model, which rounds once. The runner compares
 * classes (argmax) instead.
 */
#include <stdint.h>
#include <string.h>

#include "arm_nnfunctions.h"
#include "baseline_model.h"
#include "tlg_board.h"
#include "tlg_print.h"

/* Each layer writes its whole output sequence, which the next layer reads: two buffers take
 * turns. */
static int8_t sequence[2][BL_STEPS * BL_HIDDEN_SIZE];
static int8_t hidden[BL_LAYERS][BL_HIDDEN_SIZE];
static int16_t cell[BL_LAYERS][BL_HIDDEN_SIZE];
static int16_t gate_scratch1[BL_HIDDEN_SIZE];
static int16_t gate_scratch2[BL_HIDDEN_SIZE];
static int8_t output[BL_CLASSES];

static void check(arm_cmsis_nn_status status, const char *call)
{
    if (status == ARM_CMSIS_NN_SUCCESS)
        return;
    tlg_print_str("TLG FAULT ");
    tlg_print_str(call);
    tlg_print_str(" returned ");
    tlg_print_i64(status);
    tlg_print_char('\n');
    tlg_board_exit(3);
}

static void run(const int8_t *input)
{
    const int8_t *x = input;
    for (int32_t layer = 0; layer < BL_LAYERS; layer++) {
        /* The recurrent state starts from the model's initial values on every inference. */
        memcpy(hidden[layer], bl_hidden_init[layer], sizeof hidden[layer]);
        memcpy(cell[layer], bl_cell_init[layer], sizeof cell[layer]);
        cmsis_nn_lstm_context buffers = {gate_scratch1, gate_scratch2, cell[layer], hidden[layer]};
        int8_t *y = sequence[layer % 2];
        check(arm_lstm_unidirectional_s8(x, y, &bl_lstm_params[layer], &buffers),
              "arm_lstm_unidirectional_s8");
        x = y;
    }

    /* Without Helium the kernel needs no buffer (arm_fully_connected_s8_get_buffer_size is 0). */
    const cmsis_nn_context context = {NULL, 0};
    const cmsis_nn_dims input_dims = {1, 1, 1, BL_HIDDEN_SIZE};
    const cmsis_nn_dims filter_dims = {BL_HIDDEN_SIZE, 1, 1, BL_CLASSES};
    const cmsis_nn_dims bias_dims = {1, 1, 1, BL_CLASSES};
    const cmsis_nn_dims output_dims = {1, 1, 1, BL_CLASSES};
    check(arm_fully_connected_per_channel_s8(&context, &bl_fc_params, &bl_fc_quant, &input_dims,
                                             hidden[BL_LAYERS - 1], &filter_dims, bl_fc_weights,
                                             &bias_dims, bl_fc_bias, &output_dims, output),
          "arm_fully_connected_per_channel_s8");
}

int main(void)
{
    tlg_board_init();
    tlg_print_str("TLG BEGIN model=" BL_MODEL " board=baseline kernels=cmsis-nn-direct inputs=");
    tlg_print_i64(BL_TESTS);
    tlg_print_char('\n');

    for (int32_t i = 0; i < BL_TESTS; i++) {
        uint64_t start = tlg_board_cost_now();
        run(bl_test_inputs[i]);
        uint64_t cost = tlg_board_cost_now() - start;
        tlg_print_str("TLG OUT ");
        tlg_print_i64(i);
        tlg_print_str(" 0 ");
        tlg_print_hex_bytes(output, sizeof output);
        tlg_print_str("\nTLG COST ");
        tlg_print_i64(i);
        tlg_print_char(' ');
        tlg_print_u64(cost);
        tlg_print_char(' ');
        tlg_print_str(tlg_board_cost_unit());
        tlg_print_char('\n');
    }

    /* PASS here only says that every inference ran: the runner judges the outputs. */
    tlg_print_str("TLG END PASS ");
    tlg_print_i64(BL_TESTS);
    tlg_print_char('\n');
    return 0;
}
