/* Vector table of QEMU's mps2-an500 (Cortex-M7): the 32 interrupt lines QEMU gives this
 * machine (hw/arm/mps2.c, "num-irq"). */
#include "tlg_startup.h"

TLG_VECTOR_TABLE(32);
