/* Console printing on top of tlg_board_write: strings, decimal and hex numbers.
 *
 * Small enough that no printf is linked (newlib's pulls in tens of KiB of flash and a heap).
 * Nothing is buffered: each call writes straight to the board UART.
 */
#ifndef TLG_PRINT_H
#define TLG_PRINT_H

#include <stddef.h>
#include <stdint.h>

void tlg_print_str(const char *text);
void tlg_print_char(char c);

/* Decimal; 32-bit values convert implicitly. */
void tlg_print_u64(uint64_t value);
void tlg_print_i64(int64_t value);

/* "0x" and 8 lowercase hex digits. */
void tlg_print_hex32(uint32_t value);

/* Two lowercase hex digits per byte, in memory order, no separator. */
void tlg_print_hex_bytes(const void *data, size_t n);

#endif
