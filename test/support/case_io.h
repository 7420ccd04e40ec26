/* Test-case streams of the kernel test drivers (kernels_driver.c, cmsis_nn_driver.c).
 *
 * Input: cases, each an int32 op code, an int32 payload length in bytes and the payload; op
 * code 0 ends the stream. A payload is a sequence of int32 scalars and arrays; an array is its
 * int32 element count and its elements, padded with zeros to a multiple of 4 bytes. Output: per
 * case, each of its results as an int32 length in bytes and the bytes. All little-endian (both
 * the host and the Cortex-M7 are). test/support/case-stream.ts writes and reads the same format.
 *
 * On the host the streams are stdin and stdout; on Arm (QEMU) they are the files cases.bin and
 * results.bin in QEMU's working directory, through semihosting. Arrays are copied into typed
 * pools that start empty with each case, so every pointer handed to a kernel is aligned for
 * its type.
 */
#ifndef CASE_IO_H
#define CASE_IO_H

#include <stdint.h>

int case_io_open(void);
void case_io_close(void);

/* The next case's op code (0 at the end); also empties the pools. */
int32_t case_begin(void);
int32_t case_i32(void);
/* An array from the case; its element count goes to *count when count is not NULL. */
int8_t *case_s8(int32_t *count);
int16_t *case_s16(int32_t *count);
uint16_t *case_u16(int32_t *count);
int32_t *case_s32(int32_t *count);
/* Room for a kernel's output, from the same pools. */
int8_t *case_out_s8(int32_t count);
int16_t *case_out_s16(int32_t count);
int32_t *case_out_s32(int32_t count);
/* Writes one result of the case. */
void case_result(const void *data, int32_t bytes);

/* Ends the driver with a message: the pools or a buffer are too small, or an unknown op. */
void case_fail(const char *message);

#endif
