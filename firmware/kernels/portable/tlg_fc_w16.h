/* Products on weights widened to int16 at compile time: the dot products load two weights per
 * word and four per LDRD, with no sign extension in the inner loop (SMLAD under
 * __ARM_FEATURE_DSP), and each row's requantization is prepared at compile time.
 *
 *   tlg_fc_rows_s8     a fully connected layer from rows prepared at compile time; same
 *                      result as tlg_fully_connected_s8. Rows are stored in groups of four,
 *                      interleaved by four columns, as tlg_dot_rows_w16 reads them, and each
 *                      row's output is one multiply-accumulate of a 64-bit constant and one
 *                      shift.
 *   tlg_widen_lanes, tlg_dot_rows_w16, tlg_row_out_m, tlg_row_out_next
 *                      the rows of products folded into a generated elementwise loop (the gate
 *                      pre-activations of a TinyLSTM): the input widened once, the rows of one
 *                      element together, each requantized with its bias, zero points and output
 *                      offset folded into one 64-bit constant (src/quant/product-rows.ts).
 *
 * The functions are always inlined: generated code calls them with constant sizes, which lets
 * the compiler drop the loops over rows and chunks of small layers (the rank-r products of a
 * TinyLSTM). */
#ifndef TLG_FC_W16_H
#define TLG_FC_W16_H

#include <stdint.h>
#include <string.h>

#include "tlg_fixed_point.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

#if defined(__GNUC__)
#define TLG_ALWAYS_INLINE __attribute__((always_inline)) static inline
#else
#define TLG_ALWAYS_INLINE static inline
#endif

/* Two words as one object, for the memory operand of TLG_LDRD; may_alias because the words are
 * read from int16 arrays too. */
typedef struct {
    uint32_t v[2];
}
#if defined(__GNUC__)
__attribute__((may_alias))
#endif
tlg_words2;

#if defined(__ARM_FEATURE_DSP)
/* LDRD: the words base[index] and base[index + 1] (base a const uint32_t *, word aligned, index
 * a constant). GCC splits the 64-bit loads of C into single loads that it schedules apart, so
 * the load is written out; volatile keeps the loads in the order written, which keeps GCC from
 * hoisting them all ahead of the multiplies and spilling the registers they fill. */
#define TLG_LDRD(lo, hi, base, index)                                                          \
    __asm__ volatile("ldrd %0, %1, [%2, %3]"                                                   \
                     : "=r"(lo), "=r"(hi)                                                      \
                     : "r"(base), "i"(4 * (index)), "m"(*(const tlg_words2 *)((base) + (index))))

/* SXTB16 of the word rotated right by 8: bytes 1 and 3 into two int16 lanes. GCC does not fold
 * the rotation into the instruction by itself, so it is written out. */
static inline uint32_t tlg_sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}

/* Row r of chunk c (rows R per chunk): two SMLAD on the chunk's two words of the input. */
#define TLG_DOT_ROW(a, R, r, c)                                                                \
    do {                                                                                       \
        uint32_t w0, w1;                                                                       \
        TLG_LDRD(w0, w1, w, w_offset + 2 * ((c) * (R) + (r)));                                 \
        (a) = (int32_t)__smlad(w1, x1, (int32_t)__smlad(w0, x0, (a)));                         \
    } while (0)

/* Chunk c: one LDRD of the input, then one per row. */
#define TLG_DOT_CHUNK(R, c)                                                                    \
    do {                                                                                       \
        uint32_t x0, x1;                                                                       \
        TLG_LDRD(x0, x1, x, 2 * (c));                                                          \
        TLG_DOT_ROW(a0, R, 0, c);                                                              \
        if ((R) > 1)                                                                           \
            TLG_DOT_ROW(a1, R, 1, c);                                                          \
        if ((R) > 2)                                                                           \
            TLG_DOT_ROW(a2, R, 2, c);                                                          \
        if ((R) > 3)                                                                           \
            TLG_DOT_ROW(a3, R, 3, c);                                                          \
    } while (0)

/* All chunks for R rows: eight at a time, then four, two, one (constant offsets throughout). */
#define TLG_DOT_ROWS(R)                                                                        \
    do {                                                                                       \
        while (x != end8) {                                                                    \
            TLG_DOT_CHUNK(R, 0);                                                               \
            TLG_DOT_CHUNK(R, 1);                                                               \
            TLG_DOT_CHUNK(R, 2);                                                               \
            TLG_DOT_CHUNK(R, 3);                                                               \
            TLG_DOT_CHUNK(R, 4);                                                               \
            TLG_DOT_CHUNK(R, 5);                                                               \
            TLG_DOT_CHUNK(R, 6);                                                               \
            TLG_DOT_CHUNK(R, 7);                                                               \
            x += 16;                                                                           \
            w += 16 * (R);                                                                     \
        }                                                                                      \
        if (chunks & 4) {                                                                      \
            TLG_DOT_CHUNK(R, 0);                                                               \
            TLG_DOT_CHUNK(R, 1);                                                               \
            TLG_DOT_CHUNK(R, 2);                                                               \
            TLG_DOT_CHUNK(R, 3);                                                               \
            x += 8;                                                                            \
            w += 8 * (R);                                                                      \
        }                                                                                      \
        if (chunks & 2) {                                                                      \
            TLG_DOT_CHUNK(R, 0);                                                               \
            TLG_DOT_CHUNK(R, 1);                                                               \
            x += 4;                                                                            \
            w += 4 * (R);                                                                      \
        }                                                                                      \
        if (chunks & 1)                                                                        \
            TLG_DOT_CHUNK(R, 0);                                                               \
    } while (0)
#endif

/* acc[r] += the dot product of row r (r < rows, 1 to 4) with the input, over `chunks` chunks of
 * four int16. Both are sequences of words of two int16 lanes: the input x[2c], x[2c + 1] for
 * chunk c, row r's w[2(c·rows + r)], w[2(c·rows + r) + 1] with w = w_words + w_offset words (a
 * constant, which the loads take as part of their offsets, so that no register holds w);
 * lanes pair up as stored, so the order of the four values within a chunk is the caller's, the
 * same on both sides. x and w are word aligned. Sums wrap modulo 2^32. */
TLG_ALWAYS_INLINE void tlg_dot_rows_w16(int32_t rows, int32_t chunks, const void *x_words,
                                        const void *w_words, int32_t w_offset, int32_t acc[4])
{
    const uint32_t *x = (const uint32_t *)x_words;
    const uint32_t *w = (const uint32_t *)w_words;
#if defined(__ARM_FEATURE_DSP)
    const uint32_t *const end8 = x + 2 * (chunks & ~7);
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    switch (rows) {
    case 1:
        TLG_DOT_ROWS(1);
        break;
    case 2:
        TLG_DOT_ROWS(2);
        break;
    case 3:
        TLG_DOT_ROWS(3);
        break;
    default:
        TLG_DOT_ROWS(4);
        break;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#else
    for (int32_t c = 0; c < chunks; c++) {
        uint32_t xw[2];
        memcpy(xw, x + 2 * c, sizeof xw);
        for (int32_t r = 0; r < rows; r++) {
            uint32_t ww[2];
            memcpy(ww, w + w_offset + 2 * (c * rows + r), sizeof ww);
            uint32_t sum = (uint32_t)acc[r];
            for (int32_t i = 0; i < 4; i++) {
                const int32_t wv = (int16_t)(uint16_t)(ww[i / 2] >> (16 * (i % 2)));
                const int32_t xv = (int16_t)(uint16_t)(xw[i / 2] >> (16 * (i % 2)));
                sum += (uint32_t)(wv * xv);
            }
            acc[r] = (int32_t)sum;
        }
    }
#endif
}

/* The int8 vector x[0..size) times 2^shift (shift <= 8) as words of two int16 lanes for
 * tlg_dot_rows_w16, each chunk of four values in the order 0, 2, 1, 3: lanes[2c] = (x[4c],
 * x[4c + 2]), lanes[2c + 1] = (x[4c + 1], x[4c + 3]), the low lane first, zeros beyond size.
 * That order is SXTB16's: one load and two SXTB16 per chunk. */
static inline void tlg_widen_lanes(const int8_t *x, int32_t size, int32_t shift, uint32_t *lanes)
{
    int32_t c = 0;
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_BIG_ENDIAN)
    /* Two chunks per pass: two loads, four SXTB16 (or masks), two STRD. */
    if (shift == 0) {
        for (; 4 * c + 7 < size; c += 2) {
            uint32_t first, second;
            memcpy(&first, x + 4 * c, sizeof first);
            memcpy(&second, x + 4 * c + 4, sizeof second);
            lanes[2 * c] = __sxtb16(first);
            lanes[2 * c + 1] = tlg_sxtb16_ror8(first);
            lanes[2 * c + 2] = __sxtb16(second);
            lanes[2 * c + 3] = tlg_sxtb16_ror8(second);
        }
    } else if (shift == 8) {
        /* Each byte at the top of its lane is the value times 2^8. */
        for (; 4 * c + 7 < size; c += 2) {
            uint32_t first, second;
            memcpy(&first, x + 4 * c, sizeof first);
            memcpy(&second, x + 4 * c + 4, sizeof second);
            lanes[2 * c] = (first << 8) & 0xFF00FF00u;
            lanes[2 * c + 1] = first & 0xFF00FF00u;
            lanes[2 * c + 2] = (second << 8) & 0xFF00FF00u;
            lanes[2 * c + 3] = second & 0xFF00FF00u;
        }
    }
#endif
    for (; 4 * c < size; c++) {
        int32_t v[4];
        for (int32_t i = 0; i < 4; i++)
            v[i] = 4 * c + i < size ? x[4 * c + i] * (1 << shift) : 0;
        lanes[2 * c] = (uint32_t)(uint16_t)v[0] | (uint32_t)(uint16_t)v[2] << 16;
        lanes[2 * c + 1] = (uint32_t)(uint16_t)v[1] | (uint32_t)(uint16_t)v[3] << 16;
    }
}

/* A product row's output: the high word of sum·multiplier + init (init = {low, high}, one 64-bit
 * constant), shifted right by `shift`, clamped to [min, max]. */
TLG_ALWAYS_INLINE int32_t tlg_row_value(int32_t sum, uint32_t low, uint32_t high, int32_t multiplier,
                                        int32_t shift, int32_t min, int32_t max)
{
    const int64_t init = (int64_t)(((uint64_t)high << 32) | low);
    return tlg_saturate((int32_t)((init + (int64_t)sum * multiplier) >> 32) >> shift, min, max);
}

/* One product row's output from its sum (tlg_row_value): base[index ..] = {init low word, init
 * high word} as src/quant/product-rows.ts prepares them (index a constant, so that the load
 * takes it as its offset). The multiplier is a constant when the rows of a block share it, else
 * the record's word after the init. */
TLG_ALWAYS_INLINE int32_t tlg_row_out_m(int32_t sum, const int32_t *base, int32_t index,
                                        int32_t multiplier, int32_t shift, int32_t min,
                                        int32_t max)
{
    uint32_t low, high;
#if defined(__ARM_FEATURE_DSP)
    TLG_LDRD(low, high, (const uint32_t *)base, index);
#else
    low = (uint32_t)base[index];
    high = (uint32_t)base[index + 1];
#endif
    return tlg_row_value(sum, low, high, multiplier, shift, min, max);
}

/* tlg_row_out_m for the row a loop reads last from an element's record of `words` words: its
 * {init low, init high} are the record's first two words, and their load moves *record on to
 * the next record (an LDRD with post-increment, so the loop adds nothing to its pointer). */
TLG_ALWAYS_INLINE int32_t tlg_row_out_next(int32_t sum, const int32_t **record, int32_t words,
                                           int32_t multiplier, int32_t shift, int32_t min,
                                           int32_t max)
{
    uint32_t low, high;
#if defined(__ARM_FEATURE_DSP)
    __asm__ volatile("ldrd %0, %1, [%2], %4"
                     : "=r"(low), "=r"(high), "+r"(*record)
                     : "m"(*(const tlg_words2 *)*record), "i"(4 * words));
#else
    low = (uint32_t)(*record)[0];
    high = (uint32_t)(*record)[1];
    *record += words;
#endif
    return tlg_row_value(sum, low, high, multiplier, shift, min, max);
}

/* Row r (a constant) of a group of tlg_fc_rows_s8: the record of `words` words (3, or 4 with
 * the row's own shift) at rec[r·words]. */
#define TLG_FC_ROW(r)                                                                          \
    (y[r] = (int8_t)tlg_row_out_m(acc[r], rec, (r) * words, rec[(r) * words + 2],              \
                                  own_shift ? rec[(r) * words + 3] : shift, min, max))

/* Rows n .. n + rows - 1 (rows 1 to 4, a constant) of tlg_fc_rows_s8: w the group's words,
 * rec the first row's record. */
TLG_ALWAYS_INLINE void tlg_fc_rows_group(int32_t rows, int32_t chunks, int32_t own_shift, int32_t shift,
                                         int32_t min, int32_t max, const uint32_t *lanes,
                                         const int32_t *w, const int32_t *rec, int8_t *y)
{
    const int32_t words = own_shift ? 4 : 3;
    int32_t acc[4] = {0, 0, 0, 0};
    tlg_dot_rows_w16(rows, chunks, lanes, w, 0, acc);
    /* Written out row by row: the records' offsets are constants of the loads. */
    TLG_FC_ROW(0);
    if (rows > 1)
        TLG_FC_ROW(1);
    if (rows > 2)
        TLG_FC_ROW(2);
    if (rows > 3)
        TLG_FC_ROW(3);
}

/* A fully connected layer from rows prepared at compile time (src/quant/product-rows.ts):
 * output[b][n] = clamp(the high word of sum_n·M_n + init_n, shifted right by the row's shift),
 * sum_n the dot product of row n's int16 weights with the input row widened to x·2^input_shift.
 * The zero points, the bias, the rounding and the output offset are all in init_n, so a row's
 * output is one multiply-accumulate, one shift with saturation and a store. Same results as
 * tlg_fully_connected_s8 (checked at compile time: no sum leaves int32).
 *   own_shift      0: every row shifts by `shift` (rows with a smaller shift carry the
 *                  difference in their weights); 1: each row's record has its own (a constant)
 *   weights        int16 rows, two per word, in groups of four rows (the last group the N % 4
 *                  left), each group chunk by chunk (four columns, zeros beyond K), the group's
 *                  rows in turn, a row's chunk as the words (w[4c], w[4c + 2]),
 *                  (w[4c + 1], w[4c + 3]) of tlg_widen_lanes: [N / 4][ceil(K / 4)][4][2] then
 *                  [ceil(K / 4)][N % 4][2]
 *   records        per row {init low word, init high word, M_n} and, with own_shift, its shift
 *   lanes          scratch: 2·ceil(K / 4) words, word aligned
 *   output         int8 [batches, N]; must not overlap input */
TLG_ALWAYS_INLINE void tlg_fc_rows_s8(int32_t batches, int32_t accum_depth, int32_t output_depth,
                                      int32_t input_shift, int32_t own_shift, int32_t shift,
                                      int32_t activation_min, int32_t activation_max,
                                      const int8_t *input, uint32_t *lanes, const int32_t *weights,
                                      const int32_t *records, int8_t *output)
{
    const int32_t chunks = (accum_depth + 3) / 4;
    const int32_t words = own_shift ? 4 : 3;
    for (int32_t b = 0; b < batches; b++) {
        int8_t *y = output + b * output_depth;
        tlg_widen_lanes(input + b * accum_depth, accum_depth, input_shift, lanes);
        /* Four rows per pass share each load of the input; the rest in one pass (a constant
         * count in generated code, so that only its own row count is compiled). */
        int32_t n = 0;
        for (; n + 3 < output_depth; n += 4)
            tlg_fc_rows_group(4, chunks, own_shift, shift, activation_min, activation_max, lanes,
                              weights + 2 * n * chunks, records + words * n, y + n);
        if (output_depth & 3)
            tlg_fc_rows_group(output_depth & 3, chunks, own_shift, shift, activation_min,
                              activation_max, lanes, weights + 2 * n * chunks,
                              records + words * n, y + n);
    }
}

#endif
