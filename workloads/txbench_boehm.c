/* txbench_boehm.c — the boehm mode (not implemented yet). */
#include <stdio.h>

#include "txbench.h"

int txb_boehm_run(const struct txb_options *o, struct txb_result *r)
{
	(void)o;
	(void)r;
	fprintf(stderr, "txbench: --mode=boehm: not implemented yet\n");
	return -1;
}
