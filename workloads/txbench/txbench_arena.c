/*
 * txbench_arena.c — the arena mode: the physical limit of per-request
 * memory management.
 *
 * Each request bump-allocates from its thread's arena (1 MiB chunks, kept
 * from one request to the next) and the arena is reset when the request
 * ends: no collector, no barrier, no per-object free. What a request
 * publishes, the record a put stores or the entry it puts in the churn
 * ring, is deep-copied out of the arena into malloc'd memory, and what it
 * replaced is freed once no request can still be reading it (an epoch
 * scheme: each thread announces the epoch it started its request in; an
 * object retired at epoch e is freed when every running request started
 * after e). The store and its ring are malloc'd.
 *
 * Runs on plain threads, one request loop each (--procs), the honest way to
 * run it: a goroutine per request would add the scheduler to what should
 * be the floor.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txbench_heap.h"

#define CHUNK ((size_t)1 << 20)
#define MAX_THREADS 1024

struct chunk {
	char *base;
	size_t cap;
};

struct arena {
	struct chunk *chunks;
	int n, cap, cur;
	size_t used;          /* in chunks[cur] */
	uint64_t allocated;   /* bytes handed out, arena and malloc */
};

static __thread struct arena *cur;   /* NULL: allocate with malloc (the store, publications) */
static __thread uint64_t *malloc_bytes;

static void *ar_alloc(size_t n, bool zero)
{
	n = (n + 15) & ~(size_t)15;
	struct arena *a = cur;
	if (!a) {
		void *p = zero ? calloc(1, n) : malloc(n);
		if (!p)
			bench_fatal(1, "arena: out of memory allocating %zu bytes", n);
		if (malloc_bytes)
			*malloc_bytes += n;
		return p;
	}
	if (a->n == 0 || a->used + n > a->chunks[a->cur].cap) {
		/* The next chunk that fits, or a new one. */
		int i = a->n ? a->cur + 1 : 0;
		while (i < a->n && a->chunks[i].cap < n)
			i++;
		if (i >= a->n) {
			if (a->n == a->cap) {
				a->cap = a->cap ? a->cap * 2 : 8;
				a->chunks = realloc(a->chunks, (size_t)a->cap * sizeof *a->chunks);
				if (!a->chunks)
					bench_fatal(1, "arena: out of memory for the chunk list");
			}
			size_t cap = n > CHUNK ? n : CHUNK;
			char *b = malloc(cap);
			if (!b)
				bench_fatal(1, "arena: out of memory for a %zu-byte chunk", cap);
			i = a->n++;
			a->chunks[i] = (struct chunk){b, cap};
		}
		a->cur = i;
		a->used = 0;
	}
	void *p = a->chunks[a->cur].base + a->used;
	a->used += n;
	a->allocated += n;
	if (zero)
		memset(p, 0, n);
	return p;
}

static void ar_reset(struct arena *a)
{
	a->cur = 0;
	a->used = 0;
}

static void *arena_alloc(enum txb_kind k)
{
	return ar_alloc(txb_kind_size[k], true);
}

static void *arena_ptrs(size_t n)
{
	return ar_alloc(n * sizeof(void *), true);
}

static void *arena_bytes(size_t n)
{
	return ar_alloc(n, false);
}

static void *publish_copy(enum txb_kind k, void *p);
static void retire(enum txb_kind k, void *p);

/* The heap the handler runs on (txbench_heap.h): no barrier. */
static const struct txb_heap heap = {
	.alloc = arena_alloc,
	.ptrs = arena_ptrs,
	.bytes = arena_bytes,
	.publish = publish_copy,
	.retire = retire,
};

/* --- publication and deferred frees -------------------------------------------------------- */

static _Atomic uint64_t epoch = 1;
static _Atomic uint64_t active[MAX_THREADS];   /* the epoch a thread's request began in; 0: none */

struct retired {
	enum txb_kind k;      /* TXB_REC or TXB_BLOB */
	void *p;
	uint64_t e;
};

struct thread {
	int index;
	struct arena arena;
	struct retired *ret;
	size_t nret, capret;
	uint64_t malloc_bytes;
	struct txb_worker w;
};

static __thread struct thread *self;

/* A copy of s in malloc'd memory (NULL: NULL); cur is NULL. */
static struct tx_str *str_copy(const struct tx_str *s)
{
	if (!s)
		return NULL;
	size_t n = sizeof *s + s->len + 1;
	return memcpy(ar_alloc(n, false), s, n);
}

/* A put's record, deep-copied out of the request's arena into malloc'd
 * memory: the store outlives the request. */
static struct tx_rec *rec_copy(const struct tx_rec *r)
{
	struct tx_rec *c = ar_alloc(sizeof *c, true);
	c->key = str_copy(r->key);
	c->name = str_copy(r->name);
	c->email = str_copy(r->email);
	c->profile = str_copy(r->profile);
	c->tags = ar_alloc((r->ntags ? (size_t)r->ntags : 1) * sizeof *c->tags, true);
	for (int64_t i = 0; i < r->ntags; i++)
		c->tags[i] = str_copy(r->tags[i]);
	c->ntags = r->ntags;
	c->id = r->id;
	return c;
}

/* A churn entry's chain, copied likewise: the ring outlives the request. */
static struct tx_blob *blob_copy(const struct tx_blob *b)
{
	struct tx_blob *head = NULL, **link = &head;
	for (; b; b = b->next) {
		struct tx_blob *c = ar_alloc(sizeof *c, true);
		c->data = str_copy(b->data);
		c->check = b->check;
		*link = c;
		link = &c->next;
	}
	return head;
}

static void *publish_copy(enum txb_kind k, void *p)
{
	struct arena *saved = cur;
	cur = NULL;
	void *c = k == TXB_REC ? (void *)rec_copy(p) : (void *)blob_copy(p);
	cur = saved;
	return c;
}

static void rec_free(struct tx_rec *r)
{
	free(r->key);
	free(r->name);
	free(r->email);
	free(r->profile);
	for (int64_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r);
}

static void blob_free(struct tx_blob *b)
{
	while (b) {
		struct tx_blob *next = b->next;
		free(b->data);
		free(b);
		b = next;
	}
}

static void retired_free(const struct retired *r)
{
	if (r->k == TXB_REC)
		rec_free(r->p);
	else
		blob_free(r->p);
}

static void retire(enum txb_kind k, void *p)
{
	struct thread *t = self;
	if (t->nret == t->capret) {
		t->capret = t->capret ? t->capret * 2 : 64;
		t->ret = realloc(t->ret, t->capret * sizeof *t->ret);
		if (!t->ret)
			bench_fatal(1, "arena: out of memory for the retired list");
	}
	t->ret[t->nret++] = (struct retired){k, p, atomic_fetch_add(&epoch, 1)};
}

/* Frees the retired objects no running request can reach. */
static void reclaim(struct thread *t, int nthreads)
{
	uint64_t min = UINT64_MAX;
	for (int i = 0; i < nthreads; i++) {
		uint64_t a = atomic_load(&active[i]);
		if (a && a < min)
			min = a;
	}
	size_t k = 0;
	while (k < t->nret && t->ret[k].e < min)
		retired_free(&t->ret[k++]);
	memmove(t->ret, t->ret + k, (t->nret - k) * sizeof *t->ret);
	t->nret -= k;
}

/* --- the run ------------------------------------------------------------------------------- */

static const struct txb_options *opt;
static struct tx_store *store;
static struct txb_run run;       /* the timed part's */
static struct txb_run *serving;  /* the run the threads serve: run, or the warm-up's */
static struct thread *ts;
static pthread_t *tids;

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	self = t;
	malloc_bytes = &t->malloc_bytes;
	char *buf = malloc(TXB_REQ_MAX);
	if (!buf)
		bench_fatal(1, "out of memory for a request buffer");
	uint64_t idx, n = 0;
	while (txb_run_take(serving, &idx)) {
		size_t len = txb_request(opt, idx, buf);
		int64_t t0 = bench_now_ns();
		atomic_store(&active[t->index], atomic_load(&epoch));
		cur = &t->arena;
		uint64_t h = txb_handle(store, buf, len);
		cur = NULL;
		ar_reset(&t->arena);
		atomic_store(&active[t->index], 0);
		txb_worker_count(&t->w, h, t0);
		if ((++n & 63) == 0)
			reclaim(t, opt->procs);
	}
	free(buf);
	return NULL;
}

/* The driver over r (struct txb_backend's drive): a request loop per thread. */
static void drive(struct txb_run *r)
{
	serving = r;
	for (int i = 0; i < opt->procs; i++) {
		int err = pthread_create(&tids[i], NULL, thread_main, &ts[i]);
		if (err)
			bench_fatal(1, "could not start thread %d: %s", i, strerror(err));
	}
	for (int i = 0; i < opt->procs; i++)
		pthread_join(tids[i], NULL);
}

/* No collector: no cycles, no marking; the heap is the arenas and malloc's. */
static void read_counters(struct txb_counters *c)
{
	*c = (struct txb_counters){.heap_mb = NAN};
}

static uint64_t read_cycles(void)
{
	return 0;
}

static const struct txb_backend backend = {read_counters, read_cycles, drive};

int txb_arena_run(const struct txb_options *o, struct txb_result *r)
{
	opt = o;
	if (o->procs > MAX_THREADS)
		bench_fatal(2, "--procs=%d: arena mode runs at most %d threads", o->procs, MAX_THREADS);
	bench_progress("building the store: %llu records", (unsigned long long)o->nkeys);
	txb_use_heap(&heap);
	txb_store_build(o, &store);
	ts = calloc((size_t)o->procs, sizeof *ts);
	tids = calloc((size_t)o->procs, sizeof *tids);
	if (!ts || !tids)
		bench_fatal(1, "out of memory for %d threads", o->procs);
	for (int i = 0; i < o->procs; i++)
		ts[i].index = i;
	bench_progress("store built");
	txb_warmup(o, &backend);
	for (int i = 0; i < o->procs; i++) {   /* the timed part's counts start at 0 */
		ts[i].w = (struct txb_worker){0};
		ts[i].arena.allocated = ts[i].malloc_bytes = 0;
	}
	bench_progress("running requests");
	txb_run_start(&run, o);
	struct bench_rusage ru0, ru1;
	bench_rusage_now(&ru0);
	int64_t t0 = bench_now_ns();
	drive(&run);
	int64_t t1 = bench_now_ns();
	bench_rusage_now(&ru1);
	txb_phases_end(r);
	/* No collector: every collector figure is zero. */
	bench_cpu_figures_proc(&r->cpu, &ru0, &ru1);
	r->cpu.gc_cpu_seconds = r->cpu.gc_mark_cpu_seconds = r->cpu.gc_assist_cpu_seconds = 0;
	r->cpu.gc_sweep_cpu_seconds = r->cpu.gc_pause_cpu_seconds = r->cpu.gc_assist_wait_seconds = 0;
	r->cpu.marking_fraction = 0;
	r->driver_note = "plain threads, one request loop each; arena reset per request";
	r->seconds = (double)(t1 - t0) / 1e9;
	r->procs = o->procs;
	r->peak_rss_mb = bench_peak_rss_mb();
	uint64_t bytes = 0;
	struct txb_worker *ws = calloc((size_t)o->procs, sizeof *ws);
	if (!ws)
		bench_fatal(1, "out of memory");
	for (int i = 0; i < o->procs; i++) {
		bytes += ts[i].arena.allocated + ts[i].malloc_bytes;
		ws[i] = ts[i].w;
	}
	r->allocated_mb = (double)bytes / 1048576.0;
	txb_collect_workers(r, ws, o->procs);
	free(ws);
	/* Every thread is joined: nothing reads a retired object any more. */
	for (int i = 0; i < o->procs; i++) {
		for (size_t k = 0; k < ts[i].nret; k++)
			retired_free(&ts[i].ret[k]);
		free(ts[i].ret);
		for (int c = 0; c < ts[i].arena.n; c++)
			free(ts[i].arena.chunks[c].base);
		free(ts[i].arena.chunks);
	}
	for (uint64_t i = 0; i < store->nslots; i++)
		if (store->slots[i])
			rec_free(store->slots[i]);
	for (uint64_t i = 0; i < store->ring_slots; i++)
		blob_free(store->ring[i]);
	free(store->ring);
	free(store->slots);
	free(store);
	free(tids);
	free(ts);
	return 0;
}
