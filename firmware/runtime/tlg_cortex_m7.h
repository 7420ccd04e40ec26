/* Cortex-M7 core registers and helpers shared by every board of tinylstm-gen.
 *
 * Only the few System Control Space registers the board support touches, written out here so
 * that no CMSIS-Core header is needed (addresses: ARMv7-M Architecture Reference Manual, System
 * Control Space, and the Cortex-M7 Technical Reference Manual for the cache and DWT parts).
 */
#ifndef TLG_CORTEX_M7_H
#define TLG_CORTEX_M7_H

#include <stdint.h>

#define TLG_REG32(address) (*(volatile uint32_t *)(uintptr_t)(address))

/* System control block. */
#define TLG_SCB_ICSR TLG_REG32(0xE000ED04u)
#define TLG_SCB_CCR TLG_REG32(0xE000ED14u)
#define TLG_SCB_SHCSR TLG_REG32(0xE000ED24u)
#define TLG_SCB_CFSR TLG_REG32(0xE000ED28u)
#define TLG_SCB_HFSR TLG_REG32(0xE000ED2Cu)
#define TLG_SCB_MMFAR TLG_REG32(0xE000ED34u)
#define TLG_SCB_BFAR TLG_REG32(0xE000ED38u)
#define TLG_SCB_CCSIDR TLG_REG32(0xE000ED80u)
#define TLG_SCB_CSSELR TLG_REG32(0xE000ED84u)
#define TLG_SCB_CPACR_ADDRESS 0xE000ED88u
#define TLG_SCB_ICIALLU TLG_REG32(0xE000EF50u)
#define TLG_SCB_DCISW TLG_REG32(0xE000EF60u)

#define TLG_SCB_ICSR_PENDSTSET (1u << 26)
#define TLG_SCB_SHCSR_FAULTS_ENABLE (7u << 16) /* MemManage, BusFault, UsageFault */
#define TLG_SCB_CCR_DC (1u << 16)
#define TLG_SCB_CCR_IC (1u << 17)
/* CP10 and CP11 (the FPU) full access, privileged and unprivileged. */
#define TLG_SCB_CPACR_FPU_FULL (0xFu << 20)

/* SysTick. */
#define TLG_SYST_CSR TLG_REG32(0xE000E010u)
#define TLG_SYST_RVR TLG_REG32(0xE000E014u)
#define TLG_SYST_CVR TLG_REG32(0xE000E018u)

#define TLG_SYST_CSR_ENABLE (1u << 0)
#define TLG_SYST_CSR_TICKINT (1u << 1)
#define TLG_SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define TLG_SYST_RELOAD_MAX 0x00FFFFFFu

/* Debug exception and monitor control, and the data watchpoint and trace unit. */
#define TLG_DEMCR TLG_REG32(0xE000EDFCu)
#define TLG_DWT_CTRL TLG_REG32(0xE0001000u)
#define TLG_DWT_CYCCNT TLG_REG32(0xE0001004u)
#define TLG_DWT_LAR TLG_REG32(0xE0001FB0u)

#define TLG_DEMCR_TRCENA (1u << 24)
#define TLG_DWT_CTRL_CYCCNTENA (1u << 0)
#define TLG_DWT_LAR_UNLOCK 0xC5ACCE55u

static inline void tlg_dsb(void) { __asm__ volatile("dsb 0xF" ::: "memory"); }

static inline void tlg_isb(void) { __asm__ volatile("isb 0xF" ::: "memory"); }

/* Masks interrupts and returns the previous PRIMASK, for tlg_irq_restore. */
static inline uint32_t tlg_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void tlg_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* The I-cache holds nothing valid after reset: invalidate all of it, then switch it on. */
static inline void tlg_icache_enable(void)
{
    tlg_dsb();
    tlg_isb();
    TLG_SCB_ICIALLU = 0u;
    tlg_dsb();
    tlg_isb();
    TLG_SCB_CCR |= TLG_SCB_CCR_IC;
    tlg_dsb();
    tlg_isb();
}

/* The D-cache comes out of reset with random contents: invalidate every line (by set and way,
 * geometry read from CCSIDR) before switching it on, or stale lines would be written back. */
static inline void tlg_dcache_enable(void)
{
    TLG_SCB_CSSELR = 0u; /* level 1 data cache */
    tlg_dsb();
    uint32_t ccsidr = TLG_SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t line_shift = (ccsidr & 0x7u) + 4u;
    uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0u; set < sets; set++)
        for (uint32_t way = 0u; way < ways; way++)
            TLG_SCB_DCISW = (way << way_shift) | (set << line_shift);
    tlg_dsb();
    TLG_SCB_CCR |= TLG_SCB_CCR_DC;
    tlg_dsb();
    tlg_isb();
}

/* The cycle counter needs trace enabled in DEMCR, and on the Cortex-M7 the DWT's software lock
 * opened, or CYCCNT stays at zero. */
static inline void tlg_dwt_cycles_enable(void)
{
    TLG_DEMCR |= TLG_DEMCR_TRCENA;
    TLG_DWT_LAR = TLG_DWT_LAR_UNLOCK;
    TLG_DWT_CYCCNT = 0u;
    TLG_DWT_CTRL |= TLG_DWT_CTRL_CYCCNTENA;
}

/* SysTick on the processor clock, full 24-bit period, interrupting at each wrap. */
static inline void tlg_systick_start_wrapping(void)
{
    TLG_SYST_CSR = 0u;
    TLG_SYST_RVR = TLG_SYST_RELOAD_MAX;
    TLG_SYST_CVR = 0u;
    TLG_SYST_CSR = TLG_SYST_CSR_CLKSOURCE_CPU | TLG_SYST_CSR_TICKINT | TLG_SYST_CSR_ENABLE;
}

#endif
