/* Board support interface of tinylstm-gen firmware.
 *
 * Each board in firmware/boards/<name>/ implements these functions; the generated test
 * application and runtime use nothing else from the board. No vendor HAL, no malloc.
 */
#ifndef TLG_BOARD_H
#define TLG_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Power, clocks, caches, the UART and the cost counter. Called once, first thing in main. */
void tlg_board_init(void);

/* Blocking write of n bytes to the console UART. */
void tlg_board_write(const char *data, size_t n);

/* The cost counter: CPU cycles (DWT CYCCNT) on a real board, SysTick ticks on an emulator
 * whose SysTick advances with executed instructions (QEMU -icount). 64 bits: never wraps
 * within a run. The unit is named by tlg_board_cost_unit(). */
uint64_t tlg_board_cost_now(void);
const char *tlg_board_cost_unit(void);

/* Ends the program: exit code to the emulator (semihosting) or, on a real board, an
 * endless low-power wait after the UART has drained. */
void tlg_board_exit(int code) __attribute__((noreturn));

#endif
