/* Test-case streams: see case_io.h. */
#include "case_io.h"

#include <stddef.h>
#include <string.h>

#ifndef CASE_POOL_BYTES
#define CASE_POOL_BYTES (1 << 20)
#endif

#define IO_BUFFER_BYTES 4096

/* One pool per element type: no object is accessed through a pointer of another type. */
static int8_t pool_s8[CASE_POOL_BYTES];
static int16_t pool_s16[CASE_POOL_BYTES / 4];
static uint16_t pool_u16[1024];
static int32_t pool_s32[CASE_POOL_BYTES / 8];
static size_t used_s8, used_s16, used_u16, used_s32;

static unsigned char in_buffer[IO_BUFFER_BYTES];
static size_t in_length, in_position;
static unsigned char out_buffer[IO_BUFFER_BYTES];
static size_t out_length;

#if defined(__arm__)
/* Arm semihosting (AArch32): operation in r0, parameter block in r1, trap with BKPT 0xAB. */
#include "tlg_board.h"

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE0 0x04u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define OPEN_READ_BINARY 1u
#define OPEN_WRITE_BINARY 5u

static int32_t in_handle = -1, out_handle = -1;

static int32_t semihosting(uint32_t operation, const void *block)
{
    register uint32_t r0 __asm__("r0") = operation;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static int32_t open_file(const char *name, uint32_t mode)
{
    const uint32_t block[3] = {(uint32_t)(uintptr_t)name, mode, (uint32_t)strlen(name)};
    return semihosting(SYS_OPEN, block);
}

/* Bytes read; SYS_READ returns how many were not. */
static size_t read_bytes(void *data, size_t n)
{
    const uint32_t block[3] = {(uint32_t)in_handle, (uint32_t)(uintptr_t)data, (uint32_t)n};
    return n - (size_t)semihosting(SYS_READ, block);
}

static int write_bytes(const void *data, size_t n)
{
    const uint32_t block[3] = {(uint32_t)out_handle, (uint32_t)(uintptr_t)data, (uint32_t)n};
    return semihosting(SYS_WRITE, block) == 0;
}

int case_io_open(void)
{
    in_handle = open_file("cases.bin", OPEN_READ_BINARY);
    out_handle = open_file("results.bin", OPEN_WRITE_BINARY);
    return in_handle >= 0 && out_handle >= 0;
}

static void close_files(void)
{
    const uint32_t in_block[1] = {(uint32_t)in_handle};
    const uint32_t out_block[1] = {(uint32_t)out_handle};
    (void)semihosting(SYS_CLOSE, in_block);
    (void)semihosting(SYS_CLOSE, out_block);
}

void case_fail(const char *message)
{
    (void)semihosting(SYS_WRITE0, "case driver: ");
    (void)semihosting(SYS_WRITE0, message);
    (void)semihosting(SYS_WRITE0, "\n");
    tlg_board_exit(2);
}
#else
#include <stdio.h>
#include <stdlib.h>

static size_t read_bytes(void *data, size_t n) { return fread(data, 1, n, stdin); }

static int write_bytes(const void *data, size_t n) { return fwrite(data, 1, n, stdout) == n; }

int case_io_open(void) { return 1; }

static void close_files(void) { fflush(stdout); }

void case_fail(const char *message)
{
    fprintf(stderr, "case driver: %s\n", message);
    exit(2);
}
#endif

static void read_exactly(void *data, size_t n)
{
    unsigned char *dst = (unsigned char *)data;
    while (n > 0) {
        if (in_position == in_length) {
            in_length = read_bytes(in_buffer, sizeof in_buffer);
            in_position = 0;
            if (in_length == 0)
                case_fail("the case stream ends in the middle of a case");
        }
        size_t chunk = in_length - in_position;
        if (chunk > n)
            chunk = n;
        memcpy(dst, in_buffer + in_position, chunk);
        in_position += chunk;
        dst += chunk;
        n -= chunk;
    }
}

static void flush_output(void)
{
    if (out_length > 0 && !write_bytes(out_buffer, out_length))
        case_fail("cannot write the results");
    out_length = 0;
}

static void write_all(const void *data, size_t n)
{
    const unsigned char *src = (const unsigned char *)data;
    while (n > 0) {
        if (out_length == sizeof out_buffer)
            flush_output();
        size_t chunk = sizeof out_buffer - out_length;
        if (chunk > n)
            chunk = n;
        memcpy(out_buffer + out_length, src, chunk);
        out_length += chunk;
        src += chunk;
        n -= chunk;
    }
}

void case_io_close(void)
{
    flush_output();
    close_files();
}

int32_t case_i32(void)
{
    int32_t value;
    read_exactly(&value, sizeof value);
    return value;
}

int32_t case_begin(void)
{
    used_s8 = used_s16 = used_u16 = used_s32 = 0;
    const int32_t op = case_i32();
    if (op != 0)
        (void)case_i32(); /* payload length: the op's reader knows the layout */
    return op;
}

/* Takes count elements from a pool, failing when it is full. */
#define TAKE(pool, used, count)                                                                    \
    do {                                                                                           \
        if ((count) < 0 || (size_t)(count) > sizeof(pool) / sizeof((pool)[0]) - (used))            \
            case_fail("a case does not fit the pool " #pool);                                      \
        (used) += (size_t)(count);                                                                 \
    } while (0)

static void skip_padding(size_t bytes)
{
    unsigned char pad[3];
    if (bytes % 4u != 0u)
        read_exactly(pad, 4u - bytes % 4u);
}

int8_t *case_out_s8(int32_t count)
{
    TAKE(pool_s8, used_s8, count);
    return pool_s8 + used_s8 - (size_t)count;
}

int16_t *case_out_s16(int32_t count)
{
    TAKE(pool_s16, used_s16, count);
    return pool_s16 + used_s16 - (size_t)count;
}

int32_t *case_out_s32(int32_t count)
{
    TAKE(pool_s32, used_s32, count);
    return pool_s32 + used_s32 - (size_t)count;
}

int8_t *case_s8(int32_t *count)
{
    const int32_t n = case_i32();
    int8_t *data = case_out_s8(n);
    read_exactly(data, (size_t)n);
    skip_padding((size_t)n);
    if (count != NULL)
        *count = n;
    return data;
}

int16_t *case_s16(int32_t *count)
{
    const int32_t n = case_i32();
    int16_t *data = case_out_s16(n);
    read_exactly(data, (size_t)n * 2u);
    skip_padding((size_t)n * 2u);
    if (count != NULL)
        *count = n;
    return data;
}

uint16_t *case_u16(int32_t *count)
{
    const int32_t n = case_i32();
    TAKE(pool_u16, used_u16, n);
    uint16_t *data = pool_u16 + used_u16 - (size_t)n;
    read_exactly(data, (size_t)n * 2u);
    skip_padding((size_t)n * 2u);
    if (count != NULL)
        *count = n;
    return data;
}

int32_t *case_s32(int32_t *count)
{
    const int32_t n = case_i32();
    int32_t *data = case_out_s32(n);
    read_exactly(data, (size_t)n * 4u);
    if (count != NULL)
        *count = n;
    return data;
}

void case_result(const void *data, int32_t bytes)
{
    write_all(&bytes, sizeof bytes);
    write_all(data, (size_t)bytes);
}
