/* Reset handler and fault reporting for the Cortex-M7 boards (no vendor startup code, no crt0).
 *
 * The linker script (templates/linker.ld.hbs) writes two tables into flash: the sections to
 * copy from flash to RAM ({load address, start, end}: .data and .tlg_ram_init) and the
 * sections to zero ({start, end}: .bss). The reset handler walks them, so a new initialized
 * section needs a line in the linker script and nothing here.
 */
#include "tlg_startup.h"

#include "tlg_board.h"
#include "tlg_cortex_m7.h"
#include "tlg_print.h"

int main(void);

typedef struct {
    const uint32_t *load;
    uint32_t *start;
    uint32_t *end;
} tlg_copy_entry_t;

typedef struct {
    uint32_t *start;
    uint32_t *end;
} tlg_zero_entry_t;

extern const tlg_copy_entry_t __tlg_copy_table_start[];
extern const tlg_copy_entry_t __tlg_copy_table_end[];
extern const tlg_zero_entry_t __tlg_zero_table_start[];
extern const tlg_zero_entry_t __tlg_zero_table_end[];

/* Called by tlg_reset_handler once the FPU is on: from here on the compiler may use FP
 * registers (it does for struct copies and some loops). */
__attribute__((noreturn, used)) static void tlg_reset_continue(void)
{
    tlg_board_early_init();
    /* Their own handlers, so that a fault report names MemManage, BusFault or UsageFault
     * instead of the HardFault they escalate to by default. */
    TLG_SCB_SHCSR |= TLG_SCB_SHCSR_FAULTS_ENABLE;

    for (const tlg_copy_entry_t *entry = __tlg_copy_table_start; entry < __tlg_copy_table_end;
         entry++) {
        const uint32_t *from = entry->load;
        for (uint32_t *to = entry->start; to < entry->end; to++)
            *to = *from++;
    }
    for (const tlg_zero_entry_t *entry = __tlg_zero_table_start; entry < __tlg_zero_table_end;
         entry++) {
        for (uint32_t *to = entry->start; to < entry->end; to++)
            *to = 0u;
    }

    tlg_board_exit(main());
}

/* Naked, in assembly, so that no compiled code (which may use FP registers) runs before CP10
 * and CP11 are enabled; an FP instruction before that is a UsageFault (NOCP). */
__attribute__((naked, noreturn)) void tlg_reset_handler(void)
{
    __asm__ volatile("ldr r0, =%c0\n\t"
                     "ldr r1, [r0]\n\t"
                     "orr r1, r1, %1\n\t"
                     "str r1, [r0]\n\t"
                     "dsb\n\t"
                     "isb\n\t"
                     "b tlg_reset_continue\n\t"
                     ".ltorg" ::"i"(TLG_SCB_CPACR_ADDRESS),
                     "i"(TLG_SCB_CPACR_FPU_FULL));
}

static const char *exception_name(uint32_t number)
{
    switch (number) {
    case 2:
        return "NMI";
    case 3:
        return "HardFault";
    case 4:
        return "MemManage";
    case 5:
        return "BusFault";
    case 6:
        return "UsageFault";
    case 11:
        return "SVCall";
    case 12:
        return "DebugMonitor";
    case 14:
        return "PendSV";
    case 15:
        return "SysTick";
    default:
        return "IRQ";
    }
}

/* frame: the exception stack frame (r0-r3, r12, lr, pc, xpsr); ipsr: the exception number. */
__attribute__((noreturn, used)) static void tlg_fault_report(const uint32_t *frame, uint32_t ipsr)
{
    uint32_t number = ipsr & 0x1FFu;
    tlg_print_str("\nTLG FAULT ");
    tlg_print_str(exception_name(number));
    if (number >= 16u) {
        tlg_print_char(' ');
        tlg_print_u64(number - 16u);
    }
    tlg_print_str(" pc=");
    tlg_print_hex32(frame[6]);
    tlg_print_str(" lr=");
    tlg_print_hex32(frame[5]);
    tlg_print_str(" cfsr=");
    tlg_print_hex32(TLG_SCB_CFSR);
    tlg_print_str(" hfsr=");
    tlg_print_hex32(TLG_SCB_HFSR);
    tlg_print_str(" bfar=");
    tlg_print_hex32(TLG_SCB_BFAR);
    tlg_print_char('\n');
    tlg_board_exit(TLG_EXIT_FAULT);
}

/* Bit 2 of EXC_RETURN (in lr) tells which stack the faulting code used. */
__attribute__((naked)) void tlg_fault_handler(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "mrs r1, ipsr\n\t"
                     "b tlg_fault_report\n\t");
}
