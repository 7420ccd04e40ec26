/* Board support for running a generated project on the build machine (make host): the console
 * is stdout, exit is exit(), and there is no cost counter (it reads 0). Only the portable C of
 * the model, its kernels and the test application run here; nothing of the target's startup. */
#include <stdio.h>
#include <stdlib.h>

#include "tlg_board.h"

void tlg_board_init(void) {}

void tlg_board_write(const char *data, size_t n)
{
    fwrite(data, 1, n, stdout);
}

uint64_t tlg_board_cost_now(void)
{
    return 0;
}

const char *tlg_board_cost_unit(void)
{
    return "none";
}

void tlg_board_exit(int code)
{
    fflush(stdout);
    exit(code);
}
