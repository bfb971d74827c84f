/*
 * test_gc_heap.c — gc/heap: the size-class table, alloc-cache scans, the
 * page allocator (coalescing, zeroed pages, scavenging, huge spans), span
 * states and lookup of interior pointers, and sweeping a span.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "gc/src/internal.h"

static void test_sizeclass_table(void)
{
	gc_sizeclass_init();
	CU_ASSERT(gc_nclasses >= 60 && gc_nclasses <= 75);
	for (int c = 1; c < gc_nclasses; c++) {
		const struct gc_sizeclass *k = &gc_classes[c];
		CU_ASSERT(k->size % 8 == 0);
		if (c > 1)
			CU_ASSERT(k->size > gc_classes[c - 1].size);
		size_t span = (size_t)k->npages * GC_PAGE_SIZE;
		CU_ASSERT(span % k->size <= span / 8);      /* tail waste at most 12.5% */
		CU_ASSERT(k->nelems == span / k->size);
		/* The reciprocal divides exactly at every offset in the span. */
		bool exact = true;
		for (uint32_t off = 0; off < span; off++)
			if ((uint32_t)(((uint64_t)off * k->divmul) >> 32) != off / k->size)
				exact = false;
		CU_ASSERT(exact);
	}
	CU_ASSERT_EQUAL(gc_classes[gc_nclasses - 1].size, GC_MAX_SMALL);
	/* Every request maps to the smallest class that holds it. */
	bool smallest = true;
	for (size_t n = 1; n <= GC_MAX_SMALL; n++) {
		int c = gc_size_class(n);
		if (gc_classes[c].size < n || (c > 1 && gc_classes[c - 1].size >= n))
			smallest = false;
	}
	CU_ASSERT(smallest);
	/* Go's shape: 8-byte steps up to 32 bytes, at most 16 up to 128. */
	for (int c = 2; c < gc_nclasses; c++) {
		uint32_t step = gc_classes[c].size - gc_classes[c - 1].size;
		if (gc_classes[c].size <= 32) {
			CU_ASSERT(step == 8);
		} else if (gc_classes[c].size <= 128) {
			CU_ASSERT(step <= 16);
		}
	}
}

static void test_alloc_cache_scan(void)
{
	uint64_t seed = harness_seed();
	for (int round = 0; round < 200; round++) {
		struct gc_span s;
		memset(&s, 0, sizeof s);
		s.nelems = 1 + (uint32_t)(harness_rand(&seed) % 300);
		s.nbits_words = (s.nelems + 63) / 64;
		uint64_t bits[5] = {0};
		s.alloc_bits = bits;
		bool want[320] = {false};
		for (uint32_t i = 0; i < s.nelems; i++)
			if (harness_rand(&seed) % 3 == 0)
				bits[i / 64] |= 1ull << (i % 64);
		for (uint32_t i = 0; i < s.nelems; i++)
			want[i] = !((bits[i / 64] >> (i % 64)) & 1);
		s.freeindex = 0;
		gc_span_refill_cache(&s);
		uint32_t expect = 0;
		bool ok = true;
		for (;;) {
			while (expect < s.nelems && !want[expect])
				expect++;
			uint32_t got = gc_span_next_free(&s);
			if (got != expect) {
				ok = false;
				break;
			}
			if (got == s.nelems)
				break;
			expect++;
		}
		CU_ASSERT(ok);
		CU_ASSERT_EQUAL(s.freeindex, s.nelems);
		CU_ASSERT_EQUAL(gc_span_next_free(&s), s.nelems);
	}
}

static void heap_up(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
}

static void test_pages_coalesce(void)
{
	heap_up();
	bool z;
	struct gc_span *a = gc_pages_alloc(3, &z);
	CU_ASSERT(z);
	struct gc_span *b = gc_pages_alloc(5, &z);
	struct gc_span *c = gc_pages_alloc(2, &z);
	CU_ASSERT_FATAL(a && b && c);
	CU_ASSERT_EQUAL(b->base, a->base + 3 * GC_PAGE_SIZE);
	CU_ASSERT_EQUAL(c->base, b->base + 5 * GC_PAGE_SIZE);
	CU_ASSERT_EQUAL(atomic_load(&a->state), GC_SPAN_INUSE);
	/* Every page of b maps to b, interior addresses included. */
	for (size_t i = 0; i < 5 * GC_PAGE_SIZE; i += 1000)
		CU_ASSERT(gc_span_of(b->base + i) == b);
	uintptr_t abase = a->base, bbase = b->base;
	memset((void *)abase, 0x5a, 3 * GC_PAGE_SIZE);
	gc_pages_free(a);
	gc_pages_free(b);
	CU_ASSERT(gc_span_of(bbase) == NULL);
	/* The two free runs coalesced: 8 pages fit where a began. */
	struct gc_span *d = gc_pages_alloc(8, &z);
	CU_ASSERT_EQUAL(d->base, abase);
	CU_ASSERT(!z); /* a's pages were written */
	gc_pages_free(d);
	/* Returned to the OS, the pages read as zero again. */
	CU_ASSERT(gc_pages_scavenge(0) >= 8 * GC_PAGE_SIZE);
	d = gc_pages_alloc(8, &z);
	CU_ASSERT(z);
	CU_ASSERT_EQUAL(((unsigned char *)d->base)[0], 0);
	gc_pages_free(d);
	gc_pages_free(c);
	/* A span larger than an arena gets arenas of its own. */
	struct gc_span *h = gc_pages_alloc(GC_ARENA_PAGES + 10, &z);
	CU_ASSERT_FATAL(h != NULL);
	CU_ASSERT(gc_span_of(h->base + (GC_ARENA_PAGES + 9) * GC_PAGE_SIZE) == h);
	gc_pages_free(h);
	gc_fini();
}

/* Free committed pages, read under the heap lock. */
static size_t free_committed_pages(void)
{
	gc_lock(&gc_heap.lock);
	size_t n = gc_heap.pages_free - gc_heap.pages_released;
	gc_unlock(&gc_heap.lock);
	return n;
}

/* A scavenge of many chunks over free pages scattered one by one (a freed
 * page between two used ones) releases exactly down to what it keeps, every
 * chunk going on below the last, and leaves the used pages alone. */
static void test_pages_scavenge_chunks(void)
{
	heap_up();
	enum { N = 3000 };   /* 1,500 free pages: more than 20 chunks of 64 */
	static uintptr_t run[N];
	bool z;
	for (int i = 0; i < N; i++) {
		run[i] = gc_pages_alloc_run(1, &z);
		CU_ASSERT_FATAL(run[i] != 0);
		memset((void *)run[i], 0x3c, GC_PAGE_SIZE);   /* committed */
	}
	for (int i = 0; i < N; i += 2)
		gc_pages_free_run(run[i], 1);
	size_t before = free_committed_pages();
	CU_ASSERT(before >= N / 2);
	size_t keep = 100;
	size_t released = gc_pages_scavenge(keep * GC_PAGE_SIZE);
	CU_ASSERT_EQUAL(released, (before - keep) * GC_PAGE_SIZE);
	CU_ASSERT_EQUAL(free_committed_pages(), keep);
	for (int i = 1; i < N; i += 2)   /* the pages in use kept their contents */
		CU_ASSERT_EQUAL(((unsigned char *)run[i])[GC_PAGE_SIZE - 1], 0x3c);
	CU_ASSERT_EQUAL(gc_pages_scavenge(keep * GC_PAGE_SIZE), 0);   /* nothing more above keep */
	CU_ASSERT_EQUAL(gc_pages_scavenge(0), keep * GC_PAGE_SIZE);
	CU_ASSERT_EQUAL(free_committed_pages(), 0);
	for (int i = 1; i < N; i += 2)
		gc_pages_free_run(run[i], 1);
	gc_fini();
}

/* --- with a running collector ------------------------------------------------------ */

static void interior_body(void *arg)
{
	(void)arg;
	for (int c = 1; c < gc_nclasses; c++) {
		size_t size = gc_classes[c].size;
		char *p = gc_alloc_bytes(size);
		TCHECK(gc_base(p) == p);
		TCHECK(gc_base(p + 1) == p);
		TCHECK(gc_base(p + size / 2) == p);
		TCHECK(gc_base(p + size - 1) == p);
		TCHECK(gc_base(p + size) != p);
		struct gc_span *s = gc_span_of((uintptr_t)p);
		TCHECK(s && s->elemsize == size);
		if (s)
			gc_span_check(s);
	}
	char *big = gc_alloc_bytes(100000);
	TCHECK(gc_base(big + 99999) == big);
	TCHECK(gc_base(big + 100000 + GC_PAGE_SIZE * 20) == NULL);
	int on_stack;
	TCHECK(gc_base(&on_stack) == NULL);
	TCHECK(gc_base(NULL) == NULL);
}

static void free_span_again(void *span)
{
	gc_span_set_state(span, GC_SPAN_FREE);   /* free → free */
}

/* A span's life: free pages → in use (mapped in the page table, set up for
 * a class, slots all free) → free again (unmapped). Freeing a free span is
 * an illegal transition: fatal, with the states named (checked in a child). */
static void test_span_lifecycle(void)
{
	heap_up();
	bool z;
	struct gc_span *s = gc_pages_alloc(1, &z);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(atomic_load(&s->state), GC_SPAN_INUSE);
	CU_ASSERT_PTR_EQUAL(gc_span_of(s->base), s);
	CU_ASSERT_PTR_EQUAL(gc_span_of(s->base + GC_PAGE_SIZE - 1), s);
	int spc = gc_spanclass(gc_size_class(48), false);
	gc_span_init_small(s, spc);
	CU_ASSERT_EQUAL(s->elemsize, gc_classes[gc_size_class(48)].size);
	CU_ASSERT_EQUAL(s->nelems, GC_PAGE_SIZE / s->elemsize);
	CU_ASSERT_EQUAL(s->freeindex, 0);
	CU_ASSERT_EQUAL(gc_bits_count(s->alloc_bits, s->nelems), 0);
	CU_ASSERT_EQUAL(gc_span_next_free(s), 0);
	CU_ASSERT_EQUAL(gc_span_next_free(s), 1);
	uintptr_t base = s->base;
	gc_span_free_meta(s);
	gc_pages_free(s);
	CU_ASSERT_EQUAL(atomic_load(&s->state), GC_SPAN_FREE);
	CU_ASSERT_PTR_NULL(gc_span_of(base));
	/* The same pages come back as a fresh span. */
	struct gc_span *t = gc_pages_alloc(1, &z);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->base, base);
	gc_pages_free(t);

	char out[512];
	int status = harness_child(free_span_again, t, 0, out, sizeof out);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "illegal state change free -> free"));
	gc_fini();
}

static void test_interior_lookup(void)
{
	heap_up();
	harness_run(2, interior_body, NULL);
	gc_fini();
}

/* Sweeping: every other object of a span is kept through a root array;
 * after a cycle the span's count and alloc bits say exactly that, the
 * dropped slots hold the poison pattern, and allocation reuses them. */
struct pair {
	struct pair *next;
	uint64_t tag;
};
GC_TYPE(pair_type, struct pair, next);

#define NOBJ 256
static void *kept[NOBJ];

static void sweep_body(void *arg)
{
	(void)arg;
	gc_add_roots(kept, NOBJ);
	struct pair *objs[NOBJ];
	for (int i = 0; i < NOBJ; i++) {
		objs[i] = gc_alloc(&pair_type);
		objs[i]->tag = 0x7a6b0000u + (uint64_t)i;
	}
	struct gc_span *s = gc_span_of((uintptr_t)objs[0]);
	for (int i = 0; i < NOBJ; i++) {
		if (i % 2 == 0)
			gc_store(NULL, &kept[i], objs[i]);
	}
	/* Addresses of the dropped objects, hidden from the conservative scan. */
	const uintptr_t hide = 0x5555555555555555u;
	uintptr_t dropped[NOBJ];
	int ndropped = 0;
	for (int i = 0; i < NOBJ; i++)
		if (i % 2 && gc_span_of((uintptr_t)objs[i]) == s)
			dropped[ndropped++] = (uintptr_t)objs[i] ^ hide;
	for (int i = 0; i < NOBJ; i++)
		((void *volatile *)objs)[i] = NULL;  /* only the roots hold objects now */
	gc_collect();
	gc_collect();
	int live_in_s = 0;
	for (int i = 0; i < NOBJ; i += 2) {
		struct pair *p = kept[i];
		TCHECK(p->tag == 0x7a6b0000u + (uint64_t)i);
		if (gc_span_of((uintptr_t)p) == s) {
			live_in_s++;
			TCHECK(gc_bit(s->alloc_bits, gc_span_index(s, (uintptr_t)p)));
		}
	}
	TCHECK(s->nalloc >= (uint32_t)live_in_s);
	int poisoned = 0;
	for (int k = 0; k < ndropped; k++) {
		uintptr_t p = dropped[k] ^ hide;
		if (gc_base((void *)p) == NULL && *(uint64_t *)p == GC_POISON_WORD)
			poisoned++;
	}
	if (!TCHECK(ndropped > 0 && poisoned >= ndropped / 2))
		fprintf(stderr, "dropped %d poisoned %d nalloc %u live %d\n", ndropped, poisoned, s->nalloc, live_in_s);
	gc_remove_roots(kept);
}

static void test_sweep_span(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.poison = 1;
	cfg.verify = 1;
	cfg.gogc = GC_GOGC_OFF;  /* only the forced cycles */
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	harness_run(1, sweep_body, NULL);
	gc_fini();
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"size-class table", test_sizeclass_table},
		{"alloc cache scan", test_alloc_cache_scan},
		{"page allocator coalesces, zeroes, scavenges", test_pages_coalesce},
		{"a scavenge in chunks releases exactly down to what it keeps", test_pages_scavenge_chunks},
		{"span lifecycle and illegal transitions", test_span_lifecycle},
		{"interior pointer lookup", test_interior_lookup},
		{"sweep keeps marked slots and poisons the rest", test_sweep_span},
		{NULL, NULL},
	};
	return harness_main("gc_heap", tests);
}
