/* Vector table of the STM32H747's Cortex-M7 core: its 150 interrupt lines (RM0399 NVIC table;
 * the last, WAKEUP_PIN, is number 149). */
#include "tlg_startup.h"

TLG_VECTOR_TABLE(150);
