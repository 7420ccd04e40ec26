/* Reset and exception entry shared by the Cortex-M7 boards.
 *
 * Each board's startup.c holds its vector table (its IRQ count differs) and points it at the
 * handlers below; the board's board.c provides the two board hooks.
 */
#ifndef TLG_STARTUP_H
#define TLG_STARTUP_H

#include <stdint.h>

typedef void (*tlg_vector_t)(void);

/* Top of the stack, from the linker script (templates/linker.ld.hbs). */
extern uint32_t __tlg_stack_top[];

/* Enables the FPU, calls tlg_board_early_init, copies initialized data from flash, zeroes
 * .bss, then calls main and passes its result to tlg_board_exit. */
void tlg_reset_handler(void) __attribute__((noreturn));

/* Every fault, NMI and unexpected interrupt: prints
 *   TLG FAULT <exception name> pc=0x<stacked pc> cfsr=0x... hfsr=0x...
 * on the console and ends the program with exit code 3. */
void tlg_fault_handler(void);

/* Board hook, first thing after reset: initialized data and .bss do not exist yet, and on the
 * STM32H7 RAM must not be relied on before the power supply is configured, so this may only
 * touch registers and its own stack frame. */
void tlg_board_early_init(void);

/* Board hook: SysTick exception (the cost counter's wrap count). */
void tlg_board_systick_handler(void);

/* Defines the vector table, placed first in flash by the linker script: the initial stack
 * pointer, the reset handler, SysTick to the board, and every other exception and the board's
 * irq_count interrupts to tlg_fault_handler (the board support enables no interrupt, so one
 * that fires is a fault). Used once, in the board's startup.c. */
#define TLG_VECTOR_TABLE(irq_count)                                                                \
    __attribute__((section(".vectors"), used))                                                     \
    const tlg_vector_t tlg_vectors[16 + (irq_count)] = {                                           \
        [0] = (tlg_vector_t)(uintptr_t)__tlg_stack_top,                                           \
        [1] = tlg_reset_handler,                                                                   \
        [2 ... 6] = tlg_fault_handler, /* NMI, HardFault, MemManage, BusFault, UsageFault */      \
        [11 ... 12] = tlg_fault_handler, /* SVCall, DebugMonitor */                               \
        [14] = tlg_fault_handler,        /* PendSV */                                             \
        [15] = tlg_board_systick_handler,                                                          \
        [16 ... 16 + (irq_count)-1] = tlg_fault_handler,                                           \
    }

/* Exit code of a program that faulted. */
#define TLG_EXIT_FAULT 3

#endif
