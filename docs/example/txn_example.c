/*
 * txn_example.c — a complete transaction workload written against the
 * installed headers alone (docs/workload-guide.md walks through it).
 *
 * Four worker goroutines each serve 20,000 requests. A request builds a
 * small object graph (a list of items and a response), keeps one item in a
 * shared table every 16th request, and returns a checksum. In toc mode each
 * request is one transaction (toc_run): what it did not publish is reused
 * as soon as it ends. The checksum is the same in every mode.
 *
 *   cc -std=c11 txn_example.c $(pkg-config --cflags --libs toc) -o txn_example
 *   TOC_MODE=toc ./txn_example      # or cms, stw
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "toc/gc.h"
#include "toc/sched.h"
#include "toc/sync.h"
#include "toc/toc.h"

#define WORKERS 4
#define REQUESTS 20000
#define TABLE 8192   /* a slot per kept request: the result is the same in every mode */

struct item {
	struct item *next;     /* a pointer: listed in the type below */
	uint64_t key;
	char *name;            /* pointer-free bytes, allocated apart */
};
GC_TYPE(item_type, struct item, next, name);

static void **table;                     /* a registered root: the shared table */
static struct sched_mutex table_lock;
static struct sched_waitgroup done;
static uint64_t sums[WORKERS];

struct request {
	uint64_t id;
	uint64_t sum;          /* out */
};

/* One request. Runs inside toc_run: its frame is gone before toc_end. */
static void handle(void *arg)
{
	struct request *rq = arg;
	struct item *list = NULL;
	for (int i = 0; i < 8; i++) {
		struct item *it = gc_alloc(&item_type);
		it->key = rq->id * 8 + (uint64_t)i;
		char *name = gc_alloc_bytes(24);
		snprintf(name, 24, "item-%" PRIu64, it->key);
		gc_store(it, &it->name, name);   /* every heap pointer store */
		gc_store(it, &it->next, list);
		list = it;
	}
	uint64_t sum = 0;
	for (struct item *it = list; it; it = it->next)
		sum += it->key + (uint64_t)strlen(it->name);
	if (rq->id % 16 == 0) {
		/* Kept: stored into the shared table, which publishes it. */
		sched_mutex_lock(&table_lock);
		gc_store(table, &table[rq->id / 16], list);
		sched_mutex_unlock(&table_lock);
	}
	rq->sum = sum;
}

static void worker(void *arg)
{
	int w = (int)(uintptr_t)arg;
	/* The request record lives on this goroutine's stack, not in the
	 * heap: the transaction writes its result there. */
	struct request rq;
	for (uint64_t i = 0; i < REQUESTS; i++) {
		rq.id = (uint64_t)w * REQUESTS + i;
		toc_run(handle, &rq);   /* in cms and stw mode: just handle(&rq) */
		sums[w] += rq.sum;
	}
	sched_wg_done(&done);
}

static void main_goroutine(void *arg)
{
	(void)arg;
	gc_add_roots((void **)&table, 1);
	gc_store(NULL, &table, gc_alloc_array(&gc_type_ptr, TABLE));
	toc_end();   /* the table is published (a root points to it) */
	sched_wg_add(&done, WORKERS);
	for (int w = 0; w < WORKERS; w++)
		if (!sched_go(worker, (void *)(uintptr_t)w)) {
			fprintf(stderr, "txn_example: cannot start a worker\n");
			return;
		}
	sched_wg_wait(&done);
	uint64_t sum = 0;
	for (int w = 0; w < WORKERS; w++)
		sum += sums[w];
	uint64_t kept = 0;
	for (int i = 0; i < TABLE; i++)
		for (struct item *it = table[i]; it; it = it->next)
			kept += it->key;
	struct gc_stats gs;
	gc_read_stats(&gs);
	struct toc_stats ts;
	toc_read_stats(&ts);
	double local = (double)ts.local_bytes;
	printf("{\"checksum\":%" PRIu64 ",\"kept\":%" PRIu64 ",\"cycles\":%" PRIu64
	       ",\"toc\":%s,\"reclaimed_fraction\":%.4f}\n",
	       sum, kept, gs.cycles, toc_enabled() ? "true" : "false",
	       local > 0 ? (double)ts.reclaimed_bytes / local : 0.0);
	gc_remove_roots((void **)&table);
}

int main(void)
{
	/* The environment's knobs (TOC_MODE, TOC_GOGC, ...), then the runtime. */
	return gc_run(NULL, NULL, main_goroutine, NULL) ? 1 : 0;
}
