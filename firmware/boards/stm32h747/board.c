/* Board support of the STM32H747's Cortex-M7 core: power, clocks, caches, USART1, DWT cycles.
 *
 * Used by the boards "stm32h747" (LDO supply, 480 MHz from the HSI) and "stm32h747i-disco"
 * (direct SMPS, 400 MHz from a 25 MHz HSE). Everything that differs comes from macros that the
 * generated tlg_board_config.h defines from board.json (list: firmware/boards/README.md);
 * a missing or inconsistent value stops the build here instead of misconfiguring a device.
 *
 * Register addresses and bit positions: RM0399 (STM32H745/755/747/757 reference manual); the
 * order of the steps follows what ST's own examples for these parts do (STM32CubeH7
 * SystemClock_Config of the STM32H747I-DISCO and of PWR_VOS0_480MHZ). The Cortex-M4 core is
 * left alone: with nothing in flash bank 2 it stops in a fault loop, which does not affect
 * the Cortex-M7 or USART1.
 */
#include "tlg_board.h"
#include "tlg_cortex_m7.h"
#include "tlg_print.h"
#include "tlg_startup.h"

#if defined(__has_include)
#if __has_include("tlg_board_config.h")
#include "tlg_board_config.h"
#endif
#endif

/* ---- Configuration checks: each rule of the data sheet the values must satisfy. ---- */

/* A wrong supply setting cuts the core's supply on a real board and locks it until it is
 * recovered through the boot pin, so there is no default. */
#if defined(TLG_POWER_LDO) == defined(TLG_POWER_SMPS)
#error "define exactly one of TLG_POWER_LDO and TLG_POWER_SMPS (board.json power.supply)"
#endif
#if !defined(TLG_CPU_HZ) || !defined(TLG_UART_BASE) || !defined(TLG_UART_BAUD)
#error "TLG_CPU_HZ, TLG_UART_BASE and TLG_UART_BAUD come from board.json (core, uart)"
#endif
#if TLG_UART_BASE != 0x40011000
#error "this board support drives USART1 (0x40011000) on PA9/PA10; uart.base says otherwise"
#endif
#if defined(TLG_CLK_SOURCE_HSI) == defined(TLG_CLK_SOURCE_HSE)
#error "define exactly one of TLG_CLK_SOURCE_HSI and TLG_CLK_SOURCE_HSE (board.json clock.source)"
#endif
#if !defined(TLG_CLK_SOURCE_HZ) || !defined(TLG_CLK_VOS) || !defined(TLG_CLK_PLL1_M) ||          \
    !defined(TLG_CLK_PLL1_N) || !defined(TLG_CLK_PLL1_P) || !defined(TLG_CLK_PLL1_Q) ||            \
    !defined(TLG_CLK_PLL1_R) || !defined(TLG_CLK_D1CPRE) || !defined(TLG_CLK_HPRE) ||              \
    !defined(TLG_CLK_D1PPRE) || !defined(TLG_CLK_D2PPRE1) || !defined(TLG_CLK_D2PPRE2) ||          \
    !defined(TLG_CLK_D3PPRE) || !defined(TLG_CLK_FLASH_LATENCY) ||                                 \
    !defined(TLG_CLK_FLASH_WRHIGHFREQ)
#error "a TLG_CLK_* macro is missing (board.json clock; list in firmware/boards/README.md)"
#endif
#if defined(TLG_CLK_SOURCE_HSI) && TLG_CLK_SOURCE_HZ != 64000000
#error "the HSI runs at 64 MHz after reset (HSIDIV = 1)"
#endif
#if defined(TLG_CLK_SOURCE_HSE) && !defined(TLG_CLK_HSE_BYPASS)
#error "TLG_CLK_HSE_BYPASS (0: crystal, 1: external clock) is needed with the HSE"
#endif
#if TLG_CLK_VOS != 0 && TLG_CLK_VOS != 1
#error "TLG_CLK_VOS is 0 (up to 480 MHz) or 1 (up to 400 MHz)"
#endif
#if TLG_CLK_VOS == 0 && !defined(TLG_POWER_LDO)
#error "VOS0 (overdrive) needs the LDO supply; with the SMPS use VOS1 and at most 400 MHz"
#endif

#define REF_HZ (TLG_CLK_SOURCE_HZ / TLG_CLK_PLL1_M)
#define VCO_HZ (TLG_CLK_SOURCE_HZ * 1ull * TLG_CLK_PLL1_N / TLG_CLK_PLL1_M) /* > 2^31 before / M */
#define SYSCLK_HZ (VCO_HZ / TLG_CLK_PLL1_P)
#define CPU_HZ (SYSCLK_HZ / TLG_CLK_D1CPRE)
#define HCLK_HZ (CPU_HZ / TLG_CLK_HPRE)
#define PCLK2_HZ (HCLK_HZ / TLG_CLK_D2PPRE2)

#if TLG_CLK_SOURCE_HZ % TLG_CLK_PLL1_M != 0 || VCO_HZ % TLG_CLK_PLL1_P != 0
#error "PLL1 frequencies must be whole numbers of Hz for the checks below to mean something"
#endif
/* The wide VCO range takes a 2 to 16 MHz reference and runs at 192 to 960 MHz. */
#if REF_HZ < 2000000 || REF_HZ > 16000000
#error "PLL1 reference (source / M) must be within 2..16 MHz"
#endif
#if VCO_HZ < 192000000 || VCO_HZ > 960000000
#error "PLL1 VCO (reference * N) must be within 192..960 MHz"
#endif
#if TLG_CLK_PLL1_P != 1 && TLG_CLK_PLL1_P % 2 != 0
#error "PLL1 P divides by 1 or by an even number"
#endif
#if CPU_HZ != TLG_CPU_HZ
#error "the clock tree does not give core.clockHz (source * N / M / P / D1CPRE)"
#endif
#if TLG_CLK_VOS == 0 && (CPU_HZ > 480000000 || HCLK_HZ > 240000000)
#error "VOS0 allows at most 480 MHz CPU and 240 MHz AXI/AHB"
#endif
#if TLG_CLK_VOS == 1 && (CPU_HZ > 400000000 || HCLK_HZ > 200000000)
#error "VOS1 allows at most 400 MHz CPU and 200 MHz AXI/AHB"
#endif
#define APB_MAX_HZ (TLG_CLK_VOS == 0 ? 120000000 : 100000000)
#if HCLK_HZ / TLG_CLK_D1PPRE > APB_MAX_HZ || HCLK_HZ / TLG_CLK_D2PPRE1 > APB_MAX_HZ ||          \
    HCLK_HZ / TLG_CLK_D2PPRE2 > APB_MAX_HZ || HCLK_HZ / TLG_CLK_D3PPRE > APB_MAX_HZ
#error "the APB buses run at most at 120 MHz (VOS0) or 100 MHz (VOS1)"
#endif

/* Minimum FLASH_ACR wait states for the AXI clock (RM0399 table "FLASH recommended number of
 * wait states and programming delay"; the same for VOS0 and VOS1 up to their limits). */
#define FLASH_MIN_LATENCY                                                                          \
    (HCLK_HZ <= 70000000    ? 0                                                                    \
     : HCLK_HZ <= 140000000 ? 1                                                                    \
     : HCLK_HZ <= 210000000 ? 2                                                                    \
     : HCLK_HZ <= 225000000 ? 3                                                                    \
                            : 4)
#if TLG_CLK_FLASH_LATENCY < FLASH_MIN_LATENCY || TLG_CLK_FLASH_LATENCY > 15
#error "TLG_CLK_FLASH_LATENCY is below the minimum for the AXI clock"
#endif
#if TLG_CLK_FLASH_WRHIGHFREQ < 0 || TLG_CLK_FLASH_WRHIGHFREQ > 3
#error "TLG_CLK_FLASH_WRHIGHFREQ is 0..3"
#endif

/* Register encodings of the prescaler divisors; 0xFF marks a divisor the hardware lacks. */
#define AHB_PRESCALER_BITS(div)                                                                    \
    ((div) == 1     ? 0x0u                                                                         \
     : (div) == 2   ? 0x8u                                                                         \
     : (div) == 4   ? 0x9u                                                                         \
     : (div) == 8   ? 0xAu                                                                         \
     : (div) == 16  ? 0xBu                                                                         \
     : (div) == 64  ? 0xCu                                                                         \
     : (div) == 128 ? 0xDu                                                                         \
     : (div) == 256 ? 0xEu                                                                         \
     : (div) == 512 ? 0xFu                                                                         \
                    : 0xFFu)
#define APB_PRESCALER_BITS(div)                                                                    \
    ((div) == 1    ? 0x0u                                                                          \
     : (div) == 2  ? 0x4u                                                                          \
     : (div) == 4  ? 0x5u                                                                          \
     : (div) == 8  ? 0x6u                                                                          \
     : (div) == 16 ? 0x7u                                                                          \
                   : 0xFFu)
#if AHB_PRESCALER_BITS(TLG_CLK_D1CPRE) == 0xFF || AHB_PRESCALER_BITS(TLG_CLK_HPRE) == 0xFF
#error "D1CPRE and HPRE divide by 1, 2, 4, 8, 16, 64, 128, 256 or 512"
#endif
#if APB_PRESCALER_BITS(TLG_CLK_D1PPRE) == 0xFF || APB_PRESCALER_BITS(TLG_CLK_D2PPRE1) == 0xFF ||  \
    APB_PRESCALER_BITS(TLG_CLK_D2PPRE2) == 0xFF || APB_PRESCALER_BITS(TLG_CLK_D3PPRE) == 0xFF
#error "the APB prescalers divide by 1, 2, 4, 8 or 16"
#endif

/* ---- Registers (RM0399 memory map and register descriptions). ---- */

#define PWR_CSR1 TLG_REG32(0x58024804u)
#define PWR_CR3 TLG_REG32(0x5802480Cu)
#define PWR_D3CR TLG_REG32(0x58024818u)
#define PWR_CR3_BYPASS (1u << 0)
#define PWR_CR3_LDOEN (1u << 1)
#define PWR_CR3_SMPSEN (1u << 2)
#define PWR_CR3_SMPSEXTHP (1u << 3)
#define PWR_CR3_SMPSLEVEL (3u << 4)
#define PWR_CR3_SUPPLY_MASK                                                                        \
    (PWR_CR3_BYPASS | PWR_CR3_LDOEN | PWR_CR3_SMPSEN | PWR_CR3_SMPSEXTHP | PWR_CR3_SMPSLEVEL)
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_D3CR_VOSRDY (1u << 13)
#define PWR_D3CR_VOS_MASK (3u << 14)
#define PWR_D3CR_VOS1 (3u << 14)

#define SYSCFG_PWRCR TLG_REG32(0x5800042Cu)
#define SYSCFG_PWRCR_ODEN (1u << 0)

#define FLASH_ACR TLG_REG32(0x52002000u)
#define FLASH_ACR_MASK 0x3Fu /* LATENCY[3:0], WRHIGHFREQ[5:4] */

#define RCC_CR TLG_REG32(0x58024400u)
#define RCC_CFGR TLG_REG32(0x58024410u)
#define RCC_D1CFGR TLG_REG32(0x58024418u)
#define RCC_D2CFGR TLG_REG32(0x5802441Cu)
#define RCC_D3CFGR TLG_REG32(0x58024420u)
#define RCC_PLLCKSELR TLG_REG32(0x58024428u)
#define RCC_PLLCFGR TLG_REG32(0x5802442Cu)
#define RCC_PLL1DIVR TLG_REG32(0x58024430u)
#define RCC_PLL1FRACR TLG_REG32(0x58024434u)
#define RCC_D2CCIP2R TLG_REG32(0x58024454u)
#define RCC_AHB4ENR TLG_REG32(0x580244E0u)
#define RCC_APB2ENR TLG_REG32(0x580244F0u)
#define RCC_APB4ENR TLG_REG32(0x580244F4u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_HSEBYP (1u << 18)
#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_CFGR_SW_MASK 7u
#define RCC_CFGR_SW_PLL1 3u
#define RCC_CFGR_SWS_MASK (7u << 3)
#define RCC_CFGR_SWS_PLL1 (3u << 3)
#define RCC_PLLCKSELR_PLLSRC_MASK 3u
#define RCC_PLLCKSELR_PLLSRC_HSI 0u
#define RCC_PLLCKSELR_PLLSRC_HSE 2u
#define RCC_PLLCKSELR_DIVM1_MASK (0x3Fu << 4)
#define RCC_PLLCFGR_PLL1_MASK 0xFu /* PLL1FRACEN, PLL1VCOSEL (0: wide VCO), PLL1RGE */
#define RCC_PLLCFGR_DIV1_ENABLE (7u << 16) /* DIVP1EN, DIVQ1EN, DIVR1EN */
#define RCC_D2CCIP2R_USART16SEL_MASK (7u << 3) /* 0: USART1 kernel clock is PCLK2 */
#define RCC_AHB4ENR_GPIOAEN (1u << 0)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_APB4ENR_SYSCFGEN (1u << 1)

#define GPIOA_MODER TLG_REG32(0x58020000u)
#define GPIOA_OSPEEDR TLG_REG32(0x58020008u)
#define GPIOA_PUPDR TLG_REG32(0x5802000Cu)
#define GPIOA_AFRH TLG_REG32(0x58020024u)

#define USART1_CR1 TLG_REG32(0x40011000u)
#define USART1_BRR TLG_REG32(0x4001100Cu)
#define USART1_ISR TLG_REG32(0x4001101Cu)
#define USART1_TDR TLG_REG32(0x40011028u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_ISR_TC (1u << 6)
#define USART_ISR_TXE (1u << 7)

#define DBGMCU_IDCODE TLG_REG32(0x5C001000u)
#define AXI_TARG7_FN_MOD TLG_REG32(0x51008108u)

/* Polls before a ready flag counts as never coming: well over a second at 64 MHz. */
#define READY_POLLS 50000000u

#define HSI_HZ 64000000u

static int console_ready;
static const char *clock_failure;

static int wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < READY_POLLS; i++)
        if ((*reg & mask) == value)
            return 1;
    return 0;
}

/* The supply configuration can be written once per power-on; until it is, the chip runs in a
 * limited mode where RAM writes are not guaranteed. Hence here, before .data and .bss. */
void tlg_board_early_init(void)
{
#if defined(TLG_POWER_LDO)
    const uint32_t supply = PWR_CR3_LDOEN;
#else
    const uint32_t supply = PWR_CR3_SMPSEN;
#endif
    PWR_CR3 = (PWR_CR3 & ~PWR_CR3_SUPPLY_MASK) | supply;
    (void)wait_bits(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY);
}

/* VOS1, then for VOS0 the overdrive, which ST's sequence enables from VOS1 through SYSCFG. */
static int set_voltage_scale(void)
{
    PWR_D3CR = (PWR_D3CR & ~PWR_D3CR_VOS_MASK) | PWR_D3CR_VOS1;
    if (!wait_bits(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY))
        return 0;
#if TLG_CLK_VOS == 0
    RCC_APB4ENR |= RCC_APB4ENR_SYSCFGEN;
    (void)RCC_APB4ENR; /* read back: the clock is on before SYSCFG is written */
    SYSCFG_PWRCR |= SYSCFG_PWRCR_ODEN;
    if (!wait_bits(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY))
        return 0;
#endif
    return 1;
}

/* PLL1 on the configured source, more flash wait states, bus prescalers, then SYSCLK = PLL1.
 * Returns what failed, or 0; on failure SYSCLK is still the reset HSI. */
static const char *start_clocks(void)
{
#if defined(TLG_CLK_SOURCE_HSE)
    if (TLG_CLK_HSE_BYPASS)
        RCC_CR |= RCC_CR_HSEBYP;
    RCC_CR |= RCC_CR_HSEON;
    if (!wait_bits(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY))
        return "HSE";
    const uint32_t pll_source = RCC_PLLCKSELR_PLLSRC_HSE;
#else
    const uint32_t pll_source = RCC_PLLCKSELR_PLLSRC_HSI;
#endif
    const uint32_t ref_range = REF_HZ < 4000000 ? 1u : REF_HZ < 8000000 ? 2u : 3u;
    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~(RCC_PLLCKSELR_PLLSRC_MASK | RCC_PLLCKSELR_DIVM1_MASK)) |
                    pll_source | ((uint32_t)TLG_CLK_PLL1_M << 4);
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_PLL1_MASK) | (ref_range << 2) |
                  RCC_PLLCFGR_DIV1_ENABLE;
    RCC_PLL1DIVR = ((uint32_t)TLG_CLK_PLL1_N - 1u) | (((uint32_t)TLG_CLK_PLL1_P - 1u) << 9) |
                   (((uint32_t)TLG_CLK_PLL1_Q - 1u) << 16) |
                   (((uint32_t)TLG_CLK_PLL1_R - 1u) << 24);
    RCC_PLL1FRACR = 0u;
    RCC_CR |= RCC_CR_PLL1ON;
    if (!wait_bits(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY))
        return "PLL1";

    const uint32_t acr =
        (uint32_t)TLG_CLK_FLASH_LATENCY | ((uint32_t)TLG_CLK_FLASH_WRHIGHFREQ << 4);
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_MASK) | acr;
    if (!wait_bits(&FLASH_ACR, FLASH_ACR_MASK, acr))
        return "FLASH_ACR";

    RCC_D1CFGR = (AHB_PRESCALER_BITS(TLG_CLK_D1CPRE) << 8) |
                 (APB_PRESCALER_BITS(TLG_CLK_D1PPRE) << 4) | AHB_PRESCALER_BITS(TLG_CLK_HPRE);
    RCC_D2CFGR = (APB_PRESCALER_BITS(TLG_CLK_D2PPRE2) << 8) |
                 (APB_PRESCALER_BITS(TLG_CLK_D2PPRE1) << 4);
    RCC_D3CFGR = APB_PRESCALER_BITS(TLG_CLK_D3PPRE) << 4;

    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL1;
    if (!wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL1))
        return "SYSCLK";
    return 0;
}

/* USART1 on PA9 (TX) and PA10 (RX), alternate function 7: the ST-LINK virtual COM port of the
 * STM32H747I-DISCO. 8 data bits, no parity, 1 stop bit, oversampling by 16. */
static void start_console(uint32_t kernel_hz)
{
    RCC_AHB4ENR |= RCC_AHB4ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: clocks are on before the peripherals are written */
    RCC_D2CCIP2R &= ~RCC_D2CCIP2R_USART16SEL_MASK;

    GPIOA_AFRH = (GPIOA_AFRH & ~((0xFu << 4) | (0xFu << 8))) | (7u << 4) | (7u << 8);
    GPIOA_OSPEEDR = (GPIOA_OSPEEDR & ~((3u << 18) | (3u << 20))) | (1u << 18) | (1u << 20);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~((3u << 18) | (3u << 20))) | (1u << 20);
    GPIOA_MODER = (GPIOA_MODER & ~((3u << 18) | (3u << 20))) | (2u << 18) | (2u << 20);

    USART1_CR1 = 0u;
    USART1_BRR = (kernel_hz + TLG_UART_BAUD / 2u) / TLG_UART_BAUD;
    USART1_CR1 = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE;
    console_ready = 1;
}

void tlg_board_init(void)
{
    /* Erratum of revision Y silicon (REV_ID below 0x2000), worked around as ST's SystemInit
     * does: the AXI SRAM may return wrong data unless its target issues one read at a time. */
    if ((DBGMCU_IDCODE & 0xFFFF0000u) < 0x20000000u)
        AXI_TARG7_FN_MOD = 1u;

    tlg_icache_enable();
    tlg_dcache_enable();

    uint32_t pclk2_hz = HSI_HZ;
    if (!set_voltage_scale())
        clock_failure = "VOS";
    else if ((clock_failure = start_clocks()) == 0)
        pclk2_hz = (uint32_t)PCLK2_HZ;
    start_console(pclk2_hz);
    if (clock_failure) {
        tlg_print_str("TLG FAULT clock ");
        tlg_print_str(clock_failure);
        tlg_print_str(" not ready\n");
        tlg_board_exit(TLG_EXIT_FAULT);
    }

    tlg_dwt_cycles_enable();
    tlg_systick_start_wrapping();
}

void tlg_board_write(const char *data, size_t n)
{
    if (!console_ready)
        return;
    for (size_t i = 0; i < n; i++) {
        while ((USART1_ISR & USART_ISR_TXE) == 0u) {
        }
        USART1_TDR = (uint8_t)data[i];
    }
}

/* CYCCNT wraps every 2^32 cycles (8.9 s at 480 MHz). The high word counts wraps; SysTick
 * (every 2^24 cycles) calls the same update, so a wrap is never missed between two reads. */
static uint32_t cycles_high;
static uint32_t cycles_last;

static uint64_t cycles_update(void)
{
    uint32_t now = TLG_DWT_CYCCNT;
    if (now < cycles_last)
        cycles_high++;
    cycles_last = now;
    return ((uint64_t)cycles_high << 32) | now;
}

void tlg_board_systick_handler(void) { (void)cycles_update(); }

uint64_t tlg_board_cost_now(void)
{
    uint32_t primask = tlg_irq_save();
    uint64_t cycles = cycles_update();
    tlg_irq_restore(primask);
    return cycles;
}

const char *tlg_board_cost_unit(void) { return "cycles"; }

void tlg_board_exit(int code)
{
    (void)code; /* no one to hand it to on a real board */
    if (console_ready)
        (void)wait_bits(&USART1_ISR, USART_ISR_TC, USART_ISR_TC);
    TLG_SYST_CSR = 0u;
    for (;;)
        __asm__ volatile("wfi");
}
