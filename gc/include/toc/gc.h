/*
 * gc.h — the mutator's interface to the garbage-collected heap.
 *
 * A program allocates objects of declared types, writes heap pointers only
 * through gc_store() (the write barrier), keeps other pointers in locals
 * (goroutine stacks and registers are scanned conservatively: interior
 * pointers count) or in registered roots, and never frees anything.
 *
 *   struct node { struct node *left, *right; long value; };
 *   GC_TYPE(node_type, struct node, left, right);
 *
 *   struct node *n = gc_alloc(&node_type);          // zeroed
 *   gc_store(n, &n->left, gc_alloc(&node_type));    // barriered store
 *   char *buf = gc_alloc_bytes(4096);               // pointer-free, never scanned
 *
 * The heap is Go's (docs/architecture.md): 8 KiB pages, spans of one size class,
 * side alloc/mark bitmaps. The collector is Go's concurrent mark-sweep
 * (docs/architecture.md), or a stop-the-world mark-sweep from the same code
 * (TOC_MODE=stw); TOC_MODE=toc adds the transaction layer (toc/toc.h). Allocation and gc_store must run on a goroutine of a
 * runtime started by gc_run() (or gc_init() + sched_run()).
 *
 * A goroutine that never polls or allocates is still stopped for the
 * collector's pauses and stack scans: by a signal (SIGURG) to its worker,
 * which stops it in place (toc/sched.h). Goroutine code may therefore see
 * system calls that the kernel does not restart after a signal handler
 * (nanosleep, poll, epoll_wait, ...) fail with EINTR, as in Go since 1.14;
 * retry them.
 *
 * Everything with program scope is prefixed gc_.
 */
#ifndef GC_GC_H
#define GC_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "toc/sched.h"

/* --- type descriptors ------------------------------------------------------ */

/* A type: its size and where its pointer words are. Objects are word-aligned;
 * a pointer field must be a whole, aligned word. small_mask has bit i set
 * when word i is a pointer (types up to 64 words; larger types use offsets). */
struct gc_type {
	const char *name;          /* for traces and verifier reports */
	size_t size;               /* bytes, > 0 */
	uint64_t small_mask;       /* pointer words 0..63 */
	uint32_t nptrs;            /* entries in offsets */
	const uint32_t *offsets;   /* byte offsets of the pointer fields, ascending */
};

#define GC_PRIV_WORD(ctype, f) (offsetof(ctype, f) / sizeof(void *))
#define GC_PRIV_BIT(ctype, f)                                                  \
	(GC_PRIV_WORD(ctype, f) < 64 ? (uint64_t)1 << (GC_PRIV_WORD(ctype, f) & 63) : 0)

/* Applies m(ctype, field) to up to 16 fields, joined by sep. */
#define GC_PRIV_N(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, n, ...) n
#define GC_PRIV_COUNT(...)                                                     \
	GC_PRIV_N(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define GC_PRIV_CAT(a, b) GC_PRIV_CAT2(a, b)
#define GC_PRIV_CAT2(a, b) a##b
#define GC_PRIV_MAP(m, sep, t, ...) GC_PRIV_CAT(GC_PRIV_MAP, GC_PRIV_COUNT(__VA_ARGS__))(m, sep, t, __VA_ARGS__)
#define GC_PRIV_MAP1(m, s, t, a) m(t, a)
#define GC_PRIV_MAP2(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP1(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP3(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP2(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP4(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP3(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP5(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP4(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP6(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP5(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP7(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP6(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP8(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP7(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP9(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP8(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP10(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP9(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP11(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP10(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP12(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP11(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP13(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP12(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP14(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP13(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP15(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP14(m, s, t, __VA_ARGS__)
#define GC_PRIV_MAP16(m, s, t, a, ...) m(t, a) s() GC_PRIV_MAP15(m, s, t, __VA_ARGS__)
#define GC_PRIV_OR() |
#define GC_PRIV_COMMA() ,
#define GC_PRIV_OFF(ctype, f) (uint32_t)offsetof(ctype, f)

/* Declares `const struct gc_type var` for ctype whose pointer fields are the
 * listed members (1 to 16, in ascending offset order). Use it next to the
 * struct. Types with no pointers: GC_TYPE_NOPTR, or gc_alloc_bytes(). */
#define GC_TYPE(var, ctype, ...)                                               \
	static const uint32_t var##_gc_offsets[] = {                           \
		GC_PRIV_MAP(GC_PRIV_OFF, GC_PRIV_COMMA, ctype, __VA_ARGS__)};  \
	const struct gc_type var = {                                           \
		#ctype, sizeof(ctype),                                         \
		GC_PRIV_MAP(GC_PRIV_BIT, GC_PRIV_OR, ctype, __VA_ARGS__),      \
		(uint32_t)(sizeof var##_gc_offsets / sizeof(uint32_t)),        \
		var##_gc_offsets}
#define GC_TYPE_NOPTR(var, ctype) const struct gc_type var = {#ctype, sizeof(ctype), 0, 0, NULL}

/* One pointer word: gc_alloc_array(&gc_type_ptr, n) is an array of n pointers. */
extern const struct gc_type gc_type_ptr;

/* --- allocation -------------------------------------------------------------- */

/* Zeroed objects. Allocation is a safepoint and may assist the collector.
 * Out of memory (or past the hard limit of TOC_MAXHEAP) is fatal with a
 * message naming the request, the heap size and the limit. */
void *gc_alloc(const struct gc_type *t);
/* n consecutive elements of t (n may be 0: a minimal object). */
void *gc_alloc_array(const struct gc_type *t, size_t n);
/* Pointer-free bytes: never scanned (a pointer stored here keeps nothing alive). */
void *gc_alloc_bytes(size_t n);
/* The same, not zeroed: the contents are whatever the slot held (Go's
 * rawstring and rawbyteslice), for buffers the caller fills at once. */
void *gc_alloc_raw(size_t n);

/* --- the write barrier ------------------------------------------------------- */

/* The only way to write a heap pointer into the heap or a registered root.
 * obj is the start of the object containing slot (NULL for a root slot);
 * the transaction layer reads its publication state from it. val may be any
 * pointer (non-heap pointers are stored and ignored by the collector).
 *
 * gc_barrier_on: bit 0 while the collector marks (Go's hybrid barrier),
 * bit 1 while the transaction layer is on (TOC_MODE=toc). With the layer on
 * the fast path tests the running transaction's window, a range of one
 * address region [lo, lo + len) with a published bit per 8-byte granule:
 * a store takes the slow path only when val is an unpublished object of the
 * window and obj is not (docs/toc-algorithm.md). */
extern int gc_barrier_on;
#define GC_BARRIER_MARK 1
#define GC_BARRIER_TOC 2
/* The running transaction's window as the barrier sees it (per worker;
 * len 0 when none). Read through asm volatile, never cached across a call. */
struct gc_tls_window {
	uintptr_t lo;
	uintptr_t len;
	const uint64_t *pub;   /* bit (p - lo) / 8: the object starting at p is published */
};
extern __thread struct gc_tls_window gc_tls_window;
/* The barrier's calls: gc_store_slow publishes val (the layer's slow path)
 * and shades while the collector marks; gc_store_mark only shades, for a
 * store the inline test found nothing to publish in. Both store. */
void gc_store_slow(void *obj, void **slot, void *val);
void gc_store_mark(void **slot, void *val);
static inline bool gc_window_pub(const uint64_t *pub, uintptr_t off)
{
	return (pub[off >> 9] >> ((off >> 3) & 63)) & 1;
}
/* The barrier's tests of gc_barrier_on are asm blocks that end with the
 * store, and their bounds (771: to 772:) go to the section toc_nopreempt,
 * each relative to its own word (a position-independent program needs no
 * relocation for them): asynchronous preemption never stops a goroutine
 * between the load of gc_barrier_on and the store (sched/src/preempt.c),
 * where a stop or a ragged barrier could turn the mark barrier on and the
 * store would skip its shading. Code for a shared object reads
 * gc_barrier_on through the GOT; a program's reads it directly, one load
 * as before (a position-independent executable resolves it when linked). */
#if defined(__PIC__) && !defined(__PIE__)
#define GC_PRIV_FLAG_SETUP "movq gc_barrier_on@GOTPCREL(%%rip), %%rax\n\t"
#define GC_PRIV_FLAG "(%%rax)"
#else
#define GC_PRIV_FLAG_SETUP ""
#define GC_PRIV_FLAG "gc_barrier_on(%%rip)"
#endif
/* *slot = val unless a bit of mask is set in gc_barrier_on: then goto label. */
#define GC_PRIV_STORE_UNLESS(mask, slot, val, label)                           \
	__asm__ goto("771:\n\t" GC_PRIV_FLAG_SETUP                              \
		     "testl %[m], " GC_PRIV_FLAG "\n\t"                          \
		     "jnz %l[" #label "]\n\t"                                     \
		     "movq %[v], (%[s])\n"                                         \
		     "772:\n\t"                                                   \
		     ".pushsection toc_nopreempt, \"a\"\n\t"                     \
		     ".balign 4\n\t"                                              \
		     ".long 771b - .\n\t"                                         \
		     ".long 772b - .\n\t"                                         \
		     ".popsection"                                                \
		     :                                                            \
		     : [m] "i"(mask), [v] "re"(val), [s] "r"(slot)                \
		     : "rax", "cc", "memory"                                      \
		     : label)
static inline void gc_store_ptr(void *obj, void **slot, void *val)
{
	/* The store when no barrier is on. */
	GC_PRIV_STORE_UNLESS(-1, slot, val, gc_priv_barrier);
	return;
gc_priv_barrier:;
	/* The publishing test needs no flag: without the transaction layer,
	 * or outside a window, the window is empty (len 0) and every value
	 * falls outside it. One thread-pointer offset serves the three loads;
	 * the bitmap is read only for a value inside the window. */
	uintptr_t tp, lo, len;
	__asm__ volatile("movq gc_tls_window@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %1\n\t"
			 "movq %%fs:8(%0), %2"
			 : "=&r"(tp), "=&r"(lo), "=r"(len));
	uintptr_t v = (uintptr_t)val - lo;
	if (v < len) {
		const uint64_t *pub;
		__asm__ volatile("movq %%fs:16(%1), %0" : "=r"(pub) : "r"(tp));
		uintptr_t o = (uintptr_t)obj - lo;
		/* val is a window object: published already, or stored into
		 * an unpublished object of the window (the common store of a
		 * transaction building its own data), there is nothing to
		 * publish. The goroutine may be stopped anywhere in this test
		 * or after it (asynchronous preemption): its answer depends
		 * only on the running goroutine's own window (its worker's
		 * thread-local copy, which only that thread writes, and the
		 * goroutine is never moved off it at a signal) and the
		 * window's published bits of objects the goroutine holds,
		 * which only the goroutine itself sets and which a sweep
		 * keeps (held objects are marked). A stop changes neither (a
		 * flip that makes the window stale leaves both as they were:
		 * the goroutine learns of it at its next allocation, as after
		 * a poll); what a stop may change, the mark bit, is tested
		 * again with the store. */
		if ((o >= len || gc_window_pub(pub, o)) && !gc_window_pub(pub, v))
			goto gc_priv_publish;
	}
	GC_PRIV_STORE_UNLESS(GC_BARRIER_MARK, slot, val, gc_priv_mark);
	return;
gc_priv_mark:
	gc_store_mark(slot, val);
	return;
gc_priv_publish:
	gc_store_slow(obj, slot, val);
}
#define gc_store(obj, slotp, val)                                              \
	gc_store_ptr((obj), (void **)(slotp), (void *)(val))

/* Arrays of heap pointers. memcpy, memmove, qsort or any plain write to an
 * array that holds heap pointers bypasses the barrier: during a mark, an
 * object moved only that way can be missed and freed while reachable; with
 * the transaction layer, a window object copied into a published array is
 * not published and is reused when its transaction ends. Use these.
 *
 * Copies n pointers from src to dst, each through the barrier; the ranges
 * may overlap (memmove's semantics). dst_obj is the heap object holding
 * dst, or NULL when dst is a registered root array. Polls every few
 * thousand elements (a long copy does not hold up a stop). */
void gc_copy_ptrs(void *dst_obj, void **dst, void *const *src, size_t n);
/* Sorts the n pointers of base (inside heap object obj, or a root array:
 * NULL) by cmp, as qsort, writing them back through the barrier. cmp
 * receives pointers to elements, as qsort's does; it may allocate. No other
 * goroutine may write base meanwhile. Returns 0, or -1 with errno ENOMEM. */
int gc_sort_ptrs(void *obj, void **base, size_t n, int (*cmp)(const void *, const void *));

/* Registers n pointer slots outside the heap (globals, malloc'd tables) as
 * roots. Their contents must be heap pointers or NULL (or other non-heap
 * values, which are ignored). Write them with gc_store(NULL, slot, v). */
void gc_add_roots(void **slots, size_t n);
void gc_remove_roots(void **slots);

/* Keeps p reachable up to this point (the compiler may otherwise drop the
 * last copy of a pointer before the object's final use through another). */
static inline void gc_keep_alive(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* --- collection ---------------------------------------------------------------- */

/* Runs a full cycle and returns after it swept (Go's runtime.GC). A cycle
 * already under way is finished first. Must run on a goroutine. */
void gc_collect(void);

/* Runs fn(obj, arg) on a finalizer goroutine some time after obj became
 * unreachable (once; obj is kept for that call and reclaimed in a later
 * cycle). fn NULL removes the finalizer. obj must be the start of a heap
 * object. Returns 0, or -1 with errno EINVAL when it is not. */
int gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* Is p inside a live heap object? Returns its start, or NULL. */
void *gc_base(const void *p);

/* --- configuration and statistics --------------------------------------------------- */

enum gc_mode {
	GC_MODE_CMS = 0,   /* concurrent mark-sweep (default) */
	GC_MODE_STW = 1,   /* stop-the-world mark-sweep */
};

/* Knobs (environment, then flags). Zero/negative fields take the defaults
 * in gc_config_from_env; gogc = GC_GOGC_OFF disables the heap goal. */
#define GC_GOGC_OFF (-1)
struct gc_config {
	enum gc_mode mode;       /* TOC_MODE=cms|stw (toc: cms and the layer) */
	int toc;                 /* TOC_MODE=toc: the transaction layer on */
	int region_pages;        /* TOC_REGION: pages per transaction window region */
	int rewind;              /* TOC_REWIND: 1 (default) windows are rewound at their end; 0 left to the collector */
	int fulllist;            /* TOC_FULLLIST: 1 keeps mostly published regions for the next cycle (default) */
	int gogc;                /* TOC_GOGC / GOGC: percent, or off; default 100 */
	uint64_t memlimit;       /* TOC_MEMLIMIT / GOMEMLIMIT: soft limit in bytes; 0 none */
	uint64_t maxheap;        /* TOC_MAXHEAP: hard limit of heap bytes mapped; default 64 GiB */
	int gctrace;             /* TOC_GCTRACE / GODEBUG=gctrace=1: one line per cycle on stderr */
	int verify;              /* TOC_GCVERIFY: re-mark with the world stopped and compare */
	int poison;              /* TOC_GCPOISON: fill reclaimed slots with a pattern */
	int numa;                /* TOC_NUMA: 1 place arenas per node (default when >1 node), 0 off */
	int bg_percent;          /* TOC_GCBGPERCENT: background mark CPU share, default 25 */
};
#define GC_DEFAULT_GOGC 100
#define GC_DEFAULT_MAXHEAP ((uint64_t)64 << 30)

/* Fills *cfg from the environment (defaults for what is unset). Returns 0,
 * or -1 with a message naming the variable in err. */
int gc_config_from_env(struct gc_config *cfg, char *err, size_t errlen);
/* Parses a flag value the same way (name is the flag, e.g. "--gogc"). The
 * knob keys and the variables they stand for: "mode" (TOC_MODE), "gogc"
 * (TOC_GOGC, GOGC), "memlimit" (TOC_MEMLIMIT, GOMEMLIMIT), "maxheap"
 * (TOC_MAXHEAP), "gctrace" (TOC_GCTRACE), "verify" (TOC_GCVERIFY), "poison"
 * (TOC_GCPOISON), "numa" (TOC_NUMA), "bgpercent" (TOC_GCBGPERCENT), "region"
 * (TOC_REGION), "rewind" (TOC_REWIND); gc_config_help prints them with their defaults. An unknown
 * key is an error naming it. */
int gc_config_set(struct gc_config *cfg, const char *knob, const char *name,
		  const char *value, char *err, size_t errlen);
/* The knob table, printed by --help of the programs: one line per knob. */
void gc_config_help(FILE *out);

/* Creates the heap and installs the collector's scheduler hooks. Call before
 * sched_run; cfg NULL reads the environment. Returns 0, or -1 with a message
 * on stderr naming the bad knob. gc_fini releases the heap after sched_run
 * returned. */
int gc_init(const struct gc_config *cfg);
void gc_fini(void);
/* gc_init + sched_run + gc_fini. Returns 0, or -1 as they do. */
int gc_run(const struct gc_config *gcfg, const struct sched_config *scfg,
	   void (*main_fn)(void *), void *arg);
/* The configuration in force (after defaults). */
void gc_get_config(struct gc_config *out);
/* Changes GOGC / the memory limit while running (debug.SetGCPercent). */
void gc_set_gogc(int gogc);
void gc_set_memlimit(uint64_t bytes);

/* Statistics as one X-macro list (per-worker counters merged on read). */
#define GC_STATS(X)                                                            \
	X(cycles, "completed cycles")                                          \
	X(forced_cycles, "cycles started by gc_collect")                       \
	X(alloc_bytes, "bytes allocated, cumulative (slot sizes)")             \
	X(alloc_objects, "objects allocated, cumulative")                      \
	X(freed_bytes, "bytes reclaimed by sweeping, cumulative")              \
	X(large_allocs, "objects over 32 KiB, cumulative")                     \
	X(heap_live, "bytes in marked objects after the last cycle")           \
	X(heap_goal, "heap goal of the current cycle")                         \
	X(heap_paced, "the heap the pacer holds to the goal: marked + allocated since") \
	X(heap_inuse, "bytes in spans in use")                                 \
	X(heap_mapped, "bytes of arenas reserved")                             \
	X(heap_released, "bytes of free pages returned to the OS")             \
	X(heap_committed, "bytes of pages in use or free but not returned")    \
	X(stw_count, "stop-the-world pauses")                                  \
	X(stw_total_ns, "time the world was stopped, cumulative")              \
	X(stw_max_ns, "longest stop-the-world pause")                          \
	X(stw_max_interval_ns, "longest pause since gc_init or gc_reset_peaks")  \
	X(stw_ttsp_max_ns, "longest wait for all workers to stop (part of a pause)") \
	X(mark_ns, "wall time with marking on, cumulative (completed marks and the running one)") \
	X(gc_cpu_ns, "CPU in the collector: assist_ns + bg_mark_ns + sweep_ns + pause_cpu_ns") \
	X(assist_ns, "CPU in mark assists (and mutators scanning their own stacks), cumulative") \
	X(bg_mark_ns, "CPU in background mark workers and root scans, cumulative") \
	X(idle_mark_ns, "CPU in idle-priority mark workers (none: always 0)")  \
	X(sweep_ns, "CPU in sweeping: lazy sweeps by allocators and the background sweeper") \
	X(pause_cpu_ns, "CPU of the stopping goroutine while the world was stopped") \
	X(assist_wait_ns, "wall time goroutines waited for the collector (mark end, cycle start)") \
	X(heap_inuse_max, "largest heap_inuse since gc_init or gc_reset_peaks")       \
	X(heap_goal_max, "largest heap goal since gc_init or gc_reset_peaks")         \
	X(marked_objects, "objects marked, cumulative")                        \
	X(scanned_bytes, "heap bytes scanned, cumulative")                     \
	X(stack_bytes, "stack bytes scanned in the last cycle")                \
	X(finalizers_run, "finalizers run")                                    \
	X(limiter_engaged, "cycles where the GC CPU limiter capped assists")   \
	X(memlimit_cycles, "cycles whose goal the memory limit lowered")
struct gc_stats {
#define GC_STAT_FIELD(name, doc) uint64_t name;
	GC_STATS(GC_STAT_FIELD)
#undef GC_STAT_FIELD
};
void gc_read_stats(struct gc_stats *out);
/* Restarts heap_inuse_max and heap_goal_max from the current values (a
 * benchmark calls it when its timed part begins). */
void gc_reset_peaks(void);

/* One record per completed cycle, for pacer studies (a ring of the last
 * 1,024; gc_read_cycles copies the last n_max, oldest first). */
struct gc_cycle_record {
	uint64_t cycle;              /* number, from 1 */
	int64_t start_ns;            /* sched_nanotime() at its start */
	uint64_t mark_wall_ns;       /* mark phase, wall (cms) */
	uint64_t heap_trigger;       /* the paced heap when the mark began */
	uint64_t heap_end;           /* the paced heap at mark termination */
	uint64_t heap_inuse_end;     /* spans in use at mark termination */
	uint64_t marked;             /* marked bytes (the next base) */
	uint64_t goal;               /* this cycle's goal */
	uint64_t next_goal;          /* the goal it set */
	uint64_t next_trigger;       /* the trigger it set */
	uint64_t assist_ns;          /* CPU in assists during it */
	uint64_t bg_mark_ns;         /* CPU in background marking during it */
	double cons_mark;            /* its cons/mark sample */
	int forced;                  /* started by gc_collect */
	int limiter_on;              /* the CPU limiter capped assists after it */
};
size_t gc_read_cycles(struct gc_cycle_record *out, size_t n_max);
/* The durations of the last pauses in ns, oldest first: the runtime keeps
 * the last 4,096; at most n_max are written (the newest); returns the
 * count written. */
size_t gc_read_pauses(uint64_t *ns, size_t n_max);
/* The pauses after the first `since` of the run (since: a stw_count read
 * earlier, e.g. when a timed part began), oldest first, at most n_max (the
 * newest of them); returns the count written. When more happened than the
 * ring kept, the oldest are missing: stw_max_interval_ns (with
 * gc_reset_peaks at the same moment) still gives their maximum. */
size_t gc_read_pauses_since(uint64_t since, uint64_t *ns, size_t n_max);

#endif /* GC_GC_H */
