/* MatMul of two runtime int8 operands (QLinearMatMul, MatMulInteger): batched, with numpy's
 * broadcasting of the batch dimensions expressed as per-operand strides (0 to broadcast). The
 * right operand is read by columns, so this is the plain loop on every target: models use it
 * for small products, the hot ones are FullyConnected. */
#include "tlg_fixed_point.h"
#include "tlg_kernels.h"

#include <stddef.h>

static void matmul(const tlg_matmul_params *params, const int8_t *a, const int8_t *b,
                   int8_t *out8, int32_t *out32)
{
    const int32_t m = params->m, k = params->k, n = params->n;
    const tlg_requant rq = params->requant;
    int32_t index[TLG_MATMUL_MAX_BATCH_DIMS] = {0};
    int32_t batches = 1;
    for (int32_t d = 0; d < params->batch_rank; d++)
        batches *= params->batch_shape[d];

    ptrdiff_t a_base = 0, b_base = 0;
    for (int32_t p = 0; p < batches; p++) {
        const int8_t *ap = a + a_base;
        const int8_t *bp = b + b_base;
        const size_t out_base = (size_t)p * (size_t)m * (size_t)n;
        for (int32_t i = 0; i < m; i++) {
            for (int32_t j = 0; j < n; j++) {
                uint32_t sum = 0;
                for (int32_t t = 0; t < k; t++) {
                    const int32_t av = ap[i * k + t] + params->a_offset;
                    sum += (uint32_t)(av * (bp[t * n + j] + params->b_offset));
                }
                const size_t o = out_base + (size_t)i * (size_t)n + (size_t)j;
                if (out32 != NULL) {
                    out32[o] = (int32_t)sum;
                } else {
                    const int32_t v = tlg_requantize((int32_t)sum, rq.multiplier, rq.shift);
                    out8[o] = (int8_t)tlg_add_clamp(v, params->output_offset, -128, 127);
                }
            }
        }
        /* Next batch index, innermost dimension first, moving both operands' bases. */
        for (int32_t d = params->batch_rank - 1; d >= 0; d--) {
            a_base += params->a_batch_strides[d];
            b_base += params->b_batch_strides[d];
            if (++index[d] < params->batch_shape[d])
                break;
            a_base -= (ptrdiff_t)params->a_batch_strides[d] * params->batch_shape[d];
            b_base -= (ptrdiff_t)params->b_batch_strides[d] * params->batch_shape[d];
            index[d] = 0;
        }
    }
}

void tlg_matmul_s8(const tlg_matmul_params *params, const int8_t *a, const int8_t *b,
                   int8_t *output)
{
    matmul(params, a, b, output, NULL);
}

void tlg_matmul_s8_s32(const tlg_matmul_params *params, const int8_t *a, const int8_t *b,
                       int32_t *output)
{
    matmul(params, a, b, NULL, output);
}
