/*
 * internal.h — the scheduler's private structures. Not installed; tests may
 * include it (it is the module's test-only header).
 *
 * Glossary (docs/glossary.md; docs/architecture.md):
 *   g        a goroutine: its struct sits at the top of its own stack slot, so
 *            the stack region doubles as the table of all goroutines.
 *   worker   an OS thread with a local run queue (Go's M and P in one).
 *   g0       a worker's scheduler context: the thread's own stack. Every switch
 *            between goroutines passes through it (Go's mcall + gogo), so a
 *            goroutine is never made runnable while still on its stack.
 *   slot     a fixed-size stack with a guard page below it.
 *
 * Goroutine states and their legal transitions (sched_g_cas asserts them):
 *
 *   FREE ──spawn──► RUNNABLE ──execute──► RUNNING ──yield──► RUNNABLE
 *                      ▲                     │
 *                      └──── ready ◄── WAITING ◄──park──┘
 *   RUNNING ──exit──► DEAD ──recycle──► FREE
 *
 * SCHED_G_SCAN is or-ed into RUNNABLE or WAITING while a stack visitor owns
 * the goroutine; execute and ready wait for it to clear (Go's _Gscan).
 */
#ifndef SCHED_INTERNAL_H
#define SCHED_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/types.h>

#include <urcu/wfcqueue.h>

#include "toc/sched.h"

#ifndef TOC_CHECK_LEVEL
#define TOC_CHECK_LEVEL 0
#endif

/* Internal checks: level 1 cheap, level 2 expensive. Release builds: 0. */
#define SCHED_CHECK(cond)                                                      \
	do {                                                                   \
		if (TOC_CHECK_LEVEL >= 1 && !(cond))                           \
			sched_fatal("check failed: %s (%s:%d)", #cond, __FILE__, \
				    __LINE__);                                 \
	} while (0)

_Noreturn void sched_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#if defined(__SANITIZE_ADDRESS__)
#define SCHED_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCHED_ASAN 1
#endif
#endif
#ifndef SCHED_ASAN
#define SCHED_ASAN 0
#endif

#define SCHED_NO_ASAN __attribute__((no_sanitize("address")))

/* --- context switch (switch_x86_64.S) ------------------------------------ */

/* Saves rbx, rbp, r12-r15 on the current stack, stores rsp in *save_sp,
 * loads new_sp and restores the same registers from it. MXCSR and the x87
 * control word are not saved: goroutines must not change them. */
void sched_ctx_switch(void **save_sp, void *new_sp);
/* First return address of a new goroutine: calls sched_g_main(r12). */
void sched_ctx_entry(void);
/* Spills callee-saved registers on the stack and calls fn(sp, arg), where sp
 * is the lowest address holding them. */
void sched_ctx_spill(void (*fn)(void *sp, void *arg), void *arg);
/* Runs fn(arg), a system call that may take a while, with the worker
 * counted as stopped (Go's entersyscall/exitsyscall): a stop-the-world does
 * not wait for it, and a stopped-world stack visit sees the goroutine's
 * stack from its spilled registers. If the world stopped meanwhile, returns
 * only once it runs again. errno is fn's. */
long sched_syscall(long (*fn)(void *), void *arg);

/* --- goroutines ----------------------------------------------------------- */

enum sched_gstatus {
	SCHED_G_FREE = 0,
	SCHED_G_RUNNABLE = 1,
	SCHED_G_RUNNING = 2,
	SCHED_G_WAITING = 3,
	SCHED_G_DEAD = 4,
};
#define SCHED_G_SCAN 0x100u
extern const char *const sched_gstatus_names[];

/* A goroutine. Lives at the top of its stack slot. Fields without a comment
 * on sharing are touched only by the worker running or resuming the g. */
struct sched_g {
	void *sp;                        /* saved rsp while not running */
	_Atomic uint32_t status;         /* enum sched_gstatus | SCHED_G_SCAN; CAS only */
	_Atomic uint32_t scanned_epoch;  /* last stack visit that covered this g */
	uint64_t id;                     /* > 0; 0 in a free slot */
	struct sched_g *next;            /* intrusive link: wait queues, batches */
	struct cds_wfcq_node gq_node;    /* link in the global run queue */
	void (*fn)(void *);              /* entry function */
	void *arg;                       /* its argument */
	void *slot;                      /* for the layers above */
	uint32_t stack_index;            /* slot number in the stack region */
	_Atomic uint32_t select_done;    /* select: 0 until one case (or the timer) won */
	void *param;                     /* set by the waker: winning sudog, or NULL */
	const char *wait_reason;         /* why parked (traces) */
	void *asan_fake_stack;           /* sanitizer fiber bookkeeping */
	int valgrind_stack_id;           /* VALGRIND_STACK_REGISTER id, 0 if none */
	void *stop_sp;                   /* while stopped for the world on its own stack: lowest spilled word */
	bool urgent;                     /* readied ahead of the goroutine that readied it (sched_set_urgent) */
	uint8_t account;                 /* open CPU account (account.c), 0 for none */
	uint64_t account_t0;             /* thread CPU clock when it was (re)started on this worker */
	uint64_t account_own;            /* CPU charged to any account by this goroutine, cumulative */
};

/* --- spinlock and futex ----------------------------------------------------- */

void sched_spin_lock(int *lock);
static inline void sched_spin_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}
/* Returns when woken, when *addr != expected, after timeout_ns (< 0: none),
 * or early: a signal (EINTR; a preemption signal if the caller is a worker)
 * or a stray wake. Every caller waits in a loop that looks again. */
void sched_futex_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t timeout_ns);
void sched_futex_wake(_Atomic uint32_t *addr, int count);

/* --- local run queue (runq.c) ---------------------------------------------- */

#define SCHED_RUNQ_SIZE 256u

/* Go's per-P run queue: a ring the owner pushes at tail; the owner and thieves
 * take from head with a CAS. runnext holds the goroutine the owner readied
 * last (a channel partner), run before the ring and stolen only after a delay. */
struct sched_runq {
	_Atomic uint32_t head;                        /* CAS by owner and thieves */
	_Atomic uint32_t tail;                        /* written by owner only, release */
	_Atomic(struct sched_g *) next;               /* xchg by owner and thieves */
	_Atomic(struct sched_g *) ring[SCHED_RUNQ_SIZE]; /* racy reads validated by the head CAS */
};

/* Owner only. Returns false when the ring is full (caller spills). */
bool sched_runq_push(struct sched_runq *q, struct sched_g *g);
/* Owner only: runnext first, then the ring. */
struct sched_g *sched_runq_pop(struct sched_runq *q);
/* Thief: moves about half of victim's ring into thief's (empty) ring and
 * returns one more goroutine to run, or NULL. take_next allows runnext. */
struct sched_g *sched_runq_steal(struct sched_runq *thief, struct sched_runq *victim, bool take_next);
/* Owner: moves half the ring plus g into batch (linked by ->next); returns count. */
uint32_t sched_runq_spill(struct sched_runq *q, struct sched_g *g, struct sched_g **batch);
uint32_t sched_runq_len(struct sched_runq *q);
bool sched_runq_empty(struct sched_runq *q);

/* --- workers ----------------------------------------------------------------- */

/* What a goroutine asked its worker's g0 to do after switching away. */
enum sched_op {
	SCHED_OP_NONE,
	SCHED_OP_YIELD,  /* requeue at the tail */
	SCHED_OP_PREEMPT, /* as YIELD, but through g0 so it checks timers and the global queue */
	SCHED_OP_PARK,   /* run park_commit; requeue if it returns false */
	SCHED_OP_EXIT,   /* recycle the stack */
};

struct sched_worker {
	struct sched_runq runq;              /* local run queue */
	int id;                              /* 0..procs-1 */
	void *g0_sp;                         /* scheduler context's saved rsp */
	struct sched_g *cur;                 /* goroutine running here, or NULL */
	struct sched_g *prev;                /* switched away from; its request is pending */
	enum sched_op prev_op;               /* that request, done by whoever runs next */
	bool (*park_commit)(struct sched_g *, void *); /* for SCHED_OP_PARK */
	void *park_arg;                      /* its argument */
	_Atomic uint64_t schedtick;          /* incremented per execute; read by thieves, monitor */
	_Atomic int preempt;                 /* set by the monitor: yield at next poll */
	bool spinning;                       /* looking for work; counted in sched.nspinning */
	_Atomic uint32_t wake;               /* futex: 1 when told to wake */
	_Atomic int sleeping;                /* on the idle list; written under sched.idle_lock */
	bool in_poll;                        /* sleeping in epoll_wait (the poller); idle_lock */
	struct sched_worker *idle_next;      /* idle list link; idle_lock */
	_Atomic int active;                  /* 1 while it may run goroutines; 0 asleep or stopped */
	void *g0_stack_lo;                   /* the thread stack, for fiber annotations */
	size_t g0_stack_size;
	uint64_t rand;                       /* xorshift state for steal order and select */
	struct sched_stack_cache *stacks;    /* per-worker cache of free stack slots */
	uint32_t spawn_no_yield;             /* fresh stacks to make before backpressure may yield again */
	void *altstack;                      /* signal stack for overflow reports */
	pid_t tid;                           /* its thread, for preemption signals; set before active = 1 */
	int async_off;                       /* > 0 in a scheduler callout: no asynchronous safe point (preempt.c) */
	uintptr_t probe_pc;                  /* where a TOC_STOPTRACE probe interrupted the thread (stoptrace.c) */
	struct sched_stats stats;            /* owner-written counters, merged on read */
	uint64_t account_ns[SCHED_ACCOUNTS]; /* CPU charged on this worker per account; owner-written */
	uint8_t g0_account;                  /* the scheduler context's open account */
	uint64_t g0_account_t0;              /* and its start */
	uint64_t g0_account_own;             /* what the scheduler context charged, cumulative */
} __attribute__((aligned(64)));       /* one cache line apart: no false sharing */

/* The one runtime. Exists between sched_run's start and end. */
struct sched {
	struct sched_config cfg;
	struct sched_worker *workers;        /* cfg.procs entries */
	_Atomic int running;                 /* 1 while sched_run is active */
	_Atomic int shutdown;                /* workers exit when set */

	/* global run queue: wait-free enqueue, dequeue under its head lock */
	struct cds_wfcq_head gq_head;
	struct cds_wfcq_tail gq_tail;
	_Atomic uint64_t gq_len;             /* approximate length */

	/* idle workers: list under idle_lock; counters readable without it */
	int idle_lock;
	struct sched_worker *idle;           /* sleeping workers; idle_lock */
	_Atomic int nidle;                   /* workers on the idle list */
	_Atomic int nspinning;               /* workers looking for work */
	_Atomic int poller_busy;             /* a worker sleeps in epoll_wait */

	/* stop-the-world */
	_Atomic int stw_pending;             /* set by the stopper */
	_Atomic int nstopped;                /* workers parked for it */
	_Atomic uint32_t stw_gen;            /* futex the stopped workers wait on */
	int stw_lock;                        /* one stopper at a time */
	struct sched_worker *stw_owner;      /* the stopper's worker (NULL: a thread); atomic */

	/* stack visits */
	_Atomic uint32_t visit_epoch;        /* bumped per visit */
	_Atomic int visit_active;            /* a visit is running */
	sched_stack_visitor visit_fn;        /* the running visit's callback */
	void *visit_arg;

	/* main goroutine completion */
	_Atomic uint32_t main_done;          /* futex for sched_run's thread */

	/* monitor thread (Go's sysmon) */
	_Atomic uint32_t monitor_wake;       /* futex: a count every wake-up of the monitor bumps */
	_Atomic int64_t last_poll;           /* last netpoll, sched_nanotime() */

	_Atomic uint64_t next_id;            /* goroutine ids */
	_Atomic uint64_t spawned_from_threads; /* stats of non-worker spawns */
	struct sched_hooks hooks;
};
extern struct sched sched_rt;

/* The worker running on this thread (NULL off workers). Read through an asm
 * volatile load so the compiler never reuses a thread-local address across a
 * switch: a goroutine may resume on another worker. */
extern __thread struct sched_worker *sched_tls_worker;
static inline struct sched_worker *sched_worker_self(void)
{
	struct sched_worker *w;
	__asm__ volatile("movq sched_tls_worker@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0"
			 : "=r"(w));
	return w;
}

static inline void sched_chaos_point(void);

/* Asks w's goroutine to yield at its next poll (the monitor's time slice).
 * The poll word is raised before the flag is published, and lowered again
 * if the flag was set already: the owner lowers it only after taking the
 * flag (sched_preempt_clear, whose exchange reads ours), so the word never
 * counts fewer reasons than are pending. Raised after the flag, it could:
 * an owner's clear between the two took another reason's count with it,
 * and a worker waking from idle in a stopped world read 0 and ran a
 * goroutine (safepoint.c). */
static inline void sched_preempt_request(struct sched_worker *w)
{
	__atomic_fetch_add(&sched_poll_word, 1, __ATOMIC_RELAXED);
	sched_chaos_point();
	if (atomic_exchange(&w->preempt, 1))
		__atomic_fetch_sub(&sched_poll_word, 1, __ATOMIC_RELAXED);
}

/* Withdraws a pending request; true if there was one. */
static inline bool sched_preempt_clear(struct sched_worker *w)
{
	if (!atomic_load_explicit(&w->preempt, memory_order_relaxed) || !atomic_exchange(&w->preempt, 0))
		return false;
	__atomic_fetch_sub(&sched_poll_word, 1, __ATOMIC_RELAXED);
	return true;
}

/* --- chaos points (tests) ----------------------------------------------------- */

/* Test-only fault injection (the random yields of the seeded stress tests,
 * docs/invariants.md): a chaos point marks a place where a race window opens (between
 * publishing a state and acting on it). While sched_chaos_rate is non-zero,
 * each point gives the OS thread away (sched_yield) or spins a little with
 * probability sched_chaos_rate / 1024, which stretches those windows from a
 * few instructions to a time slice. Zero in production: one relaxed load. A
 * test sets both variables before sched_run and clears the rate after it. */
extern unsigned sched_chaos_rate;      /* out of 1024; written by tests only */
extern uint64_t sched_chaos_seed;      /* mixed into each thread's generator */
void sched_chaos_slow(void);
static inline void sched_chaos_point(void)
{
	if (__atomic_load_n(&sched_chaos_rate, __ATOMIC_RELAXED))
		sched_chaos_slow();
}

/* sched.c */
extern _Atomic int sched_monitor_sleeping;   /* the monitor sleeps until a worker wakes it (runtime.c) */
/* The worker's scheduling loop on its g0; returns at shutdown. */
void sched_schedule(struct sched_worker *w);
bool sched_gq_empty(void);
/* idle.c */
void sched_worker_sleep(struct sched_worker *w);   /* until woken, a timer is due or the poller has events */
void sched_inject(struct sched_worker *w, struct sched_g *batch, uint32_t n);   /* a netpoll batch, less its head */
void sched_g_main(struct sched_g *g);
void sched_switch_out(struct sched_worker *w, enum sched_op op);
void sched_ready_batch(struct sched_g *list, uint32_t n);
bool sched_g_cas(struct sched_g *g, uint32_t from, uint32_t to);
void sched_wakep(void);
uint64_t sched_rand(struct sched_worker *w);

/* account.c: the switch path stops and restarts an open account's clock */
void sched_account_stop(struct sched_worker *w, struct sched_g *g);
void sched_account_restart(struct sched_g *g);
void sched_accounts_retire(void);   /* runtime_free: keep the totals */
void sched_accounts_reset(void);    /* sched_run: start from zero */

/* stack.c: the stack region */
int sched_stacks_init(const struct sched_config *cfg);
void sched_stacks_fini(void);
void sched_stacks_worker_init(struct sched_worker *w);
void sched_stacks_worker_fini(struct sched_worker *w);
struct sched_g *sched_stack_alloc(struct sched_worker *w);
bool sched_stack_has_free(struct sched_worker *w);
void sched_stack_free(struct sched_worker *w, struct sched_g *g);
struct sched_g *sched_stack_g(size_t index);
size_t sched_stack_high_water(void);
void *sched_stack_top(const struct sched_g *g);
void *sched_stack_bottom(const struct sched_g *g);
size_t sched_stack_usable(void);
int sched_overflow_handler_install(void);
void sched_overflow_altstack(struct sched_worker *w);
void sched_overflow_altstack_remove(struct sched_worker *w);

/* safepoint.c */
void sched_safepoint_g0(struct sched_worker *w);
/* What a goroutine does at a safepoint on its own stack, short of giving up
 * its worker: stops for a pending stop-the-world, reports a quiescent state,
 * visits its stack for a running visit. Returns what it did. */
#define SCHED_SAFEPOINT_STOPPED 1u
#define SCHED_SAFEPOINT_VISITED 2u
unsigned sched_safepoint_g(struct sched_worker *w);
void sched_stw_park(struct sched_worker *w);
bool sched_visit_before_switch(struct sched_g *g);   /* true if it visited */
void sched_visit_before_execute(struct sched_g *g);

/* preempt.c: asynchronous preemption for stops, stack visits and ragged
 * barriers (its essay). */
int sched_preempt_start(void);          /* sched_run, before the workers start */
void sched_preempt_stop(void);          /* sched_run, at shutdown, before the workers are joined */
void sched_preempt_worker_init(struct sched_worker *w);   /* on the worker's thread */
bool sched_preempt_on(void);
/* A stop's wait for the other workers, or a visit's for the running
 * goroutines. Each time round, the waiting loop asks sched_preempt_due: it
 * is true once the wait has lasted PREEMPT_FIRST_NS and then periodically,
 * and then the loop signals everyone it still waits for, not only the one it
 * looks at (sched_preempt_signal: a worker that runs a goroutine): one that
 * has not been told may hold the core the other needs. sched_preempt_spin
 * says whether to spin rather than give the thread away: until a while
 * after the first signals, so their effect is seen at once (a yield on a
 * loaded machine can last a time slice). All false with asynchronous
 * preemption off. */
struct sched_preempt_wait {
	int64_t now;          /* the clock at the last sched_preempt_due */
	int64_t due;          /* the next signals */
	int64_t spin_until;   /* spin until then */
	bool sent;            /* signals went out */
};
void sched_preempt_wait_init(struct sched_preempt_wait *pw);
bool sched_preempt_due(struct sched_preempt_wait *pw);
bool sched_preempt_spin(const struct sched_preempt_wait *pw);
void sched_preempt_signal(struct sched_worker *w);
void sched_preempt_ragged(int delta);   /* a ragged barrier begins (+1) or ends (-1) */
void sched_preempt_probe(struct sched_worker *w);   /* a signal that only notes the PC (stoptrace.c) */

/* TOC_STOPTRACE (stoptrace.c): a stop that waits too long for a worker
 * reports what the worker did meanwhile. */
struct sched_stoptrace {
	int64_t t0, late_at;          /* the wait's start; when it crossed the threshold */
	bool late, on_g0, have_schedstat;
	uint64_t run0, wait0;         /* the thread's schedstat at the threshold */
	struct sched_stats st0;       /* its counters then */
};
void sched_stoptrace_begin(struct sched_stoptrace *t, int64_t now);
void sched_stoptrace_check(struct sched_stoptrace *t, struct sched_worker *w, int64_t now);
void sched_stoptrace_end(struct sched_stoptrace *t, struct sched_worker *w, int64_t now);
void sched_stoptrace_flush(void);
/* A scheduler callout (a visitor, a park commit) runs user code that must
 * not be taken for an asynchronous safe point. */
static inline void sched_callout_begin(struct sched_worker *w)
{
	if (w)
		__atomic_store_n(&w->async_off, w->async_off + 1, __ATOMIC_RELAXED);
}
static inline void sched_callout_end(struct sched_worker *w)
{
	if (w)
		__atomic_store_n(&w->async_off, w->async_off - 1, __ATOMIC_RELAXED);
}

/* timer.c */
void sched_timers_init(void);
void sched_timers_fini(void);
int64_t sched_timers_next(void);
bool sched_timers_run(int64_t now);

/* netpoll.c */
int sched_netpoll_init(void);
void sched_netpoll_fini(void);
uint32_t sched_netpoll(int64_t timeout_ns, struct sched_g **batch);
void sched_netpoll_break(void);
bool sched_netpoll_waiting(void);

/* Sanitizer fiber annotations: real in the sanitizer build (stack.c), empty
 * inline functions otherwise so the switch path pays nothing. */
#if SCHED_ASAN
void sched_san_start_switch(void **fake_save, const void *bottom, size_t size);
void sched_san_start_switch_g(void **fake_save, const struct sched_g *to);
void sched_san_finish_switch(void *fake_save);
void sched_san_unpoison(const void *lo, size_t size);
#else
static inline void sched_san_start_switch(void **fake_save, const void *bottom, size_t size)
{
	(void)fake_save;
	(void)bottom;
	(void)size;
}
static inline void sched_san_start_switch_g(void **fake_save, const struct sched_g *to)
{
	(void)fake_save;
	(void)to;
}
static inline void sched_san_finish_switch(void *fake_save)
{
	(void)fake_save;
}
static inline void sched_san_unpoison(const void *lo, size_t size)
{
	(void)lo;
	(void)size;
}
#endif

#endif /* SCHED_INTERNAL_H */
