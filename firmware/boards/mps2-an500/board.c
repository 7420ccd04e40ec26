/* Board support of QEMU's mps2-an500 (Cortex-M7): the emulation twin of the STM32H747.
 *
 * Console on the CMSDK APB UART0, exit through Arm semihosting, and a cost counter made of
 * SysTick on the processor clock: under `-icount shift=0` QEMU advances virtual time by 1 ns
 * per executed instruction and the 25 MHz SysTick by one tick per 40 ns, so a tick is a fixed
 * number of instructions (board.json emulator.qemu.instructionsPerTick) and the count is the
 * same on every run. Registers: Arm CMSDK APB UART (Cortex-M System Design Kit TRM) as QEMU
 * models it in hw/char/cmsdk-apb-uart.c; addresses from QEMU's hw/arm/mps2.c.
 */
#include "tlg_board.h"
#include "tlg_cortex_m7.h"
#include "tlg_startup.h"

#if defined(__has_include)
#if __has_include("tlg_board_config.h")
#include "tlg_board_config.h"
#endif
#endif

#if !defined(TLG_CPU_HZ) || !defined(TLG_UART_BASE) || !defined(TLG_UART_BAUD)
#error "TLG_CPU_HZ, TLG_UART_BASE and TLG_UART_BAUD come from board.json (core, uart)"
#endif
#if TLG_UART_BASE != 0x40004000
#error "this board support drives the CMSDK UART0 at 0x40004000; uart.base says otherwise"
#endif

#define UART_DATA TLG_REG32(TLG_UART_BASE + 0x00u)
#define UART_STATE TLG_REG32(TLG_UART_BASE + 0x04u)
#define UART_CTRL TLG_REG32(TLG_UART_BASE + 0x08u)
#define UART_BAUDDIV TLG_REG32(TLG_UART_BASE + 0x10u)
#define UART_STATE_TX_FULL (1u << 0)
#define UART_CTRL_TX_ENABLE (1u << 0)

/* Arm semihosting (AArch32): operation in r0, argument in r1, trap with BKPT 0xAB. */
#define SEMIHOSTING_SYS_EXIT 0x18u
#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR_UNKNOWN 0x20023u

static int console_ready;
static volatile uint32_t systick_wraps;

void tlg_board_early_init(void) {}

void tlg_board_init(void)
{
    /* QEMU ignores the divisor for its own output but warns when it is below 16. */
    UART_BAUDDIV = TLG_CPU_HZ / TLG_UART_BAUD;
    UART_CTRL = UART_CTRL_TX_ENABLE;
    console_ready = 1;

    tlg_systick_start_wrapping();
}

void tlg_board_write(const char *data, size_t n)
{
    /* Before init the UART does not transmit and TX_FULL would never clear. */
    if (!console_ready)
        return;
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = (uint8_t)data[i];
    }
}

void tlg_board_systick_handler(void) { systick_wraps++; }

/* SysTick counts down and pends its exception when it reaches 0, so a period starts at 0 and
 * the ticks into it are (RVR + 1 - CVR) mod 2^24. The wrap count is read on both sides of the
 * counter so that an exception in between is noticed. With interrupts masked a wrap may be
 * pending and not counted yet; the counter then tells whether it was read after that wrap (0 or
 * just reloaded, upper half) or before it. */
uint64_t tlg_board_cost_now(void)
{
    uint32_t wraps, current;
    int pending;
    do {
        wraps = systick_wraps;
        current = TLG_SYST_CVR;
        pending = (TLG_SCB_ICSR & TLG_SCB_ICSR_PENDSTSET) != 0u;
    } while (wraps != systick_wraps);
    if (pending && (current == 0u || current > TLG_SYST_RELOAD_MAX / 2u))
        wraps++;
    return ((uint64_t)wraps << 24) + ((TLG_SYST_RELOAD_MAX + 1u - current) & TLG_SYST_RELOAD_MAX);
}

const char *tlg_board_cost_unit(void) { return "ticks"; }

static uint32_t semihosting_call(uint32_t operation, uint32_t argument)
{
    register uint32_t r0 __asm__("r0") = operation;
    register uint32_t r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* SYS_EXIT on AArch32 only tells success from failure; SYS_EXIT_EXTENDED carries the code. A
 * host without the extension returns from it, and then the plain exit reports a failure. */
void tlg_board_exit(int code)
{
    if (code == 0) {
        (void)semihosting_call(SEMIHOSTING_SYS_EXIT, ADP_STOPPED_APPLICATION_EXIT);
    } else {
        const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
        (void)semihosting_call(SEMIHOSTING_SYS_EXIT_EXTENDED, (uint32_t)(uintptr_t)block);
        (void)semihosting_call(SEMIHOSTING_SYS_EXIT, ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
    }
    for (;;)
        __asm__ volatile("wfi");
}
