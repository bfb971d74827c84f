/*
 * sched.h — goroutines in C: the public interface of the scheduler.
 *
 * An M:N scheduler in the shape of Go's: goroutines run on worker OS threads
 * (one per CPU by default), each worker has a local run queue, there is one
 * global queue, idle workers steal and then sleep, an epoll poller parks
 * goroutines blocked on sockets, and timers wake sleepers.
 *
 * Scheduling is cooperative: a goroutine gives up its worker at a safepoint —
 * any scheduler call, channel operation, allocation in the layers above, or an
 * explicit sched_poll() in a long loop. A goroutine that runs a long loop
 * without polling keeps its worker (no time slice is enforced on it), but it
 * does not hold up a stop-the-world, a stack visit or a ragged barrier: those
 * signal its worker (SIGURG, as Go 1.14) and the goroutine stops, visits its
 * stack or reports itself quiescent in place, inside the signal handler,
 * when the signal lands in the program's own code (never inside the
 * runtime, a library or a write barrier: the signal is sent again).
 * TOC_ASYNCPREEMPT=0 turns that off. The socket reads and writes of net.h
 * count as stopped while in the kernel (Go's entersyscall): a slow system
 * call does not delay a stop-the-world.
 *
 * Signals and system calls. The handler is installed with SA_RESTART, but
 * the kernel never restarts some calls after a handler ran: nanosleep,
 * clock_nanosleep, usleep, epoll_wait, poll, select, semop, and socket calls
 * with a timeout (SO_RCVTIMEO, SO_SNDTIMEO), among others (signal(7)). Goroutine
 * code that makes them may see them fail with EINTR, as Go 1.14 warned for
 * its own asynchronous preemption, and should retry. The runtime retries its
 * own. A program that uses SIGURG itself must not send it to the workers,
 * and a signal handler of its own that runs on the interrupted goroutine's
 * stack (no SA_ONSTACK) must block SIGURG while it runs (sa_mask).
 *
 * The scheduler knows nothing of the collector. The layers above use:
 *   - hooks on spawn, exit, park and resume (struct sched_hooks);
 *   - one pointer slot per goroutine (sched_g_slot);
 *   - sched_visit_stacks(): each goroutine's live stack range, with its
 *     callee-saved registers spilled inside it, without stopping the world;
 *   - sched_stop_the_world() / sched_start_the_world();
 *   - sched_ragged_barrier(): returns once every worker passed a safepoint.
 *
 * See docs/architecture.md. Everything with program scope is prefixed sched_.
 */
#ifndef SCHED_SCHED_H
#define SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sched_g;

/* Configuration. Read from the environment by sched_config_from_env(); a
 * program's flags override fields afterwards. Zero fields take defaults. */
struct sched_config {
	int procs;              /* worker threads; TOC_PROCS, default: CPUs online */
	size_t stack_size;      /* usable bytes per goroutine stack; TOC_STACK_SIZE, default 256 KiB */
	size_t max_goroutines;  /* stack slots reserved; TOC_MAX_GOROUTINES, default 2 Mi */
	int async_preempt;      /* TOC_ASYNCPREEMPT=1|0: SCHED_ON (the default) or SCHED_OFF */
	int preempt_chaos_us;   /* TOC_PREEMPT_CHAOS: a test thread signals random workers every
				 * this many microseconds on average; 0 (the default): none */
	int stoptrace_us;       /* TOC_STOPTRACE: a stop-the-world that waits longer than this for a
				 * worker says on stderr what the worker did; 0 (the default): off */
};
#define SCHED_ON 1
#define SCHED_OFF (-1)

#define SCHED_DEFAULT_STACK_SIZE (256u * 1024u)
#define SCHED_DEFAULT_MAX_GOROUTINES ((size_t)2 << 20)
#define SCHED_MAX_PROCS 256

/* Fills *cfg from TOC_PROCS, TOC_STACK_SIZE, TOC_MAX_GOROUTINES,
 * TOC_ASYNCPREEMPT, TOC_PREEMPT_CHAOS, TOC_STOPTRACE. Returns 0, or -1 with a message naming
 * the variable in err (size errlen). */
int sched_config_from_env(struct sched_config *cfg, char *err, size_t errlen);
/* The scheduler's knob table, printed by --help of the programs: one line
 * per knob. */
void sched_config_help(FILE *out);

/* Checks a configuration (after flags were applied). Returns 0, or -1 with a
 * message naming the knob in err. */
int sched_config_check(const struct sched_config *cfg, char *err, size_t errlen);

/* Runs main_fn(arg) as the first goroutine on a fresh runtime. Its
 * configuration: the environment (sched_config_from_env), overridden by the
 * non-zero fields of cfg (may be NULL), then defaults. Waits for main to return, then stops the workers and
 * frees every goroutine still parked (like a Go program whose main returned).
 * Returns 0, or -1 with errno set when the runtime cannot start (bad
 * configuration is reported on stderr naming the knob). Not reentrant; may be
 * called again after it returned. */
int sched_run(const struct sched_config *cfg, void (*main_fn)(void *), void *arg);

/* --- goroutines --------------------------------------------------------- */

/* Starts fn(arg) on a new goroutine. Returns its id (> 0), or 0 with errno
 * (EAGAIN: no stack slot left, ESRCH: no runtime). Callable from a goroutine
 * or from any thread while sched_run is active. On a goroutine it is a
 * safepoint when no free stack is cached and goroutines wait on this worker:
 * it yields so they run (and free their stacks) before a new one is made. */
uint64_t sched_go(void (*fn)(void *), void *arg);

/* The running goroutine, or NULL on a thread that is not running one. */
struct sched_g *sched_self(void);
uint64_t sched_g_id(const struct sched_g *g);
/* Per-goroutine pointer slot for the layers above (NULL at spawn). */
void **sched_g_slot(struct sched_g *g);
/* The highest address of g's stack (its live part is below the stack
 * pointer of its last switch, or of the caller when g is running). */
void *sched_g_stack_top(const struct sched_g *g);
/* Calls fn(sp, arg) with the caller's callee-saved registers spilled at
 * sp, below the frames of the caller: [sp, sched_g_stack_top(self)) then
 * holds every value the caller's frames and registers hold, and between sp
 * and the caller's frame only fully written words (the spill, return
 * addresses, saved frame pointers). For a layer that scans the running
 * goroutine's own stack conservatively. */
void sched_spill_call(void (*fn)(void *sp, void *arg), void *arg);
/* The argument g was started with (what its fresh stack holds). */
void *sched_g_arg(const struct sched_g *g);
/* The worker running the caller: 0..procs-1, or -1 off the workers. Valid
 * until the caller's next safepoint (a goroutine may resume elsewhere).
 * Inline: a thread-local read through asm volatile, so the compiler never
 * reuses it (or the thread's TLS address) across a switch. */
extern __thread int sched_tls_worker_index;
static inline int sched_worker_index(void)
{
	int i;
	__asm__ volatile("movq sched_tls_worker_index@gottpoff(%%rip), %%rax\n\t"
			 "movl %%fs:(%%rax), %0"
			 : "=r"(i)
			 :
			 : "rax");
	return i;
}
/* Workers of the running runtime (0 when none runs). */
int sched_procs(void);

/* Gives up the worker; the goroutine goes to the back of the run queue. */
void sched_gosched(void);
/* Ends the running goroutine (returning from its function does the same). */
_Noreturn void sched_exit(void);

/* Cooperative preemption poll: one load when nothing is pending. Call it in
 * long loops; allocation in the layers above calls it. */
extern int sched_poll_word;
void sched_poll_slow(void);
static inline void sched_poll(void)
{
	if (__atomic_load_n(&sched_poll_word, __ATOMIC_RELAXED) != 0)
		sched_poll_slow();
}

/* Parks the running goroutine. After it is off its stack, commit(g, arg) runs
 * on the scheduler; if commit returns false the goroutine resumes at once
 * (the wake-up it waited for already happened). Another party wakes it with
 * sched_ready(). reason is shown in traces. */
void sched_park(bool (*commit)(struct sched_g *g, void *arg), void *arg, const char *reason);
/* Makes a parked goroutine runnable. Callable from goroutines, timers and
 * non-worker threads. */
void sched_ready(struct sched_g *g);
/* Marks the calling goroutine urgent (or not): whenever it is readied on a
 * worker (a wake-up, a timer), the goroutine running there yields at its
 * next poll so it runs next, instead of waiting out a time slice behind
 * it. For the collector's workers, which get their CPU share this way (Go
 * schedules its GC workers ahead of the run queue). Its own yields still
 * go to the back of the queue. */
void sched_set_urgent(bool on);

/* errno as seen from a goroutine. gcc computes errno's thread-local address
 * once per function, and a goroutine that parks may resume on another
 * thread: in a function that parks, read and write errno only through these. */
int sched_errno(void);
void sched_set_errno(int e);

/* --- time ---------------------------------------------------------------- */

/* Monotonic clock in nanoseconds. */
int64_t sched_nanotime(void);
/* Parks the running goroutine for at least ns nanoseconds. */
void sched_sleep(int64_t ns);

/* A one-shot timer. fire(t) runs on a worker (or the monitor thread) in
 * scheduler context: it must not park, and should only ready goroutines or
 * do non-blocking channel operations. The struct is owned by the caller and
 * must stay alive until it fired or sched_timer_stop returned true. */
struct sched_timer {
	int64_t when;                        /* deadline, sched_nanotime() clock */
	void (*fire)(struct sched_timer *t); /* callback */
	void *arg;                           /* for the callback */
	int32_t heap_index;                  /* private; -1 when not armed */
};
void sched_timer_start(struct sched_timer *t, int64_t when);
/* Disarms t. Returns true if it was armed (so fire will not run). */
bool sched_timer_stop(struct sched_timer *t);

/* --- hooks for the layers above ------------------------------------------ */

/* All optional. spawn runs on the parent (parent is NULL when spawned from a
 * thread) before the child can run; exit runs on the dying goroutine;
 * park runs on the goroutine just before it parks; resume runs on the
 * goroutine each time it starts or continues on a worker (its first run, and
 * after every park, yield or preemption), before its own code; send runs
 * on the sender of every channel send (sched_chan_send, sched_chan_trysend). */
struct sched_hooks {
	void (*spawn)(struct sched_g *parent, struct sched_g *child);
	void (*exit)(struct sched_g *g);
	void (*park)(struct sched_g *g);
	void (*resume)(struct sched_g *g);
	/* A channel send is about to hand elem (size bytes) to another
	 * goroutine: runs on the sender, before the value is copied. */
	void (*send)(const void *elem, size_t size);
};
/* Installs hooks; call before sched_run or with no goroutine running. */
void sched_set_hooks(const struct sched_hooks *hooks);

/* --- stop-the-world, ragged safepoints, stack visits ---------------------- */

/* Stops every other worker at a safepoint, or, for a goroutine that does
 * not reach one, at an asynchronous safe point (the top of this file): the
 * goroutine stays on its worker, stopped inside the signal handler. Called
 * from a goroutine (whose worker keeps running it) or a non-worker thread.
 * Nests: no. */
void sched_stop_the_world(void);
void sched_start_the_world(void);

/* Returns once every worker has passed a safepoint after the call began (an
 * idle worker counts). Built on a urcu QSBR grace period. An asynchronous
 * safe point counts too: while asynchronous preemption is on, a goroutine's
 * code between two polls is not a read-side section (the runtime's own
 * barrier stores are: preempt.c). */
void sched_ragged_barrier(void);

/* visit(g, lo, hi, arg): [lo, hi) is g's live stack, with the callee-saved
 * registers of its last switch stored inside it. */
typedef void (*sched_stack_visitor)(struct sched_g *g, const void *lo, const void *hi, void *arg);

/* Visits the stack of every goroutine that exists when the call begins
 * exactly once, without stopping the world: parked and runnable goroutines
 * are locked and visited by the caller; a running one visits itself at its
 * next safepoint, synchronous or asynchronous (then its range holds the
 * signal frame with every register), or is visited by the worker about to
 * resume it. visit may therefore run on several threads at once, and inside
 * a signal handler on the visited stack: it must not poll or park.
 * Goroutines spawned during the call are visited at most once (their stacks
 * hold only their arguments, which the spawn hook sees). One visit at a
 * time. */
void sched_visit_stacks(sched_stack_visitor visit, void *arg);

/* The same with the world stopped by the caller (sched_stop_the_world):
 * visits every goroutine, on the calling thread, including those stopped at
 * a safepoint in the middle of their code (their registers spilled when
 * they stopped) and the caller itself. */
void sched_visit_stacks_stopped(sched_stack_visitor visit, void *arg);

/* --- CPU accounts ---------------------------------------------------------- */

/* A goroutine charges its thread's CPU time to the account it has open
 * (1..SCHED_ACCOUNTS-1; 0: none). The scheduler stops the clock whenever
 * the goroutine leaves its worker (yield, park, preemption, a stop) and
 * restarts it when it runs again, on whichever worker: a charge never spans
 * a switch or a migration, and time spent parked is never charged. The
 * accounts' meanings belong to the layers above (the collector's are in
 * gc.h). Time is kept per worker, merged on read. */
#define SCHED_ACCOUNTS 8
/* Opens account (0 closes) for the running goroutine, or for the worker's
 * scheduler context when called there; the time since the last swap goes to
 * the account that was open. Returns that account, so a caller restores it:
 *     int prev = sched_account_swap(A); ...; sched_account_swap(prev);
 * Swapping to the open account books its time so far and keeps it open.
 * Off the workers nothing is charged and 0 is returned. */
int sched_account_swap(int account);
/* The account open in the calling context (0: none), read without booking
 * any time or reading a clock. */
int sched_account_open(void);
/* Nanoseconds charged to account since sched_run started (the totals of a
 * runtime that returned stay readable until the next sched_run). */
uint64_t sched_account_ns(int account);
/* The same per worker of the running runtime: writes at most n, returns the count. */
int sched_account_per_worker(int account, uint64_t *out, int n);
/* CPU the calling goroutine (or scheduler context) has charged to any
 * account so far, including its open interval once it swapped: a swap to
 * the account already open books the time up to now. */
uint64_t sched_account_own_ns(void);
/* The calling thread's CPU clock (CLOCK_THREAD_CPUTIME_ID), ns. */
uint64_t sched_thread_cpu_ns(void);

/* --- statistics ----------------------------------------------------------- */

/* Scheduler statistics, as one X-macro list; per-worker counters merged on read. */
#define SCHED_STATS(X)                                                         \
	X(spawned, "goroutines started")                                       \
	X(exited, "goroutines exited")                                         \
	X(switches, "switches onto goroutines")                                \
	X(steals, "successful steals")                                         \
	X(parks, "parks")                                                      \
	X(wakeups, "workers woken from sleep")                                 \
	X(netpolls, "epoll_wait calls that returned events")                   \
	X(stw, "stop-the-world episodes")                                      \
	X(preempt_sent, "preemption signals sent to the worker")               \
	X(preempt_safe, "signals handled at a safe point (the program's code)") \
	X(preempt_stopped, "  of which stopped the goroutine for a stop-the-world") \
	X(preempt_visited, "  of which visited its stack for a stack visit")   \
	X(preempt_idle, "signals refused: no goroutine running (scheduler, stopped, system call)") \
	X(preempt_callout, "signals refused: in a scheduler callout (visitor, park commit)") \
	X(preempt_stack, "signals refused: not on the goroutine's stack")     \
	X(preempt_foreign, "signals refused: outside the program's .text (libraries, vDSO, PLT)") \
	X(preempt_runtime, "signals refused: inside the runtime's code")      \
	X(preempt_barrier, "signals refused: inside a write barrier's store")
struct sched_stats {
#define SCHED_STAT_FIELD(name, doc) uint64_t name;
	SCHED_STATS(SCHED_STAT_FIELD)
#undef SCHED_STAT_FIELD
	uint64_t live_goroutines;  /* spawned - exited */
	uint64_t stack_slots_used; /* high-water mark of stack slots */
	int procs;                 /* workers */
	bool async_preempt;        /* asynchronous preemption is on in this runtime */
};
/* The running runtime's statistics; once sched_run returned, its last
 * runtime's, until the next sched_run. */
void sched_read_stats(struct sched_stats *out);
/* The counters of one worker (0..procs-1) of the running runtime: 0, or -1
 * when there is no such worker. The fields after the counters are the
 * runtime's, as above. */
int sched_read_worker_stats(int worker, struct sched_stats *out);

#endif /* SCHED_SCHED_H */
