/* Op codes of the test-case streams (case_io.h), the same numbers as `CaseOp` in
 * test/support/kernel-cases.ts. Each driver implements the ops it can run; the payload layouts
 * are written down once, in kernel-cases.ts (each case's `encode`). */
#ifndef CASE_OPS_H
#define CASE_OPS_H

enum case_op {
    CASE_END = 0,
    CASE_REQUANTIZE_VALUES = 1,
    CASE_FULLY_CONNECTED = 2,
    CASE_MATMUL = 3,
    CASE_ADD = 4,
    CASE_MUL = 5,
    CASE_REQUANTIZE = 6,
    CASE_LUT = 7,
    CASE_SOFTMAX = 8,
    CASE_COPY = 9,
    CASE_CONCAT = 10,
    CASE_ACTIVATION_S16 = 11,
    CASE_LSTM = 12,
    CASE_PRODUCTS = 13,
    CASE_HIGH_MULTIPLY = 14
};

#endif
