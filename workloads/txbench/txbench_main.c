/*
 * txbench_main.c — txbench's main: parse the flags (txbench.c), run the
 * mode's backend, print the result. Apart from txbench.c so that the
 * servers can link the request stream, the figures and the gc backend
 * without the other backends.
 */
#include <stdio.h>

#include "txbench.h"

int main(int argc, char **argv)
{
	bench_prog = "txbench";
	struct txb_options o;
	txb_parse(argc, argv, &o);
	if (o.dump) {
		static char buf[TXB_REQ_MAX];
		for (int64_t i = 0; i < o.dump; i++) {
			size_t n = txb_request(&o, (uint64_t)i, buf);
			printf("%zu\n", n);
			fwrite(buf, 1, n, stdout);
		}
		return fflush(stdout) ? 1 : 0;
	}
	struct txb_result r = {0};
	bench_progress("mode %s, driver %s, %d procs, store %lld MiB (%llu records), %d items, %d%% put, %s",
		       txb_mode_names[o.mode], txb_driver_names[o.driver], o.procs, (long long)o.live_mb,
		       (unsigned long long)o.nkeys, o.items, o.publish_pct, "starting");
	int rc;
	switch (o.mode) {
	case TXB_BOEHM: rc = txb_boehm_run(&o, &r); break;
	case TXB_ARENA: rc = txb_arena_run(&o, &r); break;
	default: rc = txb_gc_run(&o, &r); break;
	}
	if (rc)
		return 1;
	if (o.requests && r.transactions != (uint64_t)o.requests)
		bench_fatal(1, "ran %llu requests, expected %lld", (unsigned long long)r.transactions,
			    (long long)o.requests);
	if (o.json)
		txb_print_json(&o, &r);
	else
		txb_print_table(&o, &r);
	return 0;
}
