/*
 * test_gc_collect.c — gc/collector: unreachable objects are reclaimed and
 * reachable ones kept when held only by a parked goroutine's stack, only by
 * a callee-saved register, only by a registered root, or only through a
 * large object; finalizers; the pacer's arithmetic; the memory limit; the
 * knobs' error messages. Every runtime here runs with verify and poison on.
 *
 * Reclamation is observed through finalizers: a finalizer runs only after
 * a cycle found its object unreachable.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "gc/src/internal.h"
#include "internal.h"   /* sched's: sched_preempt_request */
#include "toc/chan.h"
#include "toc/sync.h"

struct obj {
	struct obj *next;
	uint64_t magic;
	uint64_t pad[2];
};
GC_TYPE(obj_type, struct obj, next);
#define MAGIC 0x0b1ec7ab1eull

static _Atomic int finalized;
static _Atomic int finalizer_bad;

static void on_finalize(void *p, void *arg)
{
	struct obj *o = p;
	if (o->magic != MAGIC || arg != (void *)&finalized || !sched_self())
		atomic_fetch_add(&finalizer_bad, 1);
	atomic_fetch_add(&finalized, 1);
}

/* A fresh object with a finalizer; the caller's frame never holds it. */
static __attribute__((noinline)) struct obj *watched(void)
{
	struct obj *o = gc_alloc(&obj_type);
	o->magic = MAGIC;
	if (gc_set_finalizer(o, on_finalize, (void *)&finalized))
		abort();
	return o;
}

/* Collects until the finalizer count reaches want (or gives up). */
static bool collect_until(int want)
{
	for (int i = 0; i < 20; i++) {
		gc_collect();
		for (int k = 0; k < 20 && atomic_load(&finalized) < want; k++)
			sched_sleep(1000000);
		if (atomic_load(&finalized) >= want)
			return true;
	}
	return false;
}

/* Scrubs the dead part of this goroutine's stack below the caller, so a
 * stale copy of a pointer there keeps nothing alive. */
static __attribute__((noinline)) void scrub_stack(void)
{
	volatile char junk[16384];
	memset((char *)junk, 0, sizeof junk);
}

static void gc_up(enum gc_mode mode)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.mode = mode;
	cfg.verify = 1;
	cfg.poison = 1;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	atomic_store(&finalized, 0);
	atomic_store(&finalizer_bad, 0);
}

/* --- unreachable objects are reclaimed ----------------------------------------------------- */

static void unreachable_body(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		watched();
	scrub_stack();
	TCHECK(collect_until(10));
	TCHECK(atomic_load(&finalizer_bad) == 0);
}

static void test_unreachable(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, unreachable_body, NULL);
	gc_fini();
	gc_up(GC_MODE_STW);
	harness_run(2, unreachable_body, NULL);
	gc_fini();
}

/* --- held only by a parked goroutine's stack --------------------------------------------- */

static struct sched_chan *go_on;
static struct sched_waitgroup done;

static __attribute__((noinline)) void park_holding(struct obj *o)
{
	int v;
	sched_chan_recv(go_on, &v);     /* parked here while main collects */
	TCHECK(o->magic == MAGIC);
	TCHECK(gc_base(o) == o);
	gc_keep_alive(o);
}

static void holder(void *arg)
{
	(void)arg;
	park_holding(watched());
	scrub_stack();
	sched_wg_done(&done);
}

/* Starts holder, which keeps one watched object only where the test says
 * and then waits on go_on; collects (with garbage in between when asked)
 * and checks the object survived; lets holder finish and checks that the
 * object is reclaimed once holder dropped it. */
static void hold_then_release(void (*holder_fn)(void *), bool garbage)
{
	go_on = sched_chan_new(sizeof(int), 0);
	sched_wg_add(&done, 1);
	sched_go(holder_fn, NULL);
	sched_sleep(2000000);
	for (int i = 0; i < 3; i++) {
		for (int k = 0; garbage && k < 10000; k++)
			gc_alloc(&obj_type);
		gc_collect();
	}
	sched_sleep(5000000);
	TCHECK(atomic_load(&finalized) == 0);
	int v = 1;
	sched_chan_send(go_on, &v);
	sched_wg_wait(&done);
	TCHECK(collect_until(1));       /* only that holder kept it */
	sched_chan_free(go_on);
}

static void parked_body(void *arg)
{
	(void)arg;
	hold_then_release(holder, true);
}

static void test_parked_stack(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, parked_body, NULL);
	gc_fini();
}

/* --- held only by a callee-saved register --------------------------------------------------- */

/* hold_in_r12(p, fn): keeps p in r12 (and nowhere else this function
 * writes) while fn() runs, then returns r12. fn's callees may save r12 on
 * their frames, and the context switch saves it when fn parks: that is what
 * the conservative scan must see. */
__asm__(".text\n"
	".globl toc_test_hold_in_r12\n"
	".type toc_test_hold_in_r12,@function\n"
	"toc_test_hold_in_r12:\n"
	"	push %r12\n"
	"	mov %rdi, %r12\n"
	"	xor %edi, %edi\n"
	"	call *%rsi\n"
	"	mov %r12, %rax\n"
	"	pop %r12\n"
	"	ret\n"
	".size toc_test_hold_in_r12, .-toc_test_hold_in_r12\n");
void *toc_test_hold_in_r12(void *p, void (*fn)(void));

static void wait_for_go(void)
{
	scrub_stack();
	int v;
	sched_chan_recv(go_on, &v);
}

static void reg_holder(void *arg)
{
	(void)arg;
	struct obj *o = toc_test_hold_in_r12(watched(), wait_for_go);
	TCHECK(o->magic == MAGIC);
	TCHECK(gc_base(o) == o);
	o = NULL;
	scrub_stack();
	sched_wg_done(&done);
}

static void register_body(void *arg)
{
	(void)arg;
	hold_then_release(reg_holder, false);
}

static void test_register(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, register_body, NULL);
	gc_fini();
}

/* --- held only by a registered root, or through a large object -------------------------- */

static void *global_root;
static void *large_root;

static void global_body(void *arg)
{
	(void)arg;
	gc_add_roots(&global_root, 1);
	gc_add_roots(&large_root, 1);
	gc_store(NULL, &global_root, watched());
	void **big = gc_alloc_array(&gc_type_ptr, 10000);   /* 80 KB: a large scan object */
	gc_store(big, &big[9999], watched());
	gc_store(NULL, &large_root, big);
	big = NULL;
	scrub_stack();
	for (int i = 0; i < 3; i++)
		gc_collect();
	sched_sleep(5000000);
	TCHECK(atomic_load(&finalized) == 0);
	TCHECK(((struct obj *)global_root)->magic == MAGIC);
	TCHECK(((struct obj *)((void **)large_root)[9999])->magic == MAGIC);
	gc_store(NULL, &global_root, NULL);
	TCHECK(collect_until(1));
	gc_store(NULL, &large_root, NULL);
	TCHECK(collect_until(2));
	TCHECK(atomic_load(&finalizer_bad) == 0);
	gc_remove_roots(&global_root);
	gc_remove_roots(&large_root);
}

static void test_global_and_large(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, global_body, NULL);
	gc_fini();
	gc_up(GC_MODE_STW);
	harness_run(2, global_body, NULL);
	gc_fini();
}

/* --- kept by a channel buffer only ------------------------------------------------------------ */

/* A value sent and not yet received lives only in the channel's buffer
 * (malloc'd memory): the collector must take it as a root. */
static __attribute__((noinline)) void send_chains(struct sched_chan *c, int n)
{
	for (int i = 0; i < n; i++) {
		struct obj *o = gc_alloc(&obj_type);
		o->magic = MAGIC + (uint64_t)i;
		struct obj *t = gc_alloc(&obj_type);
		t->magic = MAGIC;
		gc_store(o, &o->next, t);
		sched_chan_send(c, &o);
	}
}

static __attribute__((noinline)) void churn(void)
{
	for (int i = 0; i < 200000; i++) {
		struct obj *o = gc_alloc(&obj_type);
		o->magic = 1;
	}
}

static void chan_body(void *arg)
{
	(void)arg;
	enum { N = 64 };
	struct sched_chan *c = sched_chan_new(sizeof(struct obj *), N);
	send_chains(c, N);
	scrub_stack();
	for (int i = 0; i < 3; i++) {
		churn();   /* reuses whatever a cycle freed */
		gc_collect();
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		struct obj *o;
		sched_chan_recv(c, &o);
		ok += o->magic == MAGIC + (uint64_t)i && o->next && o->next->magic == MAGIC;
	}
	TCHECK(ok == N);
	sched_chan_free(c);
}

static void test_chan_buffer(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, chan_body, NULL);
	gc_fini();
	gc_up(GC_MODE_STW);
	harness_run(2, chan_body, NULL);
	gc_fini();
}

/* --- finalizers ------------------------------------------------------------------------------ */

/* What a finalized object points to is still intact when it runs; a
 * removed finalizer never runs; each runs once. */
static _Atomic int chain_ok;
static void on_finalize_chain(void *p, void *arg)
{
	(void)arg;
	struct obj *o = p;
	if (o->magic == MAGIC && o->next && o->next->magic == MAGIC + 1)
		atomic_fetch_add(&chain_ok, 1);
	atomic_fetch_add(&finalized, 1);
}

static __attribute__((noinline)) void make_chains(int n)
{
	for (int i = 0; i < n; i++) {
		struct obj *o = gc_alloc(&obj_type);
		o->magic = MAGIC;
		struct obj *t = gc_alloc(&obj_type);
		t->magic = MAGIC + 1;
		gc_store(o, &o->next, t);
		TCHECK(gc_set_finalizer(o, on_finalize_chain, NULL) == 0);
	}
	struct obj *removed = gc_alloc(&obj_type);
	TCHECK(gc_set_finalizer(removed, on_finalize_chain, NULL) == 0);
	TCHECK(gc_set_finalizer(removed, NULL, NULL) == 0);
	int dummy;
	TCHECK(gc_set_finalizer(&dummy, on_finalize_chain, NULL) == -1);
}

static void finalizer_body(void *arg)
{
	(void)arg;
	atomic_store(&chain_ok, 0);
	make_chains(500);
	scrub_stack();
	TCHECK(collect_until(500));
	for (int i = 0; i < 3; i++)
		gc_collect();
	sched_sleep(5000000);
	TCHECK(atomic_load(&finalized) == 500);
	TCHECK(atomic_load(&chain_ok) == 500);
	struct gc_stats st;
	gc_read_stats(&st);
	TCHECK(st.finalizers_run == 500);
}

static void test_finalizers(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, finalizer_body, NULL);
	gc_fini();
}

/* --- the pacer ------------------------------------------------------------------------------------ */

static void test_pacer_goal(void)
{
	const uint64_t MiB = 1 << 20;
	bool limited;
	struct gc_pacer_in in = {.marked = 100 * MiB, .stacks = 2 * MiB, .globals = 1 * MiB, .gogc = 100};
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 203 * MiB);
	CU_ASSERT(!limited);
	in.gogc = 50;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 100 * MiB + 103 * MiB / 2);
	in.gogc = 200;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 306 * MiB);
	/* The floor: 4 MiB * GOGC / 100. */
	struct gc_pacer_in tiny = {.marked = 100000, .gogc = 100};
	CU_ASSERT_EQUAL(gc_pacer_goal(&tiny, &limited), 4 * MiB);
	tiny.gogc = 50;
	CU_ASSERT_EQUAL(gc_pacer_goal(&tiny, &limited), 2 * MiB);
	/* GOGC=off: no goal, unless a memory limit. */
	in.gogc = GC_GOGC_OFF;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), UINT64_MAX);
	in.memlimit = 180 * MiB;
	in.overhead = 20 * MiB;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 160 * MiB);
	CU_ASSERT(limited);
	/* The limit lowers a GOGC goal too, but not below marked + 1/16. */
	in.gogc = 100;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 160 * MiB);
	in.memlimit = 50 * MiB;
	CU_ASSERT_EQUAL(gc_pacer_goal(&in, &limited), 100 * MiB + 100 * MiB / 16);
	CU_ASSERT(limited);
	/* The transaction layer's windows add their bytes to the goal; GOGC's
	 * share does not grow with them, and the trigger's base moves up. */
	struct gc_pacer_in win = {.marked = 100 * MiB, .stacks = 2 * MiB, .globals = 1 * MiB, .gogc = 100,
				  .windows = 50 * MiB};
	CU_ASSERT_EQUAL(gc_pacer_goal(&win, &limited), 253 * MiB);
	CU_ASSERT_EQUAL(gc_pacer_trigger(150 * MiB, 253 * MiB, UINT64_MAX), 150 * MiB + 103 * MiB * 7 / 10);
	win.memlimit = 200 * MiB;   /* a memory limit still caps it */
	CU_ASSERT_EQUAL(gc_pacer_goal(&win, &limited), 200 * MiB);
	CU_ASSERT(limited);
	/* The trigger is goal - runway, between 70% of the way from marked to
	 * the goal and 95% (or goal - 4 MiB when that is later). */
	CU_ASSERT_EQUAL(gc_pacer_trigger(100 * MiB, 200 * MiB, 20 * MiB), 180 * MiB);
	CU_ASSERT_EQUAL(gc_pacer_trigger(100 * MiB, 200 * MiB, 500 * MiB), 170 * MiB);
	CU_ASSERT_EQUAL(gc_pacer_trigger(100 * MiB, 200 * MiB, UINT64_MAX), 170 * MiB);
	CU_ASSERT_EQUAL(gc_pacer_trigger(100 * MiB, 200 * MiB, 0), 196 * MiB);
	CU_ASSERT_EQUAL(gc_pacer_trigger(100, 200, 0), 195);   /* small heaps: 95% */
	CU_ASSERT_EQUAL(gc_pacer_trigger(100, UINT64_MAX, 20), UINT64_MAX);
	CU_ASSERT_EQUAL(gc_pacer_trigger(300, 200, 20), 200);  /* the goal when marked passed it */
	/* cons/mark, and the runway it plans: a mark that scanned 300 MiB
	 * with the collector at 25% while the mutator allocated 100 MiB plans
	 * a runway of those 100 MiB for the same work. */
	double cm = gc_pacer_cons_mark(100 * MiB, 300 * MiB, 0.25);
	CU_ASSERT_DOUBLE_EQUAL(cm, 1.0 / 9.0, 1e-9);
	uint64_t runway = gc_pacer_runway(cm, 300 * MiB);
	CU_ASSERT(runway > 100 * MiB - 16 && runway < 100 * MiB + 16);
	/* At twice the collector's share, the same allocation means a mutator
	 * twice as fast against the marker: a longer runway. */
	CU_ASSERT(gc_pacer_runway(gc_pacer_cons_mark(100 * MiB, 300 * MiB, 0.5), 300 * MiB) > 2 * runway);
	CU_ASSERT_EQUAL(gc_pacer_cons_mark(100 * MiB, 0, 0.25), 0);
	/* The assist ratio: work left over heap left. */
	uint64_t eff;
	struct gc_assist_in ai = {.goal = 200 * MiB, .triggered = 170 * MiB, .live = 180 * MiB,
				  .scan_expected = 100 * MiB, .scan_worst = 300 * MiB, .scan_done = 40 * MiB};
	CU_ASSERT_DOUBLE_EQUAL(gc_pacer_assist_ratio(&ai, &eff), 3.0, 1e-9);
	CU_ASSERT_EQUAL(eff, 200 * MiB);
	/* More work than expected: the goal extends toward the worst case,
	 * but no further than the hard goal (1.1x). */
	ai.scan_done = 150 * MiB;
	CU_ASSERT_DOUBLE_EQUAL(gc_pacer_assist_ratio(&ai, &eff), 150.0 / 40.0, 1e-6);
	CU_ASSERT_EQUAL(eff, 220 * MiB);
	/* Past the goal the ratio is as large as the work left. */
	ai.scan_done = 40 * MiB;
	ai.live = 230 * MiB;
	CU_ASSERT(gc_pacer_assist_ratio(&ai, &eff) >= 60.0 * MiB);
}

/* --- the memory limit ------------------------------------------------------------------------- */

#define LIVE_NODES 40000
static void *live_table;
static uint64_t peak_committed, peak_inuse, peak_meta;
static double peak_over_goal;       /* max of the paced heap / goal, steady state */
static double peak_inuse_over_goal; /* max of spans in use / goal (adds fragmentation and unswept garbage) */

/* About 16 MiB live: 40,000 objects of 400 B in a table under a root. */
static void **live_table_build(void)
{
	gc_add_roots(&live_table, 1);
	void **t = gc_alloc_array(&gc_type_ptr, LIVE_NODES);
	gc_store(NULL, &live_table, t);
	for (int i = 0; i < LIVE_NODES; i++)
		gc_store(t, &t[i], gc_alloc_bytes(400));
	return t;
}

/* Step i of the steady workload: garbage, and every 8th replaces a live object. */
static void live_table_churn(void **t, long i, uint64_t *seed)
{
	void *g = gc_alloc_bytes(64 + harness_rand(seed) % 1024);
	if (i % 8 == 0)
		gc_store(t, &t[harness_rand(seed) % LIVE_NODES], g);
}

static void memlimit_body(void *arg)
{
	(void)arg;
	void **t = live_table_build();
	uint64_t seed = harness_seed();
	for (long i = 0; i < 600000; i++) {
		live_table_churn(t, i, &seed);
		if (i % 1000 == 0) {
			struct gc_stats st;
			gc_read_stats(&st);
			uint64_t used = st.heap_committed + atomic_load(&gc_heap.metadata_bytes);
			if (i > 200000 && used > peak_committed) {  /* steady state: after the first full sweeps */
				peak_committed = used;
				peak_inuse = st.heap_inuse;
				peak_meta = atomic_load(&gc_heap.metadata_bytes);
			}
			double over = (double)st.heap_paced / (double)st.heap_goal;
			if (i > 200000 && over > peak_over_goal)
				peak_over_goal = over;
			double inuse = (double)st.heap_inuse / (double)st.heap_goal;
			if (i > 200000 && inuse > peak_inuse_over_goal)
				peak_inuse_over_goal = inuse;
		}
	}
	gc_remove_roots(&live_table);
}

static void test_memlimit(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.gogc = GC_GOGC_OFF;
	cfg.memlimit = 48u << 20;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	peak_committed = 0;
	harness_run(2, memlimit_body, NULL);
	struct gc_stats st;
	gc_read_stats(&st);
	fprintf(stderr, "  memory limit 48 MiB: peak %.1f MiB (spans in use %.1f MiB, metadata %.1f MiB) over %llu cycles, "
		"CPU limiter engaged in %llu\n",
		peak_committed / 1048576.0, peak_inuse / 1048576.0, peak_meta / 1048576.0, (unsigned long long)st.cycles,
		(unsigned long long)st.limiter_engaged);
	CU_ASSERT(st.cycles >= 3);
	CU_ASSERT(peak_committed <= cfg.memlimit + cfg.memlimit / 10);
	gc_fini();
}

/* The pacer: at GOGC=100 on the same steady workload, the heap it paces
 * (Go's heapLive: marked + spans handed out since) peaks within 10% of the
 * goal. Spans in use, which add the free slots of partial spans and the
 * garbage of spans not yet swept, are reported beside it. */
static void test_pacer_accuracy(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.gogc = 100;
	cfg.memlimit = 0;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	peak_committed = 0;
	peak_over_goal = peak_inuse_over_goal = 0;
	harness_run(2, memlimit_body, NULL);
	struct gc_stats st;
	gc_read_stats(&st);
	fprintf(stderr, "  GOGC=100: paced heap peaked at %.3f x the goal (spans in use %.3f x) over %llu cycles\n",
		peak_over_goal, peak_inuse_over_goal, (unsigned long long)st.cycles);
	CU_ASSERT(st.cycles >= 3);
	CU_ASSERT(st.stw_count >= 2 * st.cycles);
	CU_ASSERT(st.stw_ttsp_max_ns <= st.stw_max_ns);   /* the wait is part of a pause */
	CU_ASSERT(peak_over_goal > 0.5);
	/* Sampled at any moment, on a loaded machine too: an allocator past
	 * the goal waits for the mark to begin and, once it runs, drains until
	 * it ends (cycle.c), so a collector starved of CPU slows the mutator
	 * instead of letting the heap run on. */
	CU_ASSERT(peak_over_goal <= 1.10);
	/* Per cycle, after warm-up: the heap at mark termination within 10%
	 * of the goal in at least 95% of cycles, and every cycle started by
	 * the heap began at the trigger the cycle before set (no cycle right
	 * after another: a request left over from the last one's sweep). */
	struct gc_cycle_record rec[256];
	size_t nrec = gc_read_cycles(rec, 256);
	size_t steady = 0, within = 0, early = 0;
	for (size_t i = 3; i < nrec; i++) {
		if (rec[i].forced)
			continue;
		steady++;
		if ((double)rec[i].heap_end <= 1.10 * (double)rec[i].goal)
			within++;
		if ((double)rec[i].heap_trigger < 0.95 * (double)rec[i - 1].next_trigger)
			early++;
	}
	fprintf(stderr, "  %zu steady cycles: %zu ended within 10%% of the goal, %zu began before the trigger\n", steady,
		within, early);
	CU_ASSERT(steady >= 5);
	CU_ASSERT(within * 100 >= steady * 95);
	CU_ASSERT_EQUAL(early, 0);
	CU_ASSERT_EQUAL(st.limiter_engaged, 0);
	gc_fini();
}

/* --- CPU accounting ------------------------------------------------------------------------------- */

#define CPU_GOROUTINES 8
static void *cpu_table;
static struct sched_waitgroup cpu_done;

/* More goroutines than workers, allocating through long marks of a large
 * table: assists and background drains are preempted and resume on the
 * other worker, the case a pair of thread-clock readings around a drain
 * gets wrong. */
static void cpu_worker(void *arg)
{
	uint64_t seed = harness_seed() + (uint64_t)(uintptr_t)arg;
	void **t = cpu_table;
	for (long i = 0; i < 150000; i++) {
		void *g = gc_alloc_bytes(64 + harness_rand(&seed) % 512);
		if (i % 16 == 0)
			gc_store(t, &t[harness_rand(&seed) % LIVE_NODES], g);
		if (i % 5000 == 0)
			sched_gosched();
	}
	sched_wg_done(&cpu_done);
}

static struct gc_stats cpu_before, cpu_after;
static double cpu_proc_seconds, cpu_wall_seconds;

static void cpu_body(void *arg)
{
	(void)arg;
	gc_add_roots(&cpu_table, 1);
	void **t = gc_alloc_array(&gc_type_ptr, LIVE_NODES);
	gc_store(NULL, &cpu_table, t);
	for (int i = 0; i < LIVE_NODES; i++)
		gc_store(t, &t[i], gc_alloc_array(&gc_type_ptr, 48));
	gc_collect();
	gc_read_stats(&cpu_before);
	double p0 = harness_process_cpu_seconds();
	int64_t t0 = sched_nanotime();
	sched_wg_add(&cpu_done, CPU_GOROUTINES);
	for (int i = 0; i < CPU_GOROUTINES; i++)
		TCHECK(sched_go(cpu_worker, (void *)(uintptr_t)(i + 1)) != 0);
	sched_wg_wait(&cpu_done);
	cpu_wall_seconds = (double)(sched_nanotime() - t0) / 1e9;
	gc_read_stats(&cpu_after);
	cpu_proc_seconds = harness_process_cpu_seconds() - p0;
	gc_remove_roots(&cpu_table);
}

/* The collector's CPU over an interval: the sum of its parts, each a real
 * figure (no wrap), and at most the process's CPU (getrusage); at one
 * worker at most the wall time. The limiter does not engage on a workload
 * whose collector takes its 25% share. */
static void cpu_accounting(int procs)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.gogc = 100;
	cfg.memlimit = 0;
	cfg.mode = GC_MODE_CMS;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	harness_run(procs, cpu_body, NULL);
	const struct gc_stats *b = &cpu_before, *a = &cpu_after;
	uint64_t gc = a->gc_cpu_ns - b->gc_cpu_ns, assist = a->assist_ns - b->assist_ns;
	uint64_t mark = a->bg_mark_ns - b->bg_mark_ns, sweep = a->sweep_ns - b->sweep_ns;
	uint64_t pause = a->pause_cpu_ns - b->pause_cpu_ns;
	uint64_t cycles = a->cycles - b->cycles;
	fprintf(stderr,
		"  %d procs: %llu cycles in %.3f s; process CPU %.3f s, collector %.3f s (assist %.3f, mark %.3f, "
		"sweep %.3f, pause %.3f), assist wait %.3f s, limiter engaged %llu\n",
		procs, (unsigned long long)cycles, cpu_wall_seconds, cpu_proc_seconds, gc / 1e9, assist / 1e9, mark / 1e9,
		sweep / 1e9, pause / 1e9, (double)(a->assist_wait_ns - b->assist_wait_ns) / 1e9,
		(unsigned long long)(a->limiter_engaged - b->limiter_engaged));
	CU_ASSERT(cycles >= 3);
	CU_ASSERT_EQUAL(gc, assist + mark + sweep + pause);
	/* No figure wrapped or went back: each is below a day. */
	CU_ASSERT(gc < 86400ull * 1000000000ull);
	CU_ASSERT(a->assist_ns >= b->assist_ns && a->bg_mark_ns >= b->bg_mark_ns && a->sweep_ns >= b->sweep_ns);
	CU_ASSERT(mark > 0);
	/* getrusage may lag a running thread's clock by a scheduler tick. */
	double slack = 0.02 * procs;
	CU_ASSERT(gc / 1e9 <= cpu_proc_seconds + slack);
	if (procs == 1)
		CU_ASSERT(gc / 1e9 <= cpu_wall_seconds + slack);
	CU_ASSERT_EQUAL(a->limiter_engaged - b->limiter_engaged, 0);
	gc_fini();
}

static void test_cpu_accounting(void)
{
	cpu_accounting(2);
	cpu_accounting(1);
}

/* The limiter's bucket: GC CPU above half of the total fills it, the
 * mutator's share drains it; full, assists stop. */
static void test_limiter_bucket(void)
{
	memset(&gc_st, 0, sizeof gc_st);
	const int64_t s = 1000000000;
	CU_ASSERT(!gc_limiter_update(s / 2, s, 1));       /* half and half: stays empty */
	CU_ASSERT(!gc_limiter_update(9 * s / 10, s, 1));  /* fills by 0.8 s */
	CU_ASSERT(gc_limiter_update(9 * s / 10, s, 1));   /* full at 1 s of one worker */
	CU_ASSERT(gc_limiter_update(s / 2, s, 1));        /* level: still full */
	CU_ASSERT(!gc_limiter_update(s / 10, s, 1));      /* the mutator drains it */
	CU_ASSERT(!gc_limiter_update(-5, s, 1));          /* a negative figure counts as none */
	CU_ASSERT_EQUAL(atomic_load(&gc_st.limiter_fill), 0);
}

/* Under a memory limit below the live heap, cycles run back to back and the
 * collector takes most of the CPU: the limiter engages (within a few
 * seconds of CPU; the bucket holds one second per worker). */
static _Atomic uint64_t limited_engaged;

static void limiter_body(void *arg)
{
	(void)arg;
	void **t = live_table_build();
	uint64_t seed = harness_seed();
	int64_t deadline = sched_nanotime() + 30 * 1000000000ll;
	struct gc_stats st;
	do {
		for (int i = 0; i < 20000; i++)
			live_table_churn(t, i, &seed);
		gc_read_stats(&st);
	} while (st.limiter_engaged == 0 && sched_nanotime() < deadline);
	atomic_store(&limited_engaged, st.limiter_engaged);
	gc_remove_roots(&live_table);
}

static void test_limiter_engages(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.gogc = GC_GOGC_OFF;
	cfg.memlimit = 8u << 20;   /* the live table alone is ~16 MiB */
	cfg.mode = GC_MODE_CMS;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	harness_run(1, limiter_body, NULL);
	struct gc_stats st;
	gc_read_stats(&st);
	fprintf(stderr, "  impossible limit: the limiter engaged after %llu cycles, %.2f s of GC CPU\n",
		(unsigned long long)st.cycles, st.gc_cpu_ns / 1e9);
	CU_ASSERT(atomic_load(&limited_engaged) >= 1);
	gc_fini();
}

/* An assist that yields inside its drain: on one worker, the assisting
 * goroutine is asked to yield at its next poll (as the monitor's time slice
 * asks), and goroutines that burn 50 ms of CPU each without a safepoint
 * wait to run (checked: one finished before the assist returned). The assist account holds the drain only; timed by two readings of
 * the thread's clock around the drain, the burn would be in it. */
#define BURN_NS 50000000ull
#define BURNERS 4
static struct obj *assist_list;
static uint64_t assist_charged;
static _Atomic int burnt;

static void burner(void *arg)
{
	(void)arg;
	uint64_t t0 = sched_thread_cpu_ns();
	while (sched_thread_cpu_ns() - t0 < BURN_NS)
		;
	atomic_fetch_add(&burnt, 1);
}

static void collector(void *arg)
{
	(void)arg;
	gc_collect();
}

static void assist_yield_body(void *arg)
{
	(void)arg;
	/* Wide: one array of 200,000 objects, so a drain finds plenty of
	 * gray objects at once and polls every 64 of them. */
	gc_add_roots((void **)&assist_list, 1);
	void **wide = gc_alloc_array(&gc_type_ptr, 200000);
	gc_store(NULL, (void **)&assist_list, wide);
	for (int i = 0; i < 200000; i++)
		gc_store(wide, &wide[i], gc_alloc(&obj_type));
	gc_collect();
	TCHECK(sched_go(collector, NULL) != 0);
	/* Wait until the mark has gray work to drain. */
	long spins = 0;
	while (!(atomic_load(&gc_st.phase) == GC_PHASE_MARK && atomic_load(&gc_st.roots_done) && gc_work_available()) &&
	       spins++ < 100000000)
		sched_gosched();
	TCHECK(atomic_load(&gc_st.phase) == GC_PHASE_MARK);
	atomic_store(&burnt, 0);
	/* Whichever runs next while the assist is switched out burns. */
	for (int i = 0; i < BURNERS; i++)
		TCHECK(sched_go(burner, NULL) != 0);
	struct gc_stats a, b;
	gc_read_stats(&a);
	struct gc_cache *c = &gc_caches[sched_worker_index()];
	/* No safepoint from here to the assist: the cache stays this worker's.
	 * The heap is made to stand at the goal, so the assist drains the
	 * list (polling every 64 objects) instead of a small debt's worth. */
	atomic_store(&gc_st.goal, atomic_load(&gc_st.heap_live));
	c->assist_debt = 256 * 1024;
	sched_preempt_request(sched_worker_self());
	gc_assist(c);
	TCHECK(atomic_load(&burnt) >= 1);   /* one did run while the assist was switched out */
	gc_read_stats(&b);
	assist_charged = b.assist_ns - a.assist_ns;
	gc_remove_roots((void **)&assist_list);
}

static void test_assist_across_a_switch(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.gogc = 400;   /* no cycle but the forced one */
	cfg.memlimit = 0;
	cfg.mode = GC_MODE_CMS;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	harness_run(1, assist_yield_body, NULL);
	fprintf(stderr, "  assist charged %.3f ms across a switch to goroutines that burnt %.0f ms each\n",
		assist_charged / 1e6, BURN_NS / 1e6);
	CU_ASSERT(assist_charged < BURN_NS / 2);
	gc_fini();
}

/* --- pauses ------------------------------------------------------------------------------------------ */

static uint64_t pauses_seen[64];
static size_t npauses_seen, npauses_all;
static struct gc_stats pause_before, pause_after;

static void pauses_body(void *arg)
{
	(void)arg;
	gc_collect();
	gc_read_stats(&pause_before);
	gc_reset_peaks();
	for (int i = 0; i < 3; i++)
		gc_collect();
	gc_read_stats(&pause_after);
	npauses_seen = gc_read_pauses_since(pause_before.stw_count, pauses_seen, 64);
	uint64_t all[64];
	npauses_all = gc_read_pauses(all, 64);
	TCHECK(npauses_all >= npauses_seen);
	/* The newest come last in both. */
	if (npauses_seen)
		TCHECK(all[npauses_all - 1] == pauses_seen[npauses_seen - 1]);
}

/* gc_read_pauses_since returns a timed part's pauses, and
 * stw_max_interval_ns their maximum. */
static void test_pauses_since(void)
{
	gc_up(GC_MODE_CMS);
	harness_run(2, pauses_body, NULL);
	uint64_t n = pause_after.stw_count - pause_before.stw_count;
	CU_ASSERT(n >= 6);   /* two stops per cms cycle, recorded before the world restarts */
	CU_ASSERT_EQUAL(npauses_seen, n);
	uint64_t max = 0;
	for (size_t i = 0; i < npauses_seen; i++)
		max = pauses_seen[i] > max ? pauses_seen[i] : max;
	CU_ASSERT_EQUAL(max, pause_after.stw_max_interval_ns);
	gc_fini();
}

/* --- arrays of pointers through the barrier --------------------------------------------------------- */

#define BULK_N 3000
#define BULK_G 4
static void *bulk_roots[BULK_G];
static struct sched_waitgroup bulk_done;

static int by_id(const void *x, const void *y)
{
	const struct obj *a = *(struct obj *const *)x, *b = *(struct obj *const *)y;
	return a->pad[0] < b->pad[0] ? -1 : a->pad[0] > b->pad[0];
}

/* Rotations (overlapping moves), copies between halves and sorts of a
 * rooted array while cycles run: every object stays reachable and intact
 * (verify and poison on), and the set of ids never changes. */
static void bulk_worker(void *arg)
{
	int k = (int)(uintptr_t)arg;
	uint64_t seed = harness_seed() + (uint64_t)k;
	void **a = gc_alloc_array(&gc_type_ptr, BULK_N);
	gc_store(NULL, &bulk_roots[k], a);
	uint64_t sum = 0;
	for (int i = 0; i < BULK_N; i++) {
		struct obj *o = gc_alloc(&obj_type);
		o->magic = MAGIC;
		o->pad[0] = harness_rand(&seed) % 1000000;
		sum += o->pad[0];
		gc_store(a, &a[i], o);
	}
	for (int round = 0; round < 60; round++) {
		size_t by = 1 + harness_rand(&seed) % 100;
		void **save = gc_alloc_array(&gc_type_ptr, by);
		gc_copy_ptrs(save, save, a + BULK_N - by, by);       /* the tail */
		gc_copy_ptrs(a, a + by, a, BULK_N - by);             /* move right, overlapping */
		gc_copy_ptrs(a, a, save, by);                         /* the tail to the front */
		if (round % 10 == 9)
			TCHECK(gc_sort_ptrs(a, a, BULK_N, by_id) == 0);
		for (int i = 0; i < 2000; i++)
			(void)gc_alloc_bytes(64 + i % 200);              /* garbage: cycles */
	}
	uint64_t got = 0;
	bool intact = true;
	for (int i = 0; i < BULK_N; i++) {
		struct obj *o = a[i];
		intact &= o->magic == MAGIC;
		got += o->pad[0];
	}
	TCHECK(intact);
	TCHECK(got == sum);
	TCHECK(gc_sort_ptrs(a, a, BULK_N, by_id) == 0);
	for (int i = 1; i < BULK_N; i++)
		TCHECK(((struct obj *)a[i - 1])->pad[0] <= ((struct obj *)a[i])->pad[0]);
	gc_store(NULL, &bulk_roots[k], NULL);
	sched_wg_done(&bulk_done);
}

static void bulk_body(void *arg)
{
	(void)arg;
	gc_add_roots(bulk_roots, BULK_G);
	sched_wg_add(&bulk_done, BULK_G);
	for (int k = 0; k < BULK_G; k++)
		TCHECK(sched_go(bulk_worker, (void *)(uintptr_t)k) != 0);
	sched_wg_wait(&bulk_done);
	gc_remove_roots(bulk_roots);
}

static void test_bulk(void)
{
	struct gc_config cfg;
	char err[128];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.mode = GC_MODE_CMS;
	cfg.gogc = 25;      /* many cycles */
	cfg.verify = 1;
	cfg.poison = 1;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);
	harness_run(2, bulk_body, NULL);
	struct gc_stats st;
	gc_read_stats(&st);
	fprintf(stderr, "  %llu cycles ran beside the moves and sorts\n", (unsigned long long)st.cycles);
	CU_ASSERT(st.cycles >= 3);
	gc_fini();
}

/* --- knobs ---------------------------------------------------------------------------------------- */

static void test_knobs(void)
{
	struct gc_config cfg;
	char err[256];
	setenv("TOC_GOGC", "abc", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_GOGC"));
	unsetenv("TOC_GOGC");
	setenv("GOGC", "off", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.gogc, GC_GOGC_OFF);
	setenv("TOC_GOGC", "50", 1);   /* TOC_ wins over Go's name */
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.gogc, 50);
	unsetenv("TOC_GOGC");
	unsetenv("GOGC");
	setenv("GOMEMLIMIT", "1x", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "GOMEMLIMIT"));
	setenv("GOMEMLIMIT", "512MiB", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.memlimit, 512ull << 20);
	unsetenv("GOMEMLIMIT");
	setenv("TOC_MODE", "fast", 1);
	CU_ASSERT_EQUAL(gc_config_from_env(&cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_MODE"));
	unsetenv("TOC_MODE");
	CU_ASSERT_EQUAL(gc_config_set(&cfg, "gogc", "--gogc", "-5", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--gogc"));
	CU_ASSERT_EQUAL(gc_config_set(&cfg, "mode", "--mode", "stw", err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.mode, GC_MODE_STW);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"unreachable objects are reclaimed (cms, stw)", test_unreachable},
		{"kept by a parked goroutine's stack only", test_parked_stack},
		{"kept by a callee-saved register only", test_register},
		{"kept by a global root, and through a large object (cms, stw)", test_global_and_large},
		{"kept by a channel buffer only (cms, stw)", test_chan_buffer},
		{"finalizers run once, after sweep, with referents intact", test_finalizers},
		{"pacer goal and trigger arithmetic", test_pacer_goal},
		{"memory limit honoured within 10%", test_memlimit},
		{"pacer: heap peaks within 10% of the goal", test_pacer_accuracy},
		{"GC CPU: parts sum, at most the process's CPU, limiter off (2 and 1 procs)", test_cpu_accounting},
		{"GC CPU: an assist switched out mid-drain is charged its own time only", test_assist_across_a_switch},
		{"limiter: the bucket's arithmetic", test_limiter_bucket},
		{"limiter: engages under an impossible memory limit", test_limiter_engages},
		{"gc_copy_ptrs and gc_sort_ptrs through marks (verify, poison)", test_bulk},
		{"pauses since a mark, and the interval's longest", test_pauses_since},
		{"knobs: errors name the variable or flag", test_knobs},
		{NULL, NULL},
	};
	return harness_main("gc_collect", tests);
}
