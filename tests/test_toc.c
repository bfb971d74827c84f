/*
 * test_toc.c — the transaction-oriented layer: publication of every graph
 * shape, each publication point, rewind (a rewound slot is reused, a
 * published one is not), toc_end with window objects held on the stack and
 * in a callee-saved register, TOC_REWIND=0 (closed windows left to the
 * collector), windows through marks, flips and cycles, the verifier's
 * reports of a broken invariant, and a seeded model-based torture run
 * through cycles forced back to back, most windows overlapping a mark,
 * with the verifier (heap and TOC invariant) and poison on.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "gc/src/internal.h"
#include "toc/chan.h"
#include "toc/toc.h"

struct node {
	struct node *a, *b;
	uint64_t val;
	uint64_t id;
};
GC_TYPE(node_type, struct node, a, b);

/* A pointer-free object above the owned classes (a local large object). */
struct big { char bytes[3000]; };
GC_TYPE_NOPTR(big_type, struct big);

static void *root_slot[4];

static void toc_up_cfg(int verify, bool paced)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.mode = GC_MODE_CMS;
	cfg.toc = 1;
	cfg.verify = verify;
	cfg.poison = 1;
	if (!paced)
		cfg.gogc = GC_GOGC_OFF;   /* cycles only where a test asks for one */
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	memset(root_slot, 0, sizeof root_slot);
	gc_add_roots(root_slot, 4);
}

/* Every rewind checked too (TOC_GCVERIFY=2); no paced cycles, so the
 * window counts the tests assert are exact. */
static void toc_up(void)
{
	toc_up_cfg(2, false);
}

static void toc_down(void)
{
	gc_fini();
}

/* Window state of the object at p, read from the heap's metadata. */
static bool in_window(const void *p)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object((uintptr_t)p, &s, &idx))
		return false;
	return s->layer.window != NULL && idx >= s->layer.win_start && idx < s->freeindex;
}

static bool published(const void *p)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object((uintptr_t)p, &s, &idx))
		return false;
	return gc_bit(s->alloc_bits, idx);
}

static bool local_unpublished(const void *p)
{
	return in_window(p) && !published(p);
}

static struct node *mk(uint64_t val)
{
	struct node *n = gc_alloc(&node_type);
	n->val = val;
	n->id = val * 7919;
	return n;
}

/* --- graph shapes ------------------------------------------------------------------------ */

static void shapes_body(void *arg)
{
	(void)arg;
	TCHECK(toc_enabled());
	/* chain a -> b -> c, cycle c -> a, diamond a -> d, b -> e, d -> e (e reached two ways),
	 * self-loop f -> f, and an unreachable g that points into the graph. */
	struct node *a = mk(1), *b = mk(2), *c = mk(3), *d = mk(4), *e = mk(5), *f = mk(6), *g = mk(7);
	gc_store(a, &a->a, b);
	gc_store(b, &b->a, c);
	gc_store(c, &c->a, a);
	gc_store(a, &a->b, d);
	gc_store(b, &b->b, e);
	gc_store(d, &d->a, e);
	gc_store(c, &c->b, f);
	gc_store(f, &f->a, f);
	gc_store(g, &g->a, a);
	/* An array of pointers and an array of structs. */
	void **arr = gc_alloc_array(&gc_type_ptr, 10);
	struct node *h = mk(8), *i = mk(9);
	gc_store(arr, &arr[3], h);
	gc_store(arr, &arr[9], i);
	struct node *vec = gc_alloc_array(&node_type, 4);
	struct node *j = mk(10);
	gc_store(vec, &vec[2].b, j);
	gc_store(e, &e->b, arr);
	gc_store(d, &d->b, vec);
	struct node *all[] = {a, b, c, d, e, f, g, h, i, j};
	for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
		TCHECK(local_unpublished(all[k]));
	TCHECK(local_unpublished(arr) && local_unpublished(vec));

	struct toc_stats before, after;
	toc_read_stats(&before);
	gc_store(NULL, &root_slot[0], a);   /* a global: publishes a's closure */
	toc_read_stats(&after);
	for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
		TCHECK(all[k] == g ? local_unpublished(g) : published(all[k]));
	TCHECK(published(arr) && published(vec));
	TCHECK(after.pub_store - before.pub_store == 11);  /* a..f, h, i, j, arr, vec */
	TCHECK(after.publish_walks - before.publish_walks == 1);

	/* Objects over 2 KiB, up to a quarter of a region, are local large
	 * objects: stores into them publish nothing, and publishing one
	 * publishes its closure, the pointers in every element of an array. */
	void **large = gc_alloc_array(&gc_type_ptr, 8192);
	struct big *bg = gc_alloc(&big_type);
	struct node *lvec = gc_alloc_array(&node_type, 200);   /* 6400 B: a class over 2 KiB */
	TCHECK(local_unpublished(large) && local_unpublished(bg) && local_unpublished(lvec));
	struct node *k1 = mk(11), *k4 = mk(14);
	gc_store(large, &large[100], k1);
	gc_store(lvec, &lvec[150].b, k4);
	gc_store(large, &large[8000], lvec);
	TCHECK(local_unpublished(k1) && local_unpublished(k4));
	gc_store(NULL, &root_slot[2], &large[50]);   /* an interior pointer publishes the whole object */
	TCHECK(published(large) && published(k1) && published(lvec) && published(k4));
	TCHECK(local_unpublished(bg));
	/* Over a quarter of a region: shared, and storing into it publishes. */
	void **huge = gc_alloc_array(&gc_type_ptr, 32768);   /* 256 KiB */
	TCHECK(!in_window(huge));
	struct node *k5 = mk(15);
	gc_store(huge, &huge[7], k5);
	TCHECK(published(k5));
	gc_store(NULL, &root_slot[2], NULL);
	/* Stores into window objects publish nothing; into a published one they do. */
	struct node *k2 = mk(12), *k3 = mk(13);
	gc_store(g, &g->b, k2);
	TCHECK(local_unpublished(k2));
	gc_store(a, &a->b, k3);
	TCHECK(published(k3));
	gc_keep_alive(g);
	gc_store(NULL, &root_slot[0], NULL);
}

static void test_shapes(void)
{
	toc_up();
	harness_run(2, shapes_body, NULL);
	toc_down();
}

/* --- publication points ----------------------------------------------------------------------- */

static struct sched_chan *pt_chan;
static _Atomic int child_ok;

static void child_reads(void *arg)
{
	struct node *n = arg;
	atomic_store(&child_ok, n->val == 21 && n->a && n->a->val == 22);
	struct node *got;
	sched_chan_recv(pt_chan, &got);
	if (!(got->val == 23 && got->a->val == 24))
		atomic_store(&child_ok, 0);
	sched_chan_send(pt_chan, &got);   /* ack */
}

static void fin(void *obj, void *arg)
{
	(void)obj;
	(void)arg;
}

static void points_body(void *arg)
{
	(void)arg;
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	pt_chan = sched_chan_new(sizeof(void *), 0);
	/* goroutine argument */
	struct node *x = mk(21);
	gc_store(x, &x->a, mk(22));
	sched_go(child_reads, x);
	TCHECK(published(x) && published(x->a));
	/* channel send */
	struct node *y = mk(23);
	gc_store(y, &y->a, mk(24));
	sched_chan_send(pt_chan, &y);
	TCHECK(published(y) && published(y->a));
	struct node *ack;
	sched_chan_recv(pt_chan, &ack);
	TCHECK(atomic_load(&child_ok) == 1);
	/* toc_publish */
	struct node *z = mk(25);
	toc_publish(z);
	TCHECK(published(z));
	/* finalizer: the object and its argument */
	struct node *w = mk(26), *warg = mk(27);
	TCHECK(gc_set_finalizer(w, fin, warg) == 0);
	TCHECK(published(w) && published(warg));
	/* store into a published object */
	struct node *v = mk(28);
	gc_store(z, &z->a, v);
	TCHECK(published(v));
	toc_read_stats(&s1);
	TCHECK(s1.pub_spawn - s0.pub_spawn == 2);
	TCHECK(s1.pub_send - s0.pub_send == 2);
	TCHECK(s1.pub_api - s0.pub_api == 3);
	TCHECK(s1.pub_store - s0.pub_store == 1);
	gc_set_finalizer(w, NULL, NULL);
	sched_chan_free(pt_chan);
}

static void test_points(void)
{
	toc_up();
	harness_run(2, points_body, NULL);
	toc_down();
}

/* --- rewind -------------------------------------------------------------------------------------- */

#define HIDE 0x5a5a5a5a5a5a5a5aull

/* Allocates a window object and returns its address hidden from the stack scan. */
static __attribute__((noinline)) uint64_t alloc_hidden(uint64_t val)
{
	return (uint64_t)(uintptr_t)mk(val) ^ HIDE;
}

static __attribute__((noinline)) void scrub(void)
{
	volatile char junk[8192];
	memset((char *)junk, 0, sizeof junk);
}

static __attribute__((noinline)) uint64_t alloc_hidden_large(void)
{
	return (uint64_t)(uintptr_t)gc_alloc_array(&gc_type_ptr, 4096) ^ HIDE;
}

static void rewind_body(void *arg)
{
	(void)arg;
	toc_end();   /* a fresh window */
	uint64_t dead = alloc_hidden(31);
	struct node *kept = mk(32);
	gc_store(NULL, &root_slot[1], kept);
	uint64_t dead2 = alloc_hidden(33);
	uintptr_t kept_addr = (uintptr_t)kept;
	kept = NULL;
	scrub();
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	toc_end();
	toc_read_stats(&s1);
	TCHECK(s1.rewinds - s0.rewinds == 1);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects == 2);
	/* The next allocations reuse the dead slots, never the published one. */
	struct node *n1 = mk(34), *n2 = mk(35);
	TCHECK((uintptr_t)n1 == (uintptr_t)(dead ^ HIDE));
	TCHECK((uintptr_t)n2 == (uintptr_t)(dead2 ^ HIDE));
	TCHECK((uintptr_t)n1 != kept_addr && (uintptr_t)n2 != kept_addr);
	TCHECK(n1->a == NULL && n1->b == NULL);   /* zeroed again */
	struct node *k = root_slot[1];
	TCHECK(k->val == 32 && k->id == 32 * 7919 && published(k));
	gc_store(NULL, &root_slot[1], NULL);

	/* Local large objects: the unpublished one's pages come back, the
	 * published one keeps its own. */
	toc_end();
	void **lk = gc_alloc_array(&gc_type_ptr, 4096);   /* 32 KiB, four pages */
	lk[10] = (void *)0x5eed;
	gc_store(NULL, &root_slot[1], lk);
	uint64_t ldead = alloc_hidden_large();
	uintptr_t lk_addr = (uintptr_t)lk;
	lk = NULL;
	scrub();
	toc_read_stats(&s0);
	toc_end();
	toc_read_stats(&s1);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects == 1);
	TCHECK(s1.reclaimed_bytes - s0.reclaimed_bytes == 32768);
	void **again = gc_alloc_array(&gc_type_ptr, 4096);
	TCHECK((uintptr_t)again == (uintptr_t)(ldead ^ HIDE));
	TCHECK((uintptr_t)again != lk_addr && again[0] == NULL && again[4095] == NULL);   /* zeroed again */
	void **lkept = root_slot[1];
	TCHECK(lkept[10] == (void *)0x5eed && published(lkept));
	gc_store(NULL, &root_slot[1], NULL);
}

/* A goroutine's exit rewinds its window: the next goroutine on the worker reuses the slots. */
static _Atomic uint64_t exit_addr;
static void exiting(void *arg)
{
	struct sched_chan *done = arg;
	atomic_store(&exit_addr, alloc_hidden(41));
	int one = 1;
	sched_chan_send(done, &one);
}

static void exit_body(void *arg)
{
	(void)arg;
	struct sched_chan *done = sched_chan_new(sizeof(int), 1);
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	sched_go(exiting, done);
	int one;
	sched_chan_recv(done, &one);
	for (int i = 0; i < 100; i++)
		sched_gosched();   /* let it exit */
	toc_read_stats(&s1);
	TCHECK(s1.rewinds - s0.rewinds >= 1);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects >= 1);
	sched_chan_free(done);
}

static void test_rewind(void)
{
	toc_up();
	harness_run(1, rewind_body, NULL);
	harness_run(1, exit_body, NULL);
	toc_down();
}

/* --- TOC_REWIND=0: windows close without a rewind ------------------------------------------------- */

#define NOREWIND_DEAD 200

/* Is the object at hidden ^ HIDE allocated as the collector sees it: in a
 * span no window owns, its alloc bit set or below freeindex? The address
 * is unhidden here, so no frame of the caller holds it across a cycle. */
static __attribute__((noinline)) bool collector_allocated(uint64_t hidden)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object((uintptr_t)(hidden ^ HIDE), &s, &idx) || s->layer.window)
		return false;
	return gc_bit(s->alloc_bits, idx) || idx < s->freeindex;
}

/* How many of the n hidden objects the collector sees allocated. */
static int count_allocated(const uint64_t *hidden, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += collector_allocated(hidden[i]);
	return k;
}

static void norewind_body(void *arg)
{
	(void)arg;
	/* The dead objects' addresses, hidden, in memory the collector does
	 * not scan: a stale copy on the stack may keep one alive, not all. */
	uint64_t *dead = malloc(NOREWIND_DEAD * sizeof *dead);
	TCHECK(dead != NULL);
	toc_end();   /* a fresh window */
	for (int i = 0; i < NOREWIND_DEAD; i++)
		dead[i] = alloc_hidden(100 + (uint64_t)i);
	struct node *kept = mk(80);
	gc_store(NULL, &root_slot[1], kept);
	kept = NULL;
	scrub();
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	toc_end();
	toc_read_stats(&s1);
	TCHECK(s1.windows - s0.windows == 1);
	TCHECK(s1.unrewound - s0.unrewound == 1);
	TCHECK(s1.rewinds == s0.rewinds && s1.reclaimed_bytes == s0.reclaimed_bytes);
	uint64_t forfeited = s1.forfeited_bytes - s0.forfeited_bytes;
	TCHECK(forfeited >= NOREWIND_DEAD * sizeof(struct node));
	TCHECK(s1.local_bytes - s0.local_bytes == forfeited + (s1.published_bytes - s0.published_bytes));
	/* The dead slots are not reused: the next window has a region of its
	 * own, and they are allocated objects of the collector's. */
	struct node *n = mk(90);
	TCHECK(local_unpublished(n));
	for (int i = 0; i < NOREWIND_DEAD; i++)
		TCHECK((uint64_t)(uintptr_t)n != (dead[i] ^ HIDE));
	TCHECK(count_allocated(dead, NOREWIND_DEAD) == NOREWIND_DEAD);
	/* A cycle frees them and keeps the published one. */
	struct gc_stats g0, g1;
	gc_read_stats(&g0);
	gc_collect();
	gc_read_stats(&g1);
	TCHECK(g1.cycles - g0.cycles >= 1);
	TCHECK(count_allocated(dead, NOREWIND_DEAD) <= NOREWIND_DEAD / 10);
	struct node *k = root_slot[1];
	TCHECK(k->val == 80 && k->id == 80 * 7919 && published(k));
	gc_store(NULL, &root_slot[1], NULL);
	gc_keep_alive(n);
	free(dead);
}

static void test_norewind(void)
{
	setenv("TOC_REWIND", "0", 1);
	toc_up();
	unsetenv("TOC_REWIND");
	harness_run(1, norewind_body, NULL);
	toc_down();
}

/* --- toc_end with window objects on the stack and in a register ------------------------------------- */

static __attribute__((noinline)) struct node *fresh_node(uint64_t v)
{
	return mk(v);
}

static void stack_body(void *arg)
{
	(void)arg;
	toc_end();
	struct node *on_stack = fresh_node(51);
	gc_store(on_stack, &on_stack->a, fresh_node(52));
	volatile uintptr_t spill = (uintptr_t)on_stack;   /* a stack slot for certain */
	on_stack = NULL;
	register struct node *in_reg __asm__("r12") = fresh_node(53);
	__asm__ volatile("" : "+r"(in_reg));
	toc_end();
	__asm__ volatile("" : "+r"(in_reg));
	struct node *s = (struct node *)spill;
	TCHECK(published(s) && published(s->a) && published(in_reg));
	/* Fill the window again: nothing may land on them. */
	for (int i = 0; i < 2000; i++) {
		struct node *n = mk(1000 + (uint64_t)i);
		TCHECK(n != s && n != s->a && n != in_reg);
	}
	TCHECK(s->val == 51 && s->a->val == 52 && in_reg->val == 53);
	TCHECK(s->id == 51 * 7919 && in_reg->id == 53 * 7919);
}

static void test_stack(void)
{
	toc_up();
	harness_run(1, stack_body, NULL);
	toc_down();
}

/* --- toc_run, and arrays of pointers through the barrier ---------------------------------------- */

static struct node *run_kept;

/* A handler that leaves window pointers in dead locals of its own frame
 * and publishes one object through a root. */
static __attribute__((noinline)) void run_handler(void *arg)
{
	volatile struct node *dead[8];
	for (int i = 0; i < 8; i++)
		dead[i] = mk(700 + (uint64_t)i);
	struct node *keep = mk((uint64_t)(uintptr_t)arg);
	gc_store(NULL, &root_slot[3], keep);
	run_kept = keep;
	(void)dead;
}

static int by_val(const void *x, const void *y)
{
	const struct node *a = *(struct node *const *)x, *b = *(struct node *const *)y;
	return a->val < b->val ? -1 : a->val > b->val;
}

static void run_body(void *arg)
{
	(void)arg;
	struct toc_stats s0, s1;
	toc_end();
	toc_read_stats(&s0);
	toc_run(run_handler, (void *)(uintptr_t)77);
	toc_read_stats(&s1);
	/* The handler's dead locals were below toc_run's frame: not published. */
	TCHECK(s1.pub_stack == s0.pub_stack);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects >= 8);
	TCHECK(published(run_kept) && run_kept->val == 77 && run_kept->id == 77 * 7919);

	/* gc_copy_ptrs into a published array publishes the window objects it
	 * copies; gc_sort_ptrs keeps them. */
	void **arr = gc_alloc_array(&gc_type_ptr, 64);
	gc_store(NULL, &root_slot[1], arr);   /* published, empty */
	toc_end();
	struct node *src[64];
	for (int i = 0; i < 64; i++)
		src[i] = mk((uint64_t)(1000 - i));
	TCHECK(local_unpublished(src[5]));
	gc_copy_ptrs(arr, arr, (void *const *)src, 64);
	for (int i = 0; i < 64; i++)
		TCHECK(published(src[i]));
	/* An overlapping move: arr[1..64) = arr[0..63). */
	gc_copy_ptrs(arr, arr + 1, arr, 63);
	TCHECK(arr[1] == src[0] && arr[63] == src[62] && arr[0] == src[0]);
	gc_store(arr, &arr[0], src[63]);
	TCHECK(gc_sort_ptrs(arr, arr, 64, by_val) == 0);
	memset(src, 0, sizeof src);
	toc_end();   /* poison: a rewound slot would be overwritten */
	for (int i = 0; i < 64; i++) {
		struct node *n = arr[i];
		TCHECK(n->id == n->val * 7919);
		TCHECK(i == 0 || ((struct node *)arr[i - 1])->val < n->val);
	}
	gc_store(NULL, &root_slot[1], NULL);
	gc_store(NULL, &root_slot[3], NULL);
}

static void test_run_and_arrays(void)
{
	toc_up();
	harness_run(1, run_body, NULL);
	toc_down();
}

/* --- windows through the collector's cycles ------------------------------------------------------- */

/* A live list long enough that marking it takes many transactions. */
static void big_live_list(int slot)
{
	struct node *head = NULL;
	for (int i = 0; i < 200000; i++) {
		struct node *n = mk((uint64_t)i);
		gc_store(n, &n->a, head);
		head = n;
	}
	gc_store(NULL, &root_slot[slot], head);
}

static _Atomic int cycle_done;

static void run_cycle(void *arg)
{
	(void)arg;
	gc_collect();
	atomic_store(&cycle_done, 1);
}

/* Starts a cycle on another goroutine and waits, yielding (so the caller's
 * window is not claimed: it runs in the cycle), until its mark runs.
 * Returns false when the whole cycle passed before that was seen. */
static bool start_mark(void)
{
	atomic_store(&cycle_done, 0);
	uint64_t done0 = atomic_load(&gc_st.cycles_done);
	sched_go(run_cycle, NULL);
	while (atomic_load(&gc_st.phase) != GC_PHASE_MARK) {
		if (atomic_load(&gc_st.cycles_done) != done0)
			return false;
		sched_gosched();
	}
	return true;
}

/* Waits, running (yielding), until the cycle started by start_mark is done. */
static void finish_cycle(void)
{
	while (!atomic_load(&cycle_done) || atomic_load(&gc_st.phase) != GC_PHASE_OFF)
		sched_gosched();
}

/* n window nodes, a chain; returns its head. */
static struct node *chain(int n, uint64_t base)
{
	struct node *t = NULL;
	for (int i = 0; i < n; i++) {
		struct node *x = mk(base + (uint64_t)i);
		gc_store(x, &x->a, t);
		t = x;
	}
	return t;
}

static bool chain_ok(const struct node *t, int n, uint64_t base)
{
	for (int i = n - 1; i >= 0; i--, t = t->a)
		if (!t || t->val != base + (uint64_t)i || t->id != (base + (uint64_t)i) * 7919)
			return false;
	return t == NULL;
}

/* The cases one at a time: a window opened before a mark and closed
 * during it; opened and closed during a mark; each rewinds everything
 * unpublished, keeps what was published, and no allocation goes to the
 * shared caches. Retried when the mark ends before the step that needs it. */
static __attribute__((noinline)) int overlap_before(void)
{
	struct toc_stats s0, s1;
	toc_end();
	toc_read_stats(&s0);
	struct node *kept = chain(50, 1000);
	gc_store(NULL, &root_slot[2], kept);   /* published before the mark */
	(void)chain(100, 2000);                /* dies */
	if (!start_mark())
		return -1;
	struct node *late = chain(50, 3000);
	gc_store(NULL, &root_slot[3], late);   /* published during it */
	(void)chain(100, 4000);
	if (atomic_load(&gc_st.phase) != GC_PHASE_MARK) {
		finish_cycle();
		return -1;
	}
	toc_end();   /* during the mark */
	toc_read_stats(&s1);
	finish_cycle();
	TCHECK(s1.rewinds - s0.rewinds == 1 && s1.mark_windows - s0.mark_windows == 1);
	TCHECK(s1.forfeits == s0.forfeits);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects >= 200);
	TCHECK(s1.mark_reclaimed_bytes - s0.mark_reclaimed_bytes >= 200 * sizeof(struct node));
	TCHECK(s1.marking_bytes == s0.marking_bytes);
	TCHECK(chain_ok(root_slot[2], 50, 1000) && chain_ok(root_slot[3], 50, 3000));
	return 1;
}

static void one_transaction(void *arg)
{
	(void)arg;
	struct node *t = chain(64, 5000);
	(void)gc_alloc_array(&gc_type_ptr, 40);
	TCHECK(chain_ok(t, 64, 5000));
}

static __attribute__((noinline)) int overlap_during(void)
{
	struct toc_stats s0, s1;
	toc_end();
	if (!start_mark())
		return -1;
	toc_read_stats(&s0);
	int windows = 0;
	while (atomic_load(&gc_st.phase) == GC_PHASE_MARK && windows < 50) {
		toc_run(one_transaction, NULL);
		windows++;
	}
	toc_read_stats(&s1);
	finish_cycle();
	if (windows < 10)
		return -1;   /* too short a mark to judge */
	TCHECK(s1.mark_windows - s0.mark_windows >= (uint64_t)windows);
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects >= (uint64_t)windows * 65);
	TCHECK(s1.marking_bytes == s0.marking_bytes);
	/* The same region again and again, not a region per transaction. */
	TCHECK(s1.regions_made - s0.regions_made <= 2);
	return 1;
}

/* A window that lives through one or two whole cycles while its goroutine
 * runs: the flip leaves its region unswept, its next allocation sweeps it
 * in place (or the sweeper did), and its end rewinds what it allocated
 * before and after the cycles alike. A published object that died in the
 * cycle is no longer published: it went back to the window. The held
 * chain is in a plain C variable, out of the collector's sight: an
 * unpublished object is its goroutine's whatever the marks say. */
static struct node *flip_held;
static uint64_t flip_dead;

static __attribute__((noinline)) void flip_before(void)
{
	gc_store(NULL, &root_slot[2], chain(40, 6000));
	struct node *dead = mk(7);
	gc_store(NULL, &root_slot[3], dead);
	gc_store(NULL, &root_slot[3], NULL);   /* published, then dropped: dead at the flip */
	flip_dead = (uint64_t)(uintptr_t)dead ^ HIDE;
	(void)chain(100, 7000);
	flip_held = chain(30, 8000);
}

static __attribute__((noinline)) void flip_after(void)
{
	struct node *held = flip_held;
	struct node *dead = (struct node *)(uintptr_t)(flip_dead ^ HIDE);
	TCHECK(published(root_slot[2]));
	TCHECK(local_unpublished(held));
	TCHECK(local_unpublished(dead));
	TCHECK(chain_ok(held, 30, 8000));
	struct node *after = chain(40, 9000);
	gc_store(held, &held->b, after);   /* into an unpublished object: nothing published */
	TCHECK(local_unpublished(after));
	gc_store(NULL, &root_slot[3], held);   /* publishes held's closure, after included */
	TCHECK(published(held) && published(after) && chain_ok(held, 30, 8000));
	flip_held = NULL;
	(void)chain(100, 10000);
}

static __attribute__((noinline)) int overlap_flip(int cycles)
{
	struct toc_stats s0, s1;
	toc_end();
	toc_read_stats(&s0);
	flip_before();
	for (int c = 0; c < cycles; c++) {
		if (!start_mark()) {
			flip_held = NULL;
			toc_end();
			return -1;
		}
		finish_cycle();
	}
	flip_after();
	toc_end();
	toc_read_stats(&s1);
	TCHECK(s1.rewinds - s0.rewinds == 1 && s1.mark_windows - s0.mark_windows == 1);
	TCHECK(s1.forfeits == s0.forfeits);
	/* 100 before the cycles, the dead one, 100 after. */
	TCHECK(s1.reclaimed_objects - s0.reclaimed_objects >= 201);
	TCHECK((s1.regions_swept - s0.regions_swept) + (s1.regions_swept_bg - s0.regions_swept_bg) >= (uint64_t)cycles);
	TCHECK(chain_ok(root_slot[2], 40, 6000));
	struct node *h = root_slot[3];
	TCHECK(chain_ok(h, 30, 8000) && chain_ok(h->b, 40, 9000));
	return 1;
}

static void overlap_body(void *arg)
{
	(void)arg;
	big_live_list(1);
	toc_end();
	int (*const cases[])(void) = {overlap_before, overlap_during};
	const char *const names[] = {"opened before a mark, closed during it", "opened and closed during a mark"};
	for (size_t k = 0; k < 2; k++) {
		int r = -1;
		for (int attempt = 0; attempt < 20 && r < 0; attempt++)
			r = cases[k]();
		if (r < 0)
			printf("  %s: the mark never lasted long enough to judge\n", names[k]);
		TCHECK(r > 0);
	}
	for (int cycles = 1; cycles <= 2; cycles++) {
		int r = -1;
		for (int attempt = 0; attempt < 20 && r < 0; attempt++)
			r = overlap_flip(cycles);
		TCHECK(r > 0);
	}
	gc_store(NULL, &root_slot[1], NULL);
	gc_store(NULL, &root_slot[2], NULL);
	gc_store(NULL, &root_slot[3], NULL);
}

static void test_overlap(void)
{
	toc_up();
	harness_run(2, overlap_body, NULL);
	toc_down();
}

/* A goroutine parked through a whole cycle with its window open: the
 * sweeper claims the region (its memory goes back to the heap), the
 * goroutine's objects stay valid as the collector's, and its next
 * allocation opens a new window. */
static void parked_owner(void *arg)
{
	struct sched_chan *ch = arg;
	struct node *held = chain(30, 11000);
	int one = 1;
	sched_chan_send(ch, &one);
	sched_chan_recv(ch, &one);   /* parked while two cycles run */
	TCHECK(chain_ok(held, 30, 11000));
	struct node *more = chain(10, 12000);
	TCHECK(local_unpublished(more) && !in_window(held));
	toc_end();
	TCHECK(chain_ok(held, 30, 11000));
	sched_chan_send(ch, &one);
}

static void parked_body(void *arg)
{
	(void)arg;
	struct sched_chan *ch = sched_chan_new(sizeof(int), 0);
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	sched_go(parked_owner, ch);
	int one;
	sched_chan_recv(ch, &one);
	gc_collect();   /* the owner parked before it began and until after its flip */
	gc_collect();
	while (atomic_load(&gc_st.phase) != GC_PHASE_OFF)
		sched_gosched();
	sched_chan_send(ch, &one);
	sched_chan_recv(ch, &one);
	toc_read_stats(&s1);
	TCHECK(s1.regions_claimed - s0.regions_claimed >= 1);
	TCHECK(s1.forfeits - s0.forfeits == 1);
	TCHECK(s1.forfeited_bytes - s0.forfeited_bytes >= 30 * sizeof(struct node));
	sched_chan_free(ch);
}

static void test_parked(void)
{
	toc_up();
	harness_run(2, parked_body, NULL);
	toc_down();
}

/* A long-lived goroutine's window that fills its region and stays open
 * through a whole cycle: claimed at the flip like a parked one (its
 * region's dead objects freed by the collector, the ones its goroutine
 * holds kept), after which the goroutine allocates from the shared caches
 * until its window would have ended; toc_end gives it windows again. */
static __attribute__((noinline)) void outlived_fill(uint64_t spills)
{
	struct toc_stats st;
	do {
		for (int i = 0; i < 1000; i++)
			(void)mk(0);   /* garbage that only the claim lets the collector free */
		toc_read_stats(&st);
	} while (st.spills == spills);
}

static void outlived_body(void *arg)
{
	(void)arg;
	toc_end();
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	struct node *held = chain(30, 21000);
	TCHECK(local_unpublished(held));
	outlived_fill(s0.spills);
	gc_collect();   /* the window opened before this cycle began: outlived at its flip */
	TCHECK(chain_ok(held, 30, 21000));
	TCHECK(!in_window(held));
	struct node *shared = mk(22000);
	TCHECK(!in_window(shared));
	gc_collect();
	TCHECK(chain_ok(held, 30, 21000));
	toc_read_stats(&s1);
	TCHECK(s1.regions_outlived - s0.regions_outlived == 1);
	TCHECK(s1.forfeits - s0.forfeits == 1);
	toc_end();
	struct node *fresh = mk(23000);
	TCHECK(local_unpublished(fresh));
	TCHECK(chain_ok(held, 30, 21000) && shared->val == 22000);
	gc_keep_alive(held);
	gc_keep_alive(shared);
}

static void test_outlived(void)
{
	toc_up();
	harness_run(2, outlived_body, NULL);
	toc_down();
}

/* A published object that dies while its window is still open, small and
 * local large: the flip's sweep of the window frees it (poisoned), and
 * until the window's rewind it counts as an unpublished window object. It
 * must scan as holding nothing: a stale stack word that reaches it during
 * the next cycle made the verifier follow its poison (a crash in the
 * chaos torture, 2 runs in 22). */
static __attribute__((noinline)) void died_publish(uint64_t *hsmall, uint64_t *hlarge)
{
	struct node *sm = mk(71);
	gc_store(sm, &sm->a, mk(72));
	gc_store(NULL, &root_slot[1], sm);
	struct node *big = gc_alloc_array(&node_type, 1000);   /* 32 KB: a local large object */
	gc_store(big, &big[0].a, mk(73));
	gc_store(NULL, &root_slot[2], big);
	*hsmall = (uint64_t)(uintptr_t)sm ^ HIDE;
	*hlarge = (uint64_t)(uintptr_t)big ^ HIDE;
	gc_store(NULL, &root_slot[1], NULL);
	gc_store(NULL, &root_slot[2], NULL);
}

/* A whole cycle run by another goroutine while this one yields: it runs in
 * the cycle, so its window is not claimed (unless the whole cycle passed
 * while its worker's thread was descheduled: the caller checks). */
static void whole_cycle(void)
{
	/* Resumed once more inside the mark: ran in this cycle for sure. */
	if (start_mark())
		sched_gosched();
	finish_cycle();
}

static void count_field(void *arg, uintptr_t value)
{
	(void)value;
	++*(uint64_t *)arg;
}

static bool scans_nothing(const void *p)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object((uintptr_t)p, &s, &idx))
		return false;
	uint64_t fields = 0;
	gc_layer_object_fields(s, idx, (uintptr_t)p, count_field, &fields);
	return fields == 0;
}

static __attribute__((noinline)) bool died_check_before(uint64_t hs, uint64_t hl)
{
	struct node *sm = (struct node *)(uintptr_t)(hs ^ HIDE), *big = (struct node *)(uintptr_t)(hl ^ HIDE);
	return published(sm) && published(big) && in_window(sm) && in_window(big) && !scans_nothing(sm) &&
	       !scans_nothing(big);
}

/* Publishes two objects, drops them and runs a cycle: true when both died
 * and are still the window's. Else again: a stale word elsewhere may keep
 * one (conservatively), or the window was claimed (this goroutine did not
 * run between the cycle's start and its flip). */
static __attribute__((noinline)) bool died_attempt(uint64_t *hs, uint64_t *hl)
{
	toc_end();
	died_publish(hs, hl);
	TCHECK(died_check_before(*hs, *hl));
	scrub();
	whole_cycle();      /* neither is marked: both die at the flip */
	(void)mk(74);       /* the window's next allocation sweeps its region */
	void *sm = (void *)(uintptr_t)(*hs ^ HIDE), *big = (void *)(uintptr_t)(*hl ^ HIDE);
	return local_unpublished(sm) && local_unpublished(big);
}

static void died_body(void *arg)
{
	(void)arg;
	/* Live data for each mark to trace, so that the marks last long
	 * enough for this goroutine to run inside them on a loaded machine
	 * (50 attempts all saw the cycle pass whole beside CPU hogs). */
	big_live_list(3);
	uint64_t hs, hl;
	int attempt = 0;
	while (!died_attempt(&hs, &hl) && ++attempt < 50)
		;
	if (!TCHECK(attempt < 50))
		return;
	/* Dead, and the window's until its rewind. */
	struct node *sm = (struct node *)(uintptr_t)(hs ^ HIDE), *big = (struct node *)(uintptr_t)(hl ^ HIDE);
	TCHECK(((uint64_t *)sm)[0] == GC_POISON_WORD && ((uint64_t *)big)[0] == GC_POISON_WORD);
	TCHECK(scans_nothing(sm) && scans_nothing(big));
	/* A word on this stack reaches both through a whole verified cycle. */
	volatile uintptr_t stale_small = (uintptr_t)sm, stale_large = (uintptr_t)big;
	sm = big = NULL;
	whole_cycle();
	stale_small = stale_large = 0;
	(void)stale_small;
	(void)stale_large;
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	toc_end();
	toc_read_stats(&s1);
	/* The rewind frees both, unless a second claim took the window. */
	TCHECK(s1.forfeits - s0.forfeits == 1 || s1.reclaimed_objects - s0.reclaimed_objects >= 2);
	gc_store(NULL, &root_slot[3], NULL);
}

static void test_died(void)
{
	toc_up();
	harness_run(2, died_body, NULL);
	toc_down();
}

/* A dead window object may hold any pointer: a window keeps its dead
 * unpublished objects until the rewind, and one may still point where an
 * object of an earlier window was, a slot another window has taken since.
 * No program can load that pointer, so the verifier must not report it:
 * at mark termination it reads only what the trace reached, at a window's
 * end only the objects that stay. Here the dead object points straight at
 * another goroutine's unpublished object, written without the barrier. */
static _Atomic uintptr_t dead_target;
static _Atomic int dead_stop;

static void dead_holder(void *arg)
{
	(void)arg;
	volatile uintptr_t p = (uintptr_t)mk(81);   /* this window's, unpublished, live */
	atomic_store(&dead_target, p);
	while (!atomic_load(&dead_stop))
		sched_gosched();
	/* Still unpublished, or the collector's if its window was claimed (a
	 * gosched with nothing else to run on this worker is not a resume):
	 * either way after the first mark termination, where it was a window's. */
	TCHECK(((struct node *)p)->val == 81);
	atomic_store(&dead_stop, 2);
}

/* Plants the dead object and checks it, all in this frame: a copy of its
 * address left in the caller's frame would be a stack reference, which
 * toc_end keeps (publishes), and a kept object pointing into another
 * window is a real violation. Returns the address hidden. */
static __attribute__((noinline)) bool dead_plant(uintptr_t target, uint64_t *hx)
{
	struct node *x = mk(82);
	x->a = (struct node *)target;   /* no barrier: what a dead object may hold */
	bool ok = local_unpublished(x) && local_unpublished(x->a);   /* the target: another window's */
	*hx = (uint64_t)(uintptr_t)x ^ HIDE;
	return ok;
}

static void dead_body(void *arg)
{
	(void)arg;
	atomic_store(&dead_target, 0);
	atomic_store(&dead_stop, 0);
	sched_go(dead_holder, NULL);
	while (!atomic_load(&dead_target))
		sched_gosched();
	struct toc_stats s0, s1;
	toc_read_stats(&s0);
	uint64_t hx;
	/* At the window's end (TOC_GCVERIFY=2): the dead object is garbage the
	 * rewind frees, the target still another window's. */
	TCHECK(dead_plant(atomic_load(&dead_target), &hx));
	scrub();
	toc_end();
	/* At mark termination: the dead object is unmarked; at the first
	 * cycle's the target is still another window's unpublished object. */
	TCHECK(dead_plant(atomic_load(&dead_target), &hx));
	scrub();
	for (int i = 0; i < 3; i++)
		whole_cycle();
	toc_end();
	toc_read_stats(&s1);
	TCHECK(s1.windows - s0.windows >= 2);
	atomic_store(&dead_stop, 1);
	while (atomic_load(&dead_stop) != 2)
		sched_gosched();
}

static void test_dead_pointer(void)
{
	toc_up();
	harness_run(2, dead_body, NULL);
	toc_down();
}

/* --- the verifier sees another goroutine's stack ------------------------------------------------------- */

/* Handed across without the barrier (a plain C variable, not a root): the
 * kind of leak the stack check exists for. */
static _Atomic uintptr_t smuggled;

static void smuggler(void *arg)
{
	struct sched_chan *ch = arg;
	struct node *n = mk(61);
	atomic_store(&smuggled, (uintptr_t)n);
	int one = 1;
	sched_chan_send(ch, &one);
	sched_chan_recv(ch, &one);   /* parked, its window open, until the check ran */
	TCHECK(n->val == 61);
}

static void suspect_body(void *arg)
{
	(void)arg;
	struct sched_chan *ch = sched_chan_new(sizeof(int), 0);
	struct toc_stats s0, s1, s2;
	toc_read_stats(&s0);
	gc_collect();
	toc_read_stats(&s1);
	TCHECK(s1.stack_suspects == s0.stack_suspects);   /* nothing smuggled yet */
	sched_go(smuggler, ch);
	int one;
	sched_chan_recv(ch, &one);
	volatile uintptr_t held = atomic_load(&smuggled);   /* on this stack, unpublished */
	TCHECK(local_unpublished((void *)held));
	gc_collect();
	toc_read_stats(&s2);
	TCHECK(s2.stack_suspects - s1.stack_suspects >= 1);
	held = 0;
	sched_chan_send(ch, &one);
	for (int i = 0; i < 100; i++)
		sched_gosched();
	sched_chan_free(ch);
}

static void test_suspect(void)
{
	toc_up_cfg(1, false);
	harness_run(1, suspect_body, NULL);
	toc_down();
}

/* --- the verifier catches what a broken rewind would do --------------------------------------------------- */

/* Each case breaks the invariant in a child process, by a store around the
 * barrier or by clearing an alloc bit, and expects the verifier's fatal
 * report. The first three break what the check at a window's end sees
 * (the region's objects and the roots), with no cycle to help it; the
 * last two break it from a shared object, which only the whole-heap check
 * at mark termination sees, before and after the rewind. The stores run
 * inside toc_run, so toc_end's scan of its own stack finds nothing to
 * publish. */

static void leak_to_root(void *arg)
{
	(void)arg;
	root_slot[0] = mk(81);   /* around the barrier: never published */
}

static void leak_from_published(void *arg)
{
	(void)arg;
	struct node *p = mk(82);
	gc_store(NULL, &root_slot[0], p);
	p->b = mk(83);   /* around the barrier */
}

/* A published object whose alloc bit is gone: what a rewind that frees a
 * published object starts from. */
static void unpublish_published(void *arg)
{
	(void)arg;
	struct node *p = mk(84);
	gc_store(NULL, &root_slot[0], p);
	struct gc_span *s;
	uint32_t idx;
	if (gc_find_object((uintptr_t)p, &s, &idx))
		s->alloc_bits[idx >> 6] &= ~((uint64_t)1 << (idx & 63));
}

/* A shared object (over a quarter of a region) holding a window object. */
static void leak_from_shared(void *arg)
{
	(void)arg;
	void **huge = gc_alloc_array(&gc_type_ptr, 32768);
	gc_store(NULL, &root_slot[1], huge);
	huge[0] = mk(85);   /* around the barrier */
}

/* A reachable shared object whose pointer field holds the poison pattern:
 * what a live object reclaimed under its holder looks like. */
static void poison_in_shared(void *arg)
{
	(void)arg;
	void **huge = gc_alloc_array(&gc_type_ptr, 32768);
	gc_store(NULL, &root_slot[1], huge);
	huge[7] = (void *)(uintptr_t)GC_POISON_WORD;
	gc_collect();
}

static void broken_at_end(void *arg)
{
	toc_run(arg, NULL);
}

static void broken_in_window(void *arg)
{
	(void)arg;
	toc_begin();
	leak_from_shared(NULL);
	gc_collect();   /* the window still open */
}

static void broken_after_end(void *arg)
{
	(void)arg;
	toc_run(leak_from_shared, NULL);   /* the window's end checks, and rewinds the leaked object */
	gc_collect();
}

struct broken_case {
	const char *what;
	void (*body)(void *);
	void (*arg)(void *);
	const char *report;   /* a part of the expected report */
};

static void broken_child(void *arg)
{
	const struct broken_case *c = arg;
	toc_up();
	harness_run(2, c->body, (void *)c->arg);
}

static void test_broken(void)
{
	static const struct broken_case cases[] = {
		{"a root holds an unpublished object", broken_at_end, leak_to_root, "toc invariant: root slot"},
		{"a published object holds an unpublished one", broken_at_end, leak_from_published,
		 "toc invariant: published object"},
		{"a published object lost its alloc bit", broken_at_end, unpublish_published,
		 "alloc bit 0 but published bit 1"},
		{"a shared object holds an unpublished object", broken_in_window, NULL,
		 "toc invariant: published object"},
		{"a shared object holds a rewound object", broken_after_end, NULL, "gc verify: pointer to a free slot"},
		{"a reachable pointer field holds the poison pattern", poison_in_shared, NULL,
		 "gc verify: a pointer field holds the poison pattern"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[8192];
		int status = harness_child(broken_child, (void *)&cases[i], 60, err, sizeof err);
		bool caught = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, cases[i].report);
		if (!caught)
			printf("\n  %s: expected a report with \"%s\", the child (status %#x) wrote:\n%s\n", cases[i].what,
			       cases[i].report, status, err);
		CU_ASSERT(caught);
	}
}

/* --- torture: random transactions through many concurrent cycles -------------------------------------- */

#define T_SLOTS 64
#define T_GOROUTINES 8
static void *shared[T_SLOTS];
static int shared_lock;
static _Atomic int t_done;
static _Atomic uint64_t t_checked;

static uint64_t tag(uint64_t id)
{
	return id * 0x9e3779b97f4a7c15ull;
}

/* A node; one in 16 is the first element of an array of 70..1100 nodes
 * (2 KiB to 34 KiB: local large objects, and a shared one now and then). */
static struct node *t_mk(uint64_t id)
{
	struct node *n = id % 16 == 0 ? gc_alloc_array(&node_type, 70 + id / 16 % 1031) : gc_alloc(&node_type);
	n->id = id;
	n->val = tag(id);
	return n;
}

/* Checks a published structure: every node's tag matches its id. */
static bool t_bad(struct node *n, struct node *from, int depth)
{
	struct gc_span *s = NULL;
	uint32_t idx = 0;
	uintptr_t o = gc_find_object((uintptr_t)n, &s, &idx);
	printf("  bad node %p (from %p, depth %d): id %llx val %llx; span %p window %p slot %u win_start %u "
	       "freeindex %u alloc bit %d sweepgen %u (heap %u)\n",
	       (void *)n, (void *)from, depth, (unsigned long long)n->id, (unsigned long long)n->val,
	       o ? (void *)s->base : NULL, o ? s->layer.window : NULL, idx, o ? s->layer.win_start : 0, o ? s->freeindex : 0,
	       o ? gc_bit(s->alloc_bits, idx) : -1, o ? atomic_load(&s->sweepgen) : 0,
	       atomic_load(&gc_heap.sweepgen));
	return false;
}

static bool t_check(struct node *n, int depth)
{
	struct node *from = NULL;
	for (; n && depth < 64; depth++) {
		if (n->val != tag(n->id))
			return t_bad(n, from, depth);
		atomic_fetch_add(&t_checked, 1);
		struct node *b = n->b;
		if (b && b->val != tag(b->id))
			return t_bad(b, n, depth);
		from = n;
		n = n->a;
	}
	return true;
}

/* A transaction that publishes most of a region: a chain over about 60%
 * of it, with a local large array now and then, into a shared slot whose
 * old chain dies. Its region is mostly published at the window's end, so
 * it waits in the full list, and comes back to a window once a cycle has
 * freed the chain it replaced (TOC_FULLLIST, on by default). */
static void t_bulk(uint64_t *rng)
{
	size_t bytes = gc_local_large_pages * 4 * GC_PAGE_SIZE * 6 / 10;   /* a region is 4 times the largest local object */
	struct node *head = NULL;
	for (size_t used = 0; used < bytes;) {
		uint64_t id = harness_rand(rng);
		struct node *n;
		if (id % 128 == 0) {
			n = gc_alloc_array(&node_type, 100);   /* 3.2 KB: a local large object */
			used += 100 * sizeof *n;
		} else {
			n = gc_alloc(&node_type);
			used += sizeof *n;
		}
		n->id = id;
		n->val = tag(id);
		gc_store(n, &n->a, head);
		head = n;
	}
	int slot = (int)(harness_rand(rng) % T_SLOTS);
	gc_lock(&shared_lock);
	gc_store(NULL, &shared[slot], head);
	gc_unlock(&shared_lock);
}

struct t_arg {
	uint64_t seed;
	int txns;
	struct sched_chan *done;
	struct t_arg *first;
};

/* Seven transactions in eight begin only while a mark runs. The collector
 * forces cycles back to back, so one comes within a cycle's length, and
 * waiting yields the worker to it and to its background marker. So most
 * windows open during a mark, and those still open at its flip are swept
 * in place before they close; the eighth transaction begins whenever it
 * comes, so windows between marks are tested too. The overlap share the
 * torture asserts rests on this, not on how the CPU is divided. */
static void t_wait_for_mark(void)
{
	int64_t t0 = sched_nanotime();
	while (!gc_layer_marking()) {
		if (sched_nanotime() - t0 > 10 * 1000000000ll) {
			TCHECK(!"no mark began within 10 s while cycles were forced back to back");
			return;
		}
		sched_gosched();
	}
}

static void t_worker(void *argp)
{
	struct t_arg *arg = argp;
	uint64_t rng = arg->seed;
	for (int t = 0; t < arg->txns; t++) {
		if (harness_rand(&rng) % 8 != 0)
			t_wait_for_mark();
		toc_begin();
		if (harness_rand(&rng) % 48 == 0) {
			t_bulk(&rng);
			toc_end();
			continue;
		}
		int n = 1 + (int)(harness_rand(&rng) % 40);
		struct node *local[40];
		for (int i = 0; i < n; i++) {
			local[i] = t_mk(harness_rand(&rng));
			if (i) {
				struct node *p = local[harness_rand(&rng) % (uint64_t)i];
				if (harness_rand(&rng) & 1)
					gc_store(p, &p->b, local[i]);
				else
					gc_store(local[i], &local[i]->a, p);
			}
		}
		/* Publish one of them (its closure) into the shared table, or
		 * read and extend what is there. */
		uint64_t r = harness_rand(&rng) % 10;
		int slot = (int)(harness_rand(&rng) % T_SLOTS);
		if (r < 3) {
			gc_lock(&shared_lock);
			gc_store(NULL, &shared[slot], local[harness_rand(&rng) % (uint64_t)n]);
			gc_unlock(&shared_lock);
		} else if (r < 5) {
			gc_lock(&shared_lock);
			struct node *s = shared[slot];
			if (s)
				gc_store(s, &s->b, local[0]);   /* into a published object */
			gc_unlock(&shared_lock);
		} else {
			gc_lock(&shared_lock);
			struct node *s = shared[slot];
			gc_unlock(&shared_lock);
			if (s && !t_check(s, 0))
				TCHECK(!"a published node lost its contents");
		}
		/* A window object held on the stack across toc_end survives. */
		struct node *held = local[n - 1];
		uint64_t id = held->id;
		for (int i = 0; i < n; i++)
			local[i] = NULL;
		toc_end();
		TCHECK(held->id == id && held->val == tag(id));
		if (harness_rand(&rng) % 50 == 0)
			sched_gosched();
		if (t % 250 == 249 && arg == arg->first)
			gc_collect();   /* cycles at known points, beside the timed ones */
	}
	int one = 1;
	sched_chan_send(arg->done, &one);
}

/* A goroutine without transactions, as a server's long-lived loop or
 * gcbench's workers: its window fills and lives on through cycles, so it
 * is claimed at a flip (outlived) and the goroutine goes windowless while
 * it runs. It holds a few nodes on its stack throughout (they pass from
 * its window to the collector's heap under it), replaces them at random,
 * publishes some into the shared table and checks the ones it holds. A
 * new node links to one it holds: once both die, a node of a later window
 * keeps a pointer into a claimed window's memory, which a region may take
 * again for another window; the verifier reads only what the trace reached
 * at mark termination, so such a dead pointer is no report
 * (docs/log/2026-12-barrier.md). Runs until the workers are done and some window outlived a cycle
 * (the collector runs cycles until it ends), at most 20 s. */
static _Atomic int t_workers_done;

static bool t_longlived_more(uint64_t outlived0, int64_t t0)
{
	if (!atomic_load(&t_workers_done))
		return true;
	struct toc_stats st;
	toc_read_stats(&st);
	return st.regions_outlived == outlived0 && sched_nanotime() - t0 < 20 * 1000000000ll;
}

static void t_longlived(void *argp)
{
	struct t_arg *arg = argp;
	uint64_t rng = arg->seed;
	struct toc_stats st0;
	toc_read_stats(&st0);
	int64_t t0 = sched_nanotime();
	struct node *held[8];
	for (int i = 0; i < 8; i++)
		held[i] = t_mk(harness_rand(&rng));
	while (t_longlived_more(st0.regions_outlived, t0)) {
		for (int i = 0; i < 200; i++) {
			struct node *n = t_mk(harness_rand(&rng));
			struct node *old = held[harness_rand(&rng) % 8];
			if (old->a == NULL)   /* chains stay one link long: checks stay cheap */
				gc_store(n, &n->a, old);
			held[harness_rand(&rng) % 8] = n;
		}
		for (int i = 0; i < 8; i++)
			if (!t_check(held[i], 0))
				TCHECK(!"a node held by a goroutine without transactions lost its contents");
		if (harness_rand(&rng) % 4 == 0) {
			int slot = (int)(harness_rand(&rng) % T_SLOTS);
			gc_lock(&shared_lock);
			gc_store(NULL, &shared[slot], held[harness_rand(&rng) % 8]);
			gc_unlock(&shared_lock);
		}
		sched_gosched();
	}
	int one = 1;
	sched_chan_send(arg->done, &one);
}

/* Cycles back to back, TOC_TORTURE_GAP_US apart (default 0): a mark runs
 * most of the time the world runs. Urgent: woken at its cycle's end, it
 * asks for the next one at once rather than after a worker's time slice. */
static void t_collector(void *arg)
{
	struct sched_chan *done = arg;
	sched_set_urgent(true);
	int64_t gap = getenv("TOC_TORTURE_GAP_US") ? atoll(getenv("TOC_TORTURE_GAP_US")) * 1000 : 0;
	while (!atomic_load(&t_done)) {
		gc_collect();
		if (gap > 0)
			sched_sleep(gap);
	}
	int one = 1;
	sched_chan_send(done, &one);
}

static void torture_body(void *argp)
{
	uint64_t seed = *(uint64_t *)argp;
	memset(shared, 0, sizeof shared);
	gc_add_roots(shared, T_SLOTS);
	atomic_store(&t_done, 0);
	atomic_store(&t_workers_done, 0);
	struct sched_chan *done = sched_chan_new(sizeof(int), T_GOROUTINES + 2);
	struct t_arg args[T_GOROUTINES], longlived;
	int txns = getenv("TOC_TORTURE_TXNS") ? atoi(getenv("TOC_TORTURE_TXNS")) : 1500;
	/* Live data for every mark to trace, so that a mark lasts long enough
	 * for transactions to open and close windows inside it. */
	int live = getenv("TOC_TORTURE_LIVE") ? atoi(getenv("TOC_TORTURE_LIVE")) : 10000;
	toc_begin();
	struct node *list = NULL;
	for (int i = 0; i < live; i++) {
		struct node *n = mk((uint64_t)i);
		gc_store(n, &n->a, list);
		list = n;
	}
	gc_store(NULL, &root_slot[1], list);
	list = NULL;
	toc_end();
	struct gc_stats gs0, gs;
	struct toc_stats ts0, ts;
	gc_read_stats(&gs0);
	toc_read_stats(&ts0);
	int64_t t0 = sched_nanotime();
	sched_go(t_collector, done);
	for (int g = 0; g < T_GOROUTINES; g++) {
		args[g] = (struct t_arg){seed + (uint64_t)g * 1000003, txns, done, &args[0]};
		sched_go(t_worker, &args[g]);
	}
	longlived = (struct t_arg){seed ^ 0x1011fedull, 0, done, &args[0]};
	sched_go(t_longlived, &longlived);
	int one;
	for (int g = 0; g < T_GOROUTINES; g++)
		sched_chan_recv(done, &one);
	atomic_store(&t_workers_done, 1);
	sched_chan_recv(done, &one);   /* the long-lived goroutine */
	atomic_store(&t_done, 1);
	sched_chan_recv(done, &one);   /* the collector's last cycle ended */
	double secs = (double)(sched_nanotime() - t0) / 1e9;
	for (int i = 0; i < T_SLOTS; i++)
		TCHECK(t_check(shared[i], 0));
	gc_read_stats(&gs);
	toc_read_stats(&ts);
#define D(s, f) ((s).f - (s##0).f)   /* field f's change over the run: D(ts, windows) */
	uint64_t windows = D(ts, windows), rewinds = D(ts, rewinds), forfeits = D(ts, forfeits);
	/* A given-up window's owner was parked through a whole cycle. */
	uint64_t overlapped = D(ts, mark_windows) + forfeits;
	double share = windows ? 100.0 * (double)overlapped / (double)windows : 0.0;
	printf("  %.1f s, %llu cycles, %llu windows: %.0f%% overlapped a mark; %llu rewound, %llu given up, %llu "
	       "regions swept in place; %llu objects reclaimed, %llu published, %llu checked\n",
	       secs, (unsigned long long)D(gs, cycles), (unsigned long long)windows, share,
	       (unsigned long long)rewinds, (unsigned long long)forfeits,
	       (unsigned long long)(D(ts, regions_swept) + D(ts, regions_swept_bg)),
	       (unsigned long long)D(ts, reclaimed_objects), (unsigned long long)D(ts, published_objects),
	       (unsigned long long)atomic_load(&t_checked));
	TCHECK(D(gs, cycles) >= 5);
	/* Every transaction has a window, marking or not, so every window
	 * but the given-up ones is rewound. */
	TCHECK(rewinds + forfeits == windows && rewinds >= windows / 2);
	if (!TCHECK(2 * overlapped >= windows))
		printf("  only %.0f%% of the windows overlapped a mark, at least 50%% expected: the collector's "
		       "cycles did not run back to back (t_collector) or transactions did not wait for a mark "
		       "(t_wait_for_mark)\n",
		       share);
	TCHECK(D(ts, reclaimed_objects) > 0 && D(ts, published_objects) > 0);
	TCHECK(D(ts, regions_swept) + D(ts, regions_swept_bg) > 0);   /* windows open at a flip */
	printf("  full list: %llu regions put there, %llu given back to windows, %llu retired from it\n",
	       (unsigned long long)D(ts, regions_full), (unsigned long long)D(ts, regions_recycled),
	       (unsigned long long)D(ts, regions_full_retired));
	TCHECK(D(ts, regions_full) > 0);   /* the bulk transactions */
	printf("  %llu windows outlived a cycle (the goroutine without transactions)\n",
	       (unsigned long long)D(ts, regions_outlived));
	TCHECK(D(ts, regions_outlived) > 0);
#undef D
	gc_store(NULL, &root_slot[1], NULL);
	gc_remove_roots(shared);
	sched_chan_free(done);
	sched_sleep(5000000);
}

/* TOC_TORTURE_SEEDS seeds (default 2) from TOC_TEST_SEED, TOC_TORTURE_TXNS
 * transactions per goroutine, TOC_TORTURE_VERIFY the verify level (default 1). */
static void test_torture(void)
{
	uint64_t seed = harness_seed();
	int seeds = getenv("TOC_TORTURE_SEEDS") ? atoi(getenv("TOC_TORTURE_SEEDS")) : 2;
	for (int i = 0; i < seeds; i++) {
		uint64_t s = seed + (uint64_t)i;
		printf("\n  torture seed %llu\n", (unsigned long long)s);
		toc_up_cfg(getenv("TOC_TORTURE_VERIFY") ? atoi(getenv("TOC_TORTURE_VERIFY")) : 1, true);
		harness_run(2, torture_body, &s);
		toc_down();
	}
}

/* --- configuration ------------------------------------------------------------------------------------- */

static void test_config(void)
{
	struct gc_config cfg;
	char err[160];
	setenv("TOC_MODE", "toc", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT(cfg.toc == 1 && cfg.mode == GC_MODE_CMS);
	setenv("TOC_MODE", "region", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_MODE"));
	unsetenv("TOC_MODE");
	setenv("TOC_REGION", "12K", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_REGION"));
	setenv("TOC_REGION", "128K", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.region_pages, 16);
	unsetenv("TOC_REGION");
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.rewind, 1);
	setenv("TOC_REWIND", "2", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_REWIND"));
	setenv("TOC_REWIND", "0", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.rewind, 0);
	unsetenv("TOC_REWIND");
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"config", test_config},
		{"graph shapes", test_shapes},
		{"publication points", test_points},
		{"rewind reuses dead slots, never published ones", test_rewind},
		{"TOC_REWIND=0: windows close without reclaiming, the collector frees their objects", test_norewind},
		{"toc_end keeps stack and register references", test_stack},
		{"toc_run; gc_copy_ptrs and gc_sort_ptrs publish what they store", test_run_and_arrays},
		{"windows through a mark, a flip and two cycles", test_overlap},
		{"a window whose goroutine is parked through a cycle is claimed", test_parked},
		{"a full window open through a cycle is claimed, its goroutine windowless until toc_end", test_outlived},
		{"a published object that dies inside its window scans as nothing", test_died},
		{"a dead window object's pointer into another window is no report", test_dead_pointer},
		{"the verifier reports another goroutine's stack", test_suspect},
		{"the verifier catches what a broken rewind would do", test_broken},
		{"torture", test_torture},
		{NULL, NULL},
	};
	return harness_main("toc", tests);
}
