/* Copy (strided gather: slices, transposes, broadcasts, constant-index gathers) and Concat. The
 * element type does not matter, only its size: elements are moved as 1-, 2- or 4-byte units. */
#include "tlg_kernels.h"

#include <stddef.h>
#include <string.h>

/* count elements of `size` bytes from in (stepping `stride` elements) to consecutive out. */
static void copy_strided(const char *in, ptrdiff_t stride, char *out, int32_t count, int32_t size)
{
    if (stride == 1) {
        memcpy(out, in, (size_t)count * (size_t)size);
        return;
    }
    switch (size) {
    case 1:
        for (int32_t i = 0; i < count; i++)
            ((int8_t *)out)[i] = ((const int8_t *)in)[i * stride];
        break;
    case 2:
        for (int32_t i = 0; i < count; i++)
            ((int16_t *)out)[i] = ((const int16_t *)in)[i * stride];
        break;
    default:
        for (int32_t i = 0; i < count; i++)
            ((int32_t *)out)[i] = ((const int32_t *)in)[i * stride];
        break;
    }
}

void tlg_copy(const tlg_copy_params *params, const void *input, void *output)
{
    const int32_t size = params->element_size;
    const int32_t rank = params->rank;
    const char *in = (const char *)input;
    char *out = (char *)output;
    if (rank == 0) {
        memcpy(out, in + (ptrdiff_t)params->offset * size, (size_t)size);
        return;
    }

    /* The innermost dimension is one strided run; the outer ones are counted like an
     * odometer, moving the source element with them. */
    const int32_t inner = params->shape[rank - 1];
    const ptrdiff_t inner_stride = params->strides[rank - 1];
    int32_t outer = 1;
    for (int32_t d = 0; d < rank - 1; d++)
        outer *= params->shape[d];
    int32_t index[TLG_COPY_MAX_DIMS] = {0};
    ptrdiff_t src = params->offset;
    for (int32_t o = 0; o < outer; o++) {
        copy_strided(in + src * size, inner_stride, out, inner, size);
        out += (size_t)inner * (size_t)size;
        for (int32_t d = rank - 2; d >= 0; d--) {
            src += params->strides[d];
            if (++index[d] < params->shape[d])
                break;
            src -= (ptrdiff_t)params->strides[d] * params->shape[d];
            index[d] = 0;
        }
    }
}

void tlg_concat(const tlg_concat_params *params, const void *const *inputs, void *output)
{
    const size_t size = (size_t)params->element_size;
    const size_t row_bytes = (size_t)params->output_inner * size;
    size_t column = 0;
    for (int32_t p = 0; p < params->count; p++) {
        const char *in = (const char *)inputs[p];
        const size_t part_bytes = (size_t)params->inner[p] * size;
        char *out = (char *)output + column;
        for (int32_t o = 0; o < params->outer; o++)
            memcpy(out + (size_t)o * row_bytes, in + (size_t)o * part_bytes, part_bytes);
        column += part_bytes;
    }
}
