/*
 * mark.c — marking: shading, scanning objects and stacks, gray buffers.
 *
 * Tri-color in bitmaps: an object is black or gray when its mark bit is
 * set; gray when it also sits in some work buffer. Setting the mark bit is
 * an atomic or, so exactly one marker grays an object. Noscan objects go
 * straight to black.
 *
 * Work buffers (Go's gcWork): every marker has two private buffers; full
 * ones go to a global lock-free stack (liburcu cds_lfs: push is lock-free,
 * pop takes the stack's mutex, which makes it ABA-safe), empty ones to
 * another. Markers are: each background worker and each assist (private,
 * on their goroutine), each worker's barrier marker (shared by the write
 * barrier and stack visits on that worker; no safepoint ever splits its
 * use), and the verifier's.
 *
 * Pointers found in objects are precise but may be any value the program
 * stored; pointers found on stacks are conservative and may point inside an
 * object. Both are looked up the same way and ignored unless they land in
 * an allocated slot of an in-use span.
 */
#include <stdlib.h>
#include <string.h>

#include <urcu/compiler.h>

#include "internal.h"

static struct cds_lfs_stack full_stack;
static struct cds_lfs_stack empty_stack;
static _Atomic long nfull;
static _Atomic long nbuffers;
static _Atomic(struct gc_work *) all_buffers;   /* linked by all_next */

void gc_mark_init(void)
{
	cds_lfs_init(&full_stack);
	cds_lfs_init(&empty_stack);
	nfull = 0;
	nbuffers = 0;
}

void gc_mark_fini(void)
{
	/* Every buffer, including one a marker still held when its goroutine
	 * ended with the run. */
	while (cds_lfs_pop_blocking(&full_stack))
		;
	while (cds_lfs_pop_blocking(&empty_stack))
		;
	for (struct gc_work *w = atomic_exchange(&all_buffers, NULL), *next; w; w = next) {
		next = w->all_next;
		free(w);
	}
	cds_lfs_destroy(&full_stack);
	cds_lfs_destroy(&empty_stack);
}

static struct gc_work *get_empty(void)
{
	struct cds_lfs_node *n = cds_lfs_pop_blocking(&empty_stack);
	if (n) {
		struct gc_work *w = caa_container_of(n, struct gc_work, node);
		w->n = 0;
		return w;
	}
	struct gc_work *w = malloc(sizeof *w);
	if (!w)
		gc_fatal("out of memory for mark work buffers");
	cds_lfs_node_init(&w->node);
	w->n = 0;
	w->all_next = atomic_load(&all_buffers);
	while (!atomic_compare_exchange_weak(&all_buffers, &w->all_next, w))
		;
	atomic_fetch_add(&nbuffers, 1);
	atomic_fetch_add(&gc_heap.metadata_bytes, sizeof *w);
	return w;
}

static void put_full(struct gc_work *w)
{
	atomic_fetch_add(&nfull, 1);
	cds_lfs_push(&full_stack, &w->node);
}

static void put_empty(struct gc_work *w)
{
	cds_lfs_push(&empty_stack, &w->node);
}

static struct gc_work *get_full(void)
{
	if (atomic_load_explicit(&nfull, memory_order_relaxed) <= 0)
		return NULL;
	struct cds_lfs_node *n = cds_lfs_pop_blocking(&full_stack);
	if (!n)
		return NULL;
	atomic_fetch_sub(&nfull, 1);
	return caa_container_of(n, struct gc_work, node);
}

bool gc_work_available(void)
{
	return atomic_load(&nfull) > 0;
}

void gc_marker_init(struct gc_marker *m, bool checkmark)
{
	memset(m, 0, sizeof *m);
	m->checkmark = checkmark;
}

void gc_marker_flush(struct gc_marker *m)
{
	if (m->cur && m->cur->n) {
		put_full(m->cur);
		m->cur = NULL;
	}
	if (m->spare && m->spare->n) {
		put_full(m->spare);
		m->spare = NULL;
	}
	if (m->cur) {
		put_empty(m->cur);
		m->cur = NULL;
	}
	if (m->spare) {
		put_empty(m->spare);
		m->spare = NULL;
	}
	if (!m->checkmark) {
		if (m->marked_bytes)
			atomic_fetch_add(&gc_st.marked_bytes, m->marked_bytes);
		if (m->scanned)
			atomic_fetch_add(&gc_st.mark_scan_work, m->scanned);
		gc_stat_add(&gc_counters.marked_objects, m->marked);
		gc_stat_add(&gc_counters.scanned_bytes, m->scanned);
	}
	m->marked_bytes = m->scanned = m->marked = 0;
}

bool gc_marker_empty(const struct gc_marker *m)
{
	return (!m->cur || !m->cur->n) && (!m->spare || !m->spare->n);
}

static void push(struct gc_marker *m, uintptr_t obj)
{
	struct gc_work *w = m->cur;
	if (__builtin_expect(!w || w->n == GC_WORK_CAP, 0)) {
		if (w && m->spare && m->spare->n < GC_WORK_CAP) {
			m->cur = m->spare;
			m->spare = w;
		} else {
			if (m->spare)
				put_full(m->spare);
			m->spare = w;
			m->cur = get_empty();
		}
		w = m->cur;
	}
	w->obj[w->n++] = obj;
}

static bool pop(struct gc_marker *m, uintptr_t *obj)
{
	struct gc_work *w = m->cur;
	if (w && w->n) {
		*obj = w->obj[--w->n];
		return true;
	}
	if (m->spare && m->spare->n) {
		m->cur = m->spare;
		m->spare = w;
		*obj = m->cur->obj[--m->cur->n];
		return true;
	}
	struct gc_work *f = get_full();
	if (!f)
		return false;
	if (w)
		put_empty(w);
	m->cur = f;
	*obj = f->obj[--f->n];
	return true;
}

/* Scan work charged per object marked, in bytes: finding and marking a
 * noscan object costs about as much as scanning a few words. */
#define GC_SHADE_WORK 32

static inline uint64_t *marks_of(struct gc_marker *m, struct gc_span *s)
{
	return m->checkmark ? s->check_bits : s->mark_bits;
}

void gc_shade_obj(struct gc_marker *m, struct gc_span *s, uint32_t idx, uintptr_t obj)
{
	if (gc_bit_test_and_set(marks_of(m, s), idx))
		return;
	m->marked++;
	m->marked_bytes += s->elemsize;
	m->scanned += GC_SHADE_WORK;  /* marking costs work even when nothing is scanned */
	if (!s->noscan)
		push(m, obj);
}

void gc_shade(struct gc_marker *m, uintptr_t p)
{
	struct gc_span *s;
	uint32_t idx;
	uintptr_t obj = gc_find_object(p, &s, &idx);
	if (!obj || !gc_span_allocated(s, idx))
		return;
	gc_shade_obj(m, s, idx, obj);
}

/* A precise pointer field holding p, in object `from`: shade it, and in the
 * verifier check it does not lead to a free slot. A precise pointer leads
 * to an allocated object (the verifier checks that), so unlike a stack word
 * it skips the allocated test, whose read of freeindex would pull the
 * allocating worker's span line to this core. */
static inline void shade_field(struct gc_marker *m, uintptr_t p, uintptr_t from)
{
	if (p < 4096)
		return;
	if (__builtin_expect(m->checkmark, 0)) {
		gc_verify_field(m, p, from);
		return;
	}
	struct gc_span *s;
	uint32_t idx;
	uintptr_t obj = gc_find_object(p, &s, &idx);
	if (obj)
		gc_shade_obj(m, s, idx, obj);
}

/* Scans the elements of an array of t (bytes long, at obj) that start in
 * [from, to). */
static void scan_offsets(struct gc_marker *m, const struct gc_type *t, uintptr_t obj, size_t bytes,
			 size_t from, size_t to)
{
	size_t first = (from + t->size - 1) / t->size * t->size;
	for (size_t base = first; base < to && base + t->size <= bytes; base += t->size)
		for (uint32_t k = 0; k < t->nptrs; k++) {
			uintptr_t v = __atomic_load_n((uintptr_t *)(obj + base + t->offsets[k]), __ATOMIC_RELAXED);
			shade_field(m, v, obj);
		}
}

/* Large objects are scanned in oblets of GC_OBLET bytes (Go's scheme), so
 * several markers and assists share one big array: the gray entry for the
 * object scans its first oblet and pushes the others as interior pointers,
 * which drain recognizes (an entry that is not a span's base). */
#define GC_OBLET ((size_t)128 * 1024)

static void scan_large(struct gc_marker *m, struct gc_span *s, uintptr_t entry)
{
	const struct gc_type *t = __atomic_load_n(&s->large_type, __ATOMIC_RELAXED);   /* cleared by gc_layer_span_kill_large */
	size_t bytes = t ? t->size * s->large_count : 0;
	size_t from = entry - s->base;
	if (from == 0)
		for (size_t off = GC_OBLET; off < bytes; off += GC_OBLET)
			push(m, s->base + off);
	size_t to = from + GC_OBLET < bytes ? from + GC_OBLET : bytes;
	if (t)
		scan_offsets(m, t, s->base, bytes, from, to);
	m->scanned += to > from ? to - from : 0;
}

void gc_scan_object(struct gc_marker *m, struct gc_span *s, uint32_t idx, uintptr_t obj)
{
	if (s->noscan)
		return;
	if (s->large) {
		if (obj == s->base) {
			/* Whole-object scans (finalizer roots) go oblet by oblet too. */
			scan_large(m, s, obj);
		}
		return;
	}
	m->scanned += s->elemsize;
	if (s->ptr_bits) {
		size_t ew = s->elemsize / GC_WORD;
		size_t bit = (size_t)idx * ew;
		for (size_t i = 0; i < ew;) {
			size_t b = bit + i;
			uint64_t word = atomic_load_explicit(&s->ptr_bits[b >> 6], memory_order_relaxed) >> (b & 63);
			size_t avail = 64 - (b & 63);
			if (avail > ew - i)
				avail = ew - i;
			if (avail < 64)
				word &= ((uint64_t)1 << avail) - 1;
			while (word) {
				size_t j = (size_t)__builtin_ctzll(word);
				word &= word - 1;
				uintptr_t v = __atomic_load_n((uintptr_t *)obj + i + j, __ATOMIC_RELAXED);
				shade_field(m, v, obj);
			}
			i += avail;
		}
		return;
	}
	const struct gc_type *t = s->types ? s->types[idx] : NULL;
	if (t)
		scan_offsets(m, t, obj, s->elemsize, 0, s->elemsize);
}

GC_NO_ASAN void gc_scan_conservative(struct gc_marker *m, const void *lo, const void *hi)
{
	uintptr_t a = ((uintptr_t)lo + 7) & ~(uintptr_t)7;
	if (__builtin_expect(m->checkmark, 0)) {
		/* The verifier's re-mark: a word that may not be a pointer. */
		for (; a + 8 <= (uintptr_t)hi; a += 8) {
			uintptr_t v = *(const uintptr_t *)a;
			if (v >= 4096)
				gc_verify_word(m, v);
		}
		return;
	}
	for (; a + 8 <= (uintptr_t)hi; a += 8) {
		uintptr_t v = *(const uintptr_t *)a;
		if (v >= 4096)
			gc_shade(m, v);
	}
}

static inline void scan_gray(struct gc_marker *m, uintptr_t obj)
{
	struct gc_span *s = gc_span_of(obj);
	if (s->large)
		scan_large(m, s, obj);
	else
		gc_scan_object(m, s, gc_span_index(s, obj), obj);
}

/* Objects popped from the gray stack wait in a small FIFO, prefetched, for
 * GC_PREFETCH_DEPTH more pops before they are scanned, so the cache miss on
 * each object overlaps the scanning of the ones before it (the mark-stack
 * prefetching of bdwgc and OCaml). The FIFO is emptied back onto the
 * stack, newest first, before returning and before every poll: its entries
 * are gray and exist nowhere else. */
#define GC_PREFETCH_DEPTH 8

uint64_t gc_drain(struct gc_marker *m, uint64_t budget, bool poll)
{
	uint64_t start = m->scanned;
	uintptr_t ring[GC_PREFETCH_DEPTH];
	unsigned head = 0, len = 0, n = 0;
	uintptr_t obj;
	for (;;) {
		if (len < GC_PREFETCH_DEPTH && pop(m, &obj)) {
			__builtin_prefetch((const void *)obj);
			ring[(head + len++) % GC_PREFETCH_DEPTH] = obj;
			if (len < GC_PREFETCH_DEPTH)
				continue;
		}
		if (len == 0)
			break;
		obj = ring[head];
		head = (head + 1) % GC_PREFETCH_DEPTH;
		len--;
		scan_gray(m, obj);
		if (budget && m->scanned - start >= budget)
			break;
		if (poll && (++n & 63) == 0) {
			/* A stop at this poll may end the mark phase: no gray
			 * object may be hidden in the FIFO then. */
			while (len)
				push(m, ring[(head + --len) % GC_PREFETCH_DEPTH]);
			sched_poll();
		}
	}
	while (len)
		push(m, ring[(head + --len) % GC_PREFETCH_DEPTH]);
	return m->scanned - start;
}

void gc_shade_barrier(uintptr_t p)
{
	if (p < 4096)
		return;
	int w = sched_worker_index();
	if (w < 0)
		gc_fatal("gc_store: called outside a goroutine while the collector marks");
	gc_shade(gc_caches[w].barrier, p);
}

bool gc_flush_barrier_buffers(void)
{
	bool any = false;
	int n = gc_ncaches();
	for (int w = 0; w < n; w++) {
		struct gc_marker *m = gc_caches[w].barrier;
		if (!gc_marker_empty(m))
			any = true;
		gc_marker_flush(m);
	}
	return any;
}

/* The running transaction's window for the inline barrier; the layer
 * (toc/) keeps it current. Zero: no window. */
__thread struct gc_tls_window gc_tls_window;

/* Go's hybrid barrier while the collector marks: shade the pointer being
 * overwritten (Yuasa) and the one being written (Dijkstra). */
static void shade_store(void **slot, void *val)
{
	if (__atomic_load_n(&gc_barrier_on, __ATOMIC_RELAXED) & GC_BARRIER_MARK) {
		gc_shade_barrier((uintptr_t)__atomic_load_n(slot, __ATOMIC_RELAXED));
		gc_shade_barrier((uintptr_t)val);
	}
}

void gc_store_mark(void **slot, void *val)
{
	shade_store(slot, val);
	__atomic_store_n(slot, val, __ATOMIC_RELAXED);
}

void gc_store_slow(void *obj, void **slot, void *val)
{
	shade_store(slot, val);
	/* Publication before the store: no other goroutine can load val from
	 * obj while val is still unpublished. */
	if ((__atomic_load_n(&gc_barrier_on, __ATOMIC_RELAXED) & GC_BARRIER_TOC) && gc_layer)
		gc_layer->store(obj, val);
	__atomic_store_n(slot, val, __ATOMIC_RELAXED);
}
