/* The int8 LSTM step with CMSIS-NN's arithmetic (arm_nn_lstm_step_s8: int16 gates at 2^-12,
 * Q0.15 activations, int16 cell state) and its int16 sigmoid/tanh (arm_nn_activation_s16), on
 * weights, biases, requantizations and activation segments prepared at compile time (see
 * tlg_kernels.h and src/emit/kernels/lstm-layout.ts).
 *
 * The step widens one sequence's input and hidden state to int16 once, then walks the hidden
 * units: the four gate rows of a unit against both vectors (SMLAD on two words loaded at once,
 * the input and hidden parts in their own accumulators since they requantize apart), the gate
 * activations, the cell and the hidden state, all before the next unit. tlg_lstm_step_s8 reads
 * weights widened to int16 at compile time; tlg_lstm_step_compact_s8 reads them as int8, in
 * half the flash, and widens them in registers (SXTB16). */
#include "tlg_kernels.h"

#include <stddef.h>

#if defined(__ARM_FEATURE_SAT) || defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

#if defined(__ARM_FEATURE_DSP)
typedef struct {
    uint32_t v[2];
} tlg_u32x2;

/* LDRD: the two words at base + index (index counted in elements of base), from a
 * word-aligned address. GCC splits the 64-bit loads of C into single loads that it schedules
 * apart, so the load is written out. */
#define TLG_LDRD(lo, hi, base, index)                                                          \
    __asm__("ldrd %0, %1, [%2, %3]"                                                            \
            : "=r"(lo), "=r"(hi)                                                               \
            : "r"(base), "i"(sizeof(*(base)) * (index)),                                      \
              "m"(*(const tlg_u32x2 *)((base) + (index))))

#endif

#define Q15_MIN (-32768)
#define Q15_MAX 32767

/* The step's helpers are inlined into its unit loop even where GCC would not by itself (the
 * loop is long): a call per unit costs its arguments and accumulators on the stack. */
#if defined(__GNUC__)
#define TLG_INLINE __attribute__((always_inline)) static inline
#else
#define TLG_INLINE static inline
#endif

/* requantize() of tlg_fixed_point.h with the constants of a tlg_fast_requant. */
static inline int32_t requantize_fast(int32_t value, const tlg_fast_requant *p)
{
    const tlg_fast_requant r = *p;
    const int64_t product = r.rounding + (int64_t)value * r.low;
    const uint32_t high = (uint32_t)((uint64_t)product >> 32) + (uint32_t)value * (uint32_t)r.high;
    return (int32_t)high >> r.right_shift;
}

/* requantize_fast for a factor below 1/2 (high = 0): what the cell update's requantizations
 * are (tlg_lstm_cell_params). */
static inline int32_t requantize_small(int32_t value, const tlg_fast_requant *p)
{
    const int64_t product = p->rounding + (int64_t)value * p->low;
    return (int32_t)(uint32_t)((uint64_t)product >> 32) >> p->right_shift;
}

static inline int32_t clamp(int32_t value, int32_t min, int32_t max)
{
    return value < min ? min : value > max ? max : value;
}

/* clamp to int16 and to int8: one SSAT on a core that has it. */
static inline int32_t sat16(int32_t value)
{
#if defined(__ARM_FEATURE_SAT)
    return __ssat(value, 16);
#else
    return clamp(value, Q15_MIN, Q15_MAX);
#endif
}

static inline int32_t sat8(int32_t value)
{
#if defined(__ARM_FEATURE_SAT)
    return __ssat(value, 8);
#else
    return clamp(value, -128, 127);
#endif
}

/* value + offset wrapped to int32, as CMSIS-NN's int32 additions. */
static inline int32_t add_wrap(int32_t value, int32_t offset)
{
    return (int32_t)((uint32_t)value + (uint32_t)offset);
}

/* The segment of an input magnitude, k = magnitude >> shift capped at 255 (the saturated
 * segment): its base and slope. */
static inline tlg_activation_segment segment(const tlg_activation_segment *segments,
                                             uint32_t magnitude,
                                             int shift)
{
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT)
    const tlg_activation_segment *const p = segments + __usat((int32_t)(magnitude >> shift), 8);
    tlg_activation_segment s;
    TLG_LDRD(s.base, s.slope, p, 0);
    return s;
#else
    const uint32_t k = magnitude >> shift;
    return segments[k < 255u ? k : 255u];
#endif
}

/* arm_nn_activation_s16 of an already scaled input. The C there computes the interpolation r
 * in uint32 and keeps the low 16 bits of (r + 2^9) >> 10 (sigmoid) or (r - 2^23 + 2^7) >> 8
 * (tanh) for inputs >= 0, and of (2^25 - r + 2^9 - 1) >> 10 or (2^23 - r + 2^7 - 1) >> 8 for
 * negative ones: those are 2^15 minus, and minus, the former, exactly. The segments carry the
 * first rounding; the low 16 bits do not depend on the kind of shift. */
static inline int32_t sigmoid_scaled(int32_t input, const tlg_activation_segment *segments)
{
    const uint32_t magnitude = input < 0 ? 0u - (uint32_t)input : (uint32_t)input;
    const tlg_activation_segment s = segment(segments, magnitude, 9);
    const int32_t value = (s.base + (int32_t)(magnitude & 0x1FFu) * s.slope) >> 10;
    return (int16_t)(input < 0 ? 32768 - value : value);
}

static inline int32_t tanh_scaled(int32_t input, const tlg_activation_segment *segments)
{
    const uint32_t magnitude = input < 0 ? 0u - (uint32_t)input : (uint32_t)input;
    const tlg_activation_segment s = segment(segments, magnitude, 8);
    const int32_t value = (s.base + (int32_t)(magnitude & 0xFFu) * s.slope) >> 8;
    return (int16_t)(input < 0 ? -value : value);
}

static inline int32_t scale_input(int32_t value, const tlg_activation_scale *scale)
{
    return (value * scale->multiplier + scale->rounding) >> scale->shift;
}

void tlg_activation_s16(const tlg_activation_scale *scale,
                        tlg_activation type,
                        const tlg_activation_segment *segments,
                        int32_t size,
                        const int16_t *input,
                        int16_t *output)
{
    for (int32_t i = 0; i < size; i++) {
        const int32_t x = scale_input(input[i], scale);
        output[i] = (int16_t)(type == TLG_SIGMOID ? sigmoid_scaled(x, segments)
                                                  : tanh_scaled(x, segments));
    }
}

/* The cell and hidden state of one unit from its four gate pre-activations (left shift 0:
 * the activation's input is 3 x): the forget term saturated first (arm_elementwise_mul_s16),
 * the input term added and clipped (arm_elementwise_mul_acc_s16), then o * tanh(c) to int8
 * (arm_elementwise_mul_s16_s8). */
TLG_INLINE void update_unit(const tlg_lstm_cell_params *p,
                            int32_t f_in,
                            int32_t i_in,
                            int32_t g_in,
                            int32_t o_in,
                            const int16_t *cell_in,
                            int16_t *cell_out,
                            int8_t *hidden_out)
{
    const int32_t forget = sigmoid_scaled(3 * f_in, p->sigmoid);
    const int32_t input = sigmoid_scaled(3 * i_in, p->sigmoid);
    const int32_t cell_gate = tanh_scaled(3 * g_in, p->tanh);
    const int32_t output = sigmoid_scaled(3 * o_in, p->sigmoid);

    const int32_t kept = sat16(requantize_small(forget * *cell_in, &p->forget_to_cell));
    const int32_t added = requantize_small(input * cell_gate, &p->input_to_cell);
    const int32_t cell = clamp(add_wrap(added, kept), p->cell_min, p->cell_max);
    *cell_out = (int16_t)cell;

    const int32_t t = tanh_scaled(scale_input(cell, &p->cell_scale), p->tanh);
    const int32_t value = requantize_small(output * t, &p->output);
    *hidden_out = (int8_t)sat8(add_wrap(value, p->output_offset));
}

void tlg_lstm_update_s16(const tlg_lstm_cell_params *params,
                         int32_t size,
                         int32_t unit_stride,
                         int32_t gate_stride,
                         const int16_t *gates,
                         const int16_t *cell_in,
                         int16_t *cell_out,
                         int8_t *hidden_out)
{
    for (int32_t j = 0; j < size; j++) {
        const int16_t *g = gates + (size_t)j * (size_t)unit_stride;
        update_unit(params, g[0], g[gate_stride], g[2 * gate_stride], g[3 * gate_stride],
                    cell_in + j, cell_out + j, hidden_out + j);
    }
}

/* ---- The gate products --------------------------------------------------------------------- */

/* acc[k] += the four gate rows of one unit (interleaved by four columns: 16 int16 per chunk)
 * times the widened vector v (4 int16 per chunk), over `chunks` chunks. Sums wrap modulo 2^32
 * as CMSIS-NN's int32 accumulators do. */
#if defined(__ARM_FEATURE_DSP)
/* Chunk `c` after v and w: one LDRD of the vector, one per gate row, two SMLAD per row. */
#define TLG_CHUNK(c)                                                                           \
    do {                                                                                       \
        uint32_t x0, x1, w0, w1;                                                               \
        TLG_LDRD(x0, x1, v, 4 * (c));                                                          \
        TLG_LDRD(w0, w1, w, 16 * (c));                                                         \
        a0 = (int32_t)__smlad(w1, x1, (int32_t)__smlad(w0, x0, a0));                           \
        TLG_LDRD(w0, w1, w, 16 * (c) + 4);                                                     \
        a1 = (int32_t)__smlad(w1, x1, (int32_t)__smlad(w0, x0, a1));                           \
        TLG_LDRD(w0, w1, w, 16 * (c) + 8);                                                     \
        a2 = (int32_t)__smlad(w1, x1, (int32_t)__smlad(w0, x0, a2));                           \
        TLG_LDRD(w0, w1, w, 16 * (c) + 12);                                                    \
        a3 = (int32_t)__smlad(w1, x1, (int32_t)__smlad(w0, x0, a3));                           \
    } while (0)

/* The chunk loop of both weight layouts: eight chunks per iteration, then four, then one;
 * `CHUNK` (TLG_CHUNK or TLG_CHUNK8) advances a0..a3 by chunk c after v and w. */
#define TLG_GATE_PRODUCTS(CHUNK)                                                               \
    do {                                                                                       \
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                            \
        const int16_t *const end8 = v + 4 * (chunks & ~7);                                     \
        const int16_t *const end = v + 4 * chunks;                                             \
        while (v != end8) {                                                                    \
            CHUNK(0);                                                                          \
            CHUNK(1);                                                                          \
            CHUNK(2);                                                                          \
            CHUNK(3);                                                                          \
            CHUNK(4);                                                                          \
            CHUNK(5);                                                                          \
            CHUNK(6);                                                                          \
            CHUNK(7);                                                                          \
            v += 32;                                                                           \
            w += 128;                                                                          \
        }                                                                                      \
        if (chunks & 4) {                                                                      \
            CHUNK(0);                                                                          \
            CHUNK(1);                                                                          \
            CHUNK(2);                                                                          \
            CHUNK(3);                                                                          \
            v += 16;                                                                           \
            w += 64;                                                                           \
        }                                                                                      \
        while (v != end) {                                                                     \
            CHUNK(0);                                                                          \
            v += 4;                                                                            \
            w += 16;                                                                           \
        }                                                                                      \
        acc[0] = a0;                                                                           \
        acc[1] = a1;                                                                           \
        acc[2] = a2;                                                                           \
        acc[3] = a3;                                                                           \
    } while (0)

TLG_INLINE void gate_products(const int16_t *v, const int16_t *w, int32_t chunks, int32_t acc[4])
{
    TLG_GATE_PRODUCTS(TLG_CHUNK);
}
#else
static inline void gate_products(const int16_t *v, const int16_t *w, int32_t chunks, int32_t acc[4])
{
    uint32_t sum[4] = {(uint32_t)acc[0], (uint32_t)acc[1], (uint32_t)acc[2], (uint32_t)acc[3]};
    for (int32_t c = 0; c < chunks; c++, v += 4, w += 16)
        for (int32_t k = 0; k < 4; k++)
            for (int32_t e = 0; e < 4; e++)
                sum[k] += (uint32_t)((int32_t)w[4 * k + e] * v[e]);
    for (int32_t k = 0; k < 4; k++)
        acc[k] = (int32_t)sum[k];
}
#endif

/* gate_products on the compact layout: each gate's four columns of a chunk as one word of int8,
 * stored in the column order 0, 2, 1, 3 (16 bytes per chunk). */
#if defined(__ARM_FEATURE_DSP)
/* SXTB16 of the word rotated right by 8: bytes 1 and 3 into two int16 lanes. GCC does not
 * fold the rotation into the instruction by itself, so it is written out. */
static inline uint32_t sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}

/* Chunk `c` after v and w: one LDRD of the vector, one per two gates; SXTB16 gives columns 0
 * and 1 of a gate's word, SXTB16 of the word rotated by 8 columns 2 and 3. */
#define TLG_CHUNK8(c)                                                                          \
    do {                                                                                       \
        uint32_t x0, x1, w0, w1;                                                               \
        TLG_LDRD(x0, x1, v, 4 * (c));                                                          \
        TLG_LDRD(w0, w1, w, 16 * (c));                                                         \
        a0 = (int32_t)__smlad(sxtb16_ror8(w0), x1, (int32_t)__smlad(__sxtb16(w0), x0, a0));   \
        a1 = (int32_t)__smlad(sxtb16_ror8(w1), x1, (int32_t)__smlad(__sxtb16(w1), x0, a1));   \
        TLG_LDRD(w0, w1, w, 16 * (c) + 8);                                                     \
        a2 = (int32_t)__smlad(sxtb16_ror8(w0), x1, (int32_t)__smlad(__sxtb16(w0), x0, a2));   \
        a3 = (int32_t)__smlad(sxtb16_ror8(w1), x1, (int32_t)__smlad(__sxtb16(w1), x0, a3));   \
    } while (0)

TLG_INLINE void gate_products_s8(const int16_t *v, const int8_t *w, int32_t chunks, int32_t acc[4])
{
    TLG_GATE_PRODUCTS(TLG_CHUNK8);
}
#else
static inline void gate_products_s8(const int16_t *v, const int8_t *w, int32_t chunks, int32_t acc[4])
{
    static const int32_t column[4] = {0, 2, 1, 3};
    uint32_t sum[4] = {(uint32_t)acc[0], (uint32_t)acc[1], (uint32_t)acc[2], (uint32_t)acc[3]};
    for (int32_t c = 0; c < chunks; c++, v += 4, w += 16)
        for (int32_t k = 0; k < 4; k++)
            for (int32_t e = 0; e < 4; e++)
                sum[k] += (uint32_t)((int32_t)w[4 * k + column[e]] * v[e]);
    for (int32_t k = 0; k < 4; k++)
        acc[k] = (int32_t)sum[k];
}
#endif

/* int8 to int16, zeros up to a multiple of 4. */
static void widen(const int8_t *x, int32_t size, int16_t *out)
{
    int32_t i = 0;
    for (; i < size; i++)
        out[i] = x[i];
    for (; i % 4 != 0; i++)
        out[i] = 0;
}

/* A gate's input part: its accumulator requantized and saturated as the first
 * arm_nn_vec_mat_mul_result_acc_s8_s16 call leaves it. */
static inline int32_t input_part(int32_t acc, const tlg_fast_requant *r)
{
    return sat16(requantize_fast(acc, r));
}

/* Two saturated int16 values in one word, so that the input parts of the four gates stay in
 * two registers while the hidden parts accumulate. */
static inline uint32_t pack16(int32_t low, int32_t high)
{
    return ((uint32_t)low & 0xFFFFu) | ((uint32_t)high << 16);
}

static inline int32_t low16(uint32_t pair)
{
    return (int16_t)(pair & 0xFFFFu);
}

static inline int32_t high16(uint32_t pair)
{
    return (int32_t)pair >> 16;
}

/* The gate's pre-activation: the hidden part requantized and added to the input part, then
 * saturated, as the second call does. */
static inline int32_t gate_input(int32_t acc_h, const tlg_fast_requant *r, int32_t input_part)
{
    return sat16(add_wrap(requantize_fast(acc_h, r), input_part));
}

/* The step of both layouts: `compact` (a constant where it is inlined) picks the gate products
 * and the weights' element size. */
TLG_INLINE void lstm_step(const tlg_lstm_params *params,
                          const int8_t *input,
                          const int8_t *hidden_in,
                          const int16_t *cell_in,
                          int8_t *hidden_out,
                          int16_t *cell_out,
                          int16_t *scratch,
                          int compact)
{
    const int32_t in_size = params->input_size;
    const int32_t hid_size = params->hidden_size;
    const int32_t in_chunks = (in_size + 3) / 4;
    const int32_t hid_chunks = (hid_size + 3) / 4;
    int16_t *const x16 = scratch;
    int16_t *const h16 = scratch + 4 * in_chunks;
    const tlg_fast_requant *const rx = params->input_requant;
    const tlg_fast_requant *const rh = params->hidden_requant;
    /* Bytes of a weight: a unit's weights take 16 per chunk of each side. */
    const size_t element = compact ? 1 : 2;

    for (int32_t b = 0; b < params->batch_size; b++) {
        const size_t base = (size_t)b * (size_t)hid_size;
        widen(input + (size_t)b * (size_t)in_size, in_size, x16);
        widen(hidden_in + base, hid_size, h16);
        const uint8_t *wx = params->input_weights;
        const uint8_t *wh = params->hidden_weights;
        const int32_t *bias = params->biases;
        for (int32_t j = 0; j < hid_size; j++) {
            int32_t acc[4] = {bias[0], bias[1], bias[2], bias[3]};
            if (compact)
                gate_products_s8(x16, (const int8_t *)wx, in_chunks, acc);
            else
                gate_products(x16, (const int16_t *)(const void *)wx, in_chunks, acc);
            const uint32_t fi = pack16(input_part(acc[0], &rx[0]), input_part(acc[1], &rx[1]));
            const uint32_t go = pack16(input_part(acc[2], &rx[2]), input_part(acc[3], &rx[3]));
            acc[0] = bias[4];
            acc[1] = bias[5];
            acc[2] = bias[6];
            acc[3] = bias[7];
            if (compact)
                gate_products_s8(h16, (const int8_t *)wh, hid_chunks, acc);
            else
                gate_products(h16, (const int16_t *)(const void *)wh, hid_chunks, acc);
            wx += element * 16 * (size_t)in_chunks;
            wh += element * 16 * (size_t)hid_chunks;
            bias += 8;
            update_unit(&params->cell, gate_input(acc[0], &rh[0], low16(fi)),
                        gate_input(acc[1], &rh[1], high16(fi)), gate_input(acc[2], &rh[2], low16(go)),
                        gate_input(acc[3], &rh[3], high16(go)), cell_in + base + j,
                        cell_out + base + j, hidden_out + base + j);
        }
    }
}

void tlg_lstm_step_s8(const tlg_lstm_params *params,
                      const int8_t *input,
                      const int8_t *hidden_in,
                      const int16_t *cell_in,
                      int8_t *hidden_out,
                      int16_t *cell_out,
                      int16_t *scratch)
{
    lstm_step(params, input, hidden_in, cell_in, hidden_out, cell_out, scratch, 0);
}

/* GCC's instruction scheduling before register allocation hoists the next chunks' loads over
 * the SXTB16s and runs out of registers: the inner loop then spills, 23 instead of 19.5
 * instructions per chunk on the Cortex-M7 (GCC 12). The step is compiled without it. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-schedule-insns")))
#endif
void tlg_lstm_step_compact_s8(const tlg_lstm_params *params,
                              const int8_t *input,
                              const int8_t *hidden_in,
                              const int16_t *cell_in,
                              int8_t *hidden_out,
                              int16_t *cell_out,
                              int16_t *scratch)
{
    lstm_step(params, input, hidden_in, cell_in, hidden_out, cell_out, scratch, 1);
}
