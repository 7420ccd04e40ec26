#include "tlg_print.h"

#include "tlg_board.h"

static const char hex_digits[] = "0123456789abcdef";

void tlg_print_str(const char *text)
{
    size_t n = 0;
    while (text[n] != '\0')
        n++;
    tlg_board_write(text, n);
}

void tlg_print_char(char c) { tlg_board_write(&c, 1); }

void tlg_print_u64(uint64_t value)
{
    char digits[20]; /* UINT64_MAX has 20 */
    size_t first = sizeof digits;
    do {
        digits[--first] = (char)('0' + (unsigned)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    tlg_board_write(digits + first, sizeof digits - first);
}

void tlg_print_i64(int64_t value)
{
    if (value < 0) {
        tlg_print_char('-');
        /* Negating in unsigned arithmetic also covers INT64_MIN. */
        tlg_print_u64(0u - (uint64_t)value);
    } else {
        tlg_print_u64((uint64_t)value);
    }
}

void tlg_print_hex32(uint32_t value)
{
    char text[10] = {'0', 'x'};
    for (int i = 9; i >= 2; i--) {
        text[i] = hex_digits[value & 0xFu];
        value >>= 4;
    }
    tlg_board_write(text, sizeof text);
}

void tlg_print_hex_bytes(const void *data, size_t n)
{
    const uint8_t *bytes = (const uint8_t *)data;
    for (size_t i = 0; i < n; i++) {
        char pair[2] = {hex_digits[bytes[i] >> 4], hex_digits[bytes[i] & 0xFu]};
        tlg_board_write(pair, sizeof pair);
    }
}
