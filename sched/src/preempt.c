/*
 * preempt.c — asynchronous preemption: a goroutine that runs a loop of its
 * own code without polling is stopped, visited or counted quiescent in
 * place, by a signal (Go 1.14's asynchronous preemption, without the switch).
 *
 * Who sends. sched_stop_the_world waiting for the active workers,
 * sched_visit_stacks waiting for the running goroutines, and (through the
 * preempter thread below) sched_ragged_barrier waiting for its grace period
 * signal every worker they still wait for that runs a goroutine, all at
 * once, once the wait has lasted PREEMPT_FIRST_NS, and again every
 * PREEMPT_RETRY_NS: a signal may land on a point that is not safe and be
 * refused, the next one may land better. All at once, because a goroutine
 * that was not told yet may hold the core that the one told needs (with
 * more busy threads than cores, signalling one worker at a time made a
 * stop of two spinners take 3 ms at the median, against 16 us for spinners
 * that poll). The signal is SIGURG, sent with tgkill to the worker's thread
 * (Go's choice: its default action is to ignore it and programs hardly use
 * it). A waiter spins until its first signals and PREEMPT_WATCH_NS after
 * them, then gives its thread away between looks: the goroutine it
 * signalled may be waiting for that very core (the stops took one retry
 * period more whenever the waiter spun on until the retry).
 *
 * The handler (SA_SIGINFO | SA_RESTART, not SA_ONSTACK: it runs on the
 * interrupted goroutine's stack) judges the interrupted point and, at a safe
 * one, calls sched_safepoint_g: what sched_poll's slow path does short of
 * the switch. For a stop it parks right there through sched_ctx_spill, so
 * stop_sp lies below the handler's frames, the kernel's signal frame (every
 * general register and the xsave area with the vector registers) and the
 * interrupted frames: the stopped world's visit of [stop_sp, top) sees every
 * value the goroutine holds. A running visit's self-visit spills and scans
 * from the same place. It never switches goroutines: code that GCC compiled
 * may hold a thread-local address (of errno, of any __thread variable) in a
 * register or a stack slot, so a goroutine interrupted at an arbitrary
 * instruction must resume on the thread it was interrupted on. Hence time
 * slicing stays cooperative: a goroutine that never polls keeps its worker,
 * and the monitor's request to yield waits for its next poll.
 *
 * What is safe. The interrupted point must be the running goroutine's own
 * code, where a poll could have been:
 *   - the worker is active and runs a goroutine: not on g0, not stopped, not
 *     inside sched_syscall (refused: idle);
 *   - it is not in a scheduler callout (a stack visitor, a park commit: user
 *     code the scheduler calls with its own state half-changed, and a visit
 *     or a stop begun inside one would deadlock or visit twice: callout);
 *   - the interrupted stack pointer lies in that goroutine's stack (stack);
 *   - the PC lies in the program's .text section (foreign otherwise): not in
 *     libc, liburcu, libnuma, any shared object or the vDSO, whose locks and
 *     half-done updates are not ours to see through, nor in the PLT stubs
 *     through which the runtime calls them;
 *   - the PC is not in the runtime's code (runtime): the build puts every
 *     instruction of sched/, gc/ and toc/ into the section toc_runtime_text
 *     (CMakeLists.txt; the ctest runtime_text checks it). Between its
 *     safepoints the runtime has invariants of its own (locks held, caches
 *     half-filled, a switch half-done) and it reaches a safepoint soon;
 *   - the PC is not inside a write barrier's check-and-store (barrier):
 *     between reading gc_barrier_on and the store, a stop or a ragged
 *     barrier could turn the mark barrier on and the store would skip its
 *     shading. gc.h's barrier records those instructions' bounds in the
 *     section toc_nopreempt, which is read here once and sorted.
 * The rest of the program's code is safe: it holds no runtime state
 * half-changed (the runtime's inline code in the public headers only reads —
 * sched_poll, sched_worker_index, the transaction window — apart from the
 * barrier's store above), the pointers it holds are in registers or on its
 * stack, which the visits scan conservatively, and it stays on its thread.
 * A ragged barrier may count such a point as quiescent: the barrier's
 * recorded ranges are the only read-then-act sequences on the collector's
 * state outside the runtime.
 *
 * What is not provided: time slicing (above); a goroutine blocked in a call
 * into a library (pthread_join, a read that is not net.h's) is not stopped,
 * as before, the signal lands in libc; and a program that links the
 * runtime's libraries statically into the executable gets no asynchronous
 * preemption (their code would pass for the program's): it is turned off
 * with a note on stderr. A signal handler of the program's that runs on a
 * goroutine's stack (no SA_ONSTACK) is the program's code like any other,
 * but it may have interrupted the runtime: it must block SIGURG in its
 * sa_mask (on an alternate stack it is refused anyway). System calls the
 * kernel does not restart after a handler may fail with EINTR in goroutine
 * code (sched.h).
 *
 * The preempter thread runs while asynchronous preemption is on: it signals
 * the workers during a ragged barrier (synchronize_rcu blocks its caller),
 * and with TOC_PREEMPT_CHAOS=<mean µs> it also signals a random active
 * worker at random intervals, so the tests see signals land anywhere.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <numa.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <urcu-qsbr.h>
#include <urcu/wfcqueue.h>

#include "internal.h"

#define PREEMPT_SIGNAL SIGURG
#define PREEMPT_FIRST_NS 20000   /* a wait this long signals the worker */
#define PREEMPT_RETRY_NS 50000   /* and again this often */
#define PREEMPT_WATCH_NS 10000   /* the waiter spins this long after a first signal, then yields */

/* The bounds the linker gives the runtime's code section, and the barrier's
 * no-preemption records (absent from a program that never stores through
 * gc_store). A record's bounds are each relative to its own word, so a
 * position-independent executable needs no relocation for them. */
struct nopreempt_record {
	int32_t start, end;
};
extern const char __start_toc_runtime_text[], __stop_toc_runtime_text[];
extern const struct nopreempt_record __start_toc_nopreempt[] __attribute__((weak));
extern const struct nopreempt_record __stop_toc_nopreempt[] __attribute__((weak));

struct range {
	uintptr_t lo, hi;
};

/* The process's code map, read once. */
static struct {
	const char *unusable;     /* why asynchronous preemption cannot be on, or NULL */
	struct range text;        /* the program's .text */
	struct range runtime;     /* toc_runtime_text */
	struct range *nopreempt;  /* the barrier's ranges, sorted */
	size_t nnopreempt;
	struct sigaction old;     /* SIGURG's action before ours: other senders' signals go there */
} map;
static pthread_once_t map_once = PTHREAD_ONCE_INIT;

/* This runtime's state. */
static struct {
	bool on;
	pid_t pid;                /* read at each start: a forked child runs a runtime of its own */
	int chaos_us;
	_Atomic int ragged;       /* ragged barriers under way */
	_Atomic uint32_t wake;    /* futex: wakes the preempter thread */
	bool thread_running;
	pthread_t thread;
} pre;

static bool in_range(struct range r, uintptr_t pc)
{
	return pc >= r.lo && pc < r.hi;
}

/* --- the code map --------------------------------------------------------------- */

struct phdr_scan {
	uintptr_t bias;
	struct range exec[8];
	int nexec;
};

/* The first object dl_iterate_phdr reports is the program. */
static int phdr_first(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct phdr_scan *s = arg;
	s->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum && s->nexec < 8; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
			s->exec[s->nexec++] = (struct range){info->dlpi_addr + ph->p_vaddr,
							     info->dlpi_addr + ph->p_vaddr + ph->p_memsz};
	}
	return 1;
}

/* The program's .text, from its section headers: the executable segment
 * also holds the PLT, .init and .fini, which are not the program's code. */
static const char *read_text(uintptr_t bias, struct range *text)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "cannot open /proc/self/exe";
	const char *why = "cannot read the program's section headers";
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL;
	char *names = NULL;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_shentsize != sizeof *sh || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	size_t shsize = (size_t)eh.e_shnum * sizeof *sh;
	sh = malloc(shsize);
	if (!sh || pread(fd, sh, shsize, (off_t)eh.e_shoff) != (ssize_t)shsize)
		goto out;
	const ElfW(Shdr) *strtab = &sh[eh.e_shstrndx];
	names = malloc(strtab->sh_size + 1);
	if (!names || pread(fd, names, strtab->sh_size, (off_t)strtab->sh_offset) != (ssize_t)strtab->sh_size)
		goto out;
	names[strtab->sh_size] = '\0';
	why = "the program has no .text section";
	for (size_t i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name < strtab->sh_size && strcmp(names + sh[i].sh_name, ".text") == 0 &&
		    (sh[i].sh_flags & SHF_EXECINSTR)) {
			*text = (struct range){bias + sh[i].sh_addr, bias + sh[i].sh_addr + sh[i].sh_size};
			why = NULL;
			break;
		}
	}
out:
	free(names);
	free(sh);
	close(fd);
	return why;
}

static int range_cmp(const void *a, const void *b)
{
	uintptr_t x = ((const struct range *)a)->lo, y = ((const struct range *)b)->lo;
	return x < y ? -1 : x > y;
}

static const char *read_nopreempt(void)
{
	if (!__start_toc_nopreempt || !__stop_toc_nopreempt)
		return NULL;
	size_t n = (size_t)(__stop_toc_nopreempt - __start_toc_nopreempt);
	if (!n)
		return NULL;
	map.nopreempt = malloc(n * sizeof *map.nopreempt);
	if (!map.nopreempt)
		return "out of memory for the barrier's ranges";
	for (size_t i = 0; i < n; i++) {
		const struct nopreempt_record *r = &__start_toc_nopreempt[i];
		map.nopreempt[i] = (struct range){(uintptr_t)&r->start + (uintptr_t)(intptr_t)r->start,
						  (uintptr_t)&r->end + (uintptr_t)(intptr_t)r->end};
	}
	qsort(map.nopreempt, n, sizeof *map.nopreempt, range_cmp);
	map.nnopreempt = n;
	return NULL;
}

/* The functions of the libraries the runtime calls: if one lies in the
 * program's .text, they were linked into the executable and their code
 * would pass for the program's. */
static const char *check_libraries(void)
{
	const struct {
		const char *lib;
		uintptr_t fn;
	} probes[] = {
		{"libc", (uintptr_t)&malloc},
		{"liburcu-qsbr", (uintptr_t)&synchronize_rcu},
		{"liburcu-cds", (uintptr_t)&cds_wfcq_dequeue_blocking},
		{"libnuma", (uintptr_t)&numa_available},
	};
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (in_range(map.text, probes[i].fn))
			return probes[i].lib;
	return NULL;
}

static void map_read(void)
{
	static char why[160];
	map.runtime = (struct range){(uintptr_t)__start_toc_runtime_text, (uintptr_t)__stop_toc_runtime_text};
	struct phdr_scan ps = {0};
	dl_iterate_phdr(phdr_first, &ps);
	const char *e = read_text(ps.bias, &map.text);
	bool text_exec = false, runtime_exec = false;
	for (int i = 0; !e && i < ps.nexec; i++) {
		text_exec |= map.text.lo >= ps.exec[i].lo && map.text.hi <= ps.exec[i].hi;
		runtime_exec |= map.runtime.lo >= ps.exec[i].lo && map.runtime.hi <= ps.exec[i].hi;
	}
	if (!e && !text_exec)
		e = "the program's .text is not in an executable segment";
	if (!e && (!runtime_exec || map.runtime.lo >= map.runtime.hi))
		e = "the runtime's code section toc_runtime_text is not in the program";
	if (!e && map.runtime.lo < map.text.hi && map.text.lo < map.runtime.hi)
		e = "the runtime's code overlaps the program's .text";
	const char *lib = e ? NULL : check_libraries();
	if (lib) {
		snprintf(why, sizeof why, "%s is linked into the executable", lib);
		e = why;
	}
	if (!e)
		e = read_nopreempt();
	map.unusable = e;
}

static bool in_nopreempt(uintptr_t pc)
{
	size_t lo = 0, hi = map.nnopreempt;
	while (lo < hi) {   /* the first range starting at or after pc */
		size_t mid = lo + (hi - lo) / 2;
		if (map.nopreempt[mid].lo < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Its predecessor starts before pc. At its first instruction nothing
	 * has been read yet, and at its end the store is done: both safe. */
	return lo > 0 && pc < map.nopreempt[lo - 1].hi;
}

/* --- the handler ------------------------------------------------------------------- */

enum verdict { SAFE, IDLE, CALLOUT, STACK, FOREIGN, RUNTIME, BARRIER };

static enum verdict judge(struct sched_worker *w, const ucontext_t *uc)
{
	struct sched_g *g = w->cur;
	if (!g || !atomic_load_explicit(&w->active, memory_order_relaxed))
		return IDLE;
	if (w->async_off)
		return CALLOUT;
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (sp < (uintptr_t)sched_stack_bottom(g) || sp >= (uintptr_t)sched_stack_top(g))
		return STACK;
	if (in_range(map.runtime, pc))
		return RUNTIME;
	if (!in_range(map.text, pc))
		return FOREIGN;
	if (in_nopreempt(pc))
		return BARRIER;
	/* Online, as a goroutine always is outside the runtime; a quiescent
	 * state reported while offline would put the thread online. */
	if (!rcu_read_ongoing())
		return IDLE;
	return SAFE;
}

static void forward(int sig, siginfo_t *si, void *uc)
{
	if (map.old.sa_flags & SA_SIGINFO) {
		if (map.old.sa_sigaction)
			map.old.sa_sigaction(sig, si, uc);
	} else if (map.old.sa_handler != SIG_DFL && map.old.sa_handler != SIG_IGN) {
		map.old.sa_handler(sig);
	}
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	/* Ours come from tgkill in this process; the kernel's (urgent socket
	 * data) and others' go to whoever had the signal before. */
	if (si->si_code != SI_TKILL || si->si_pid != pre.pid) {
		forward(sig, si, uc);
		return;
	}
	struct sched_worker *w = sched_worker_self();
	if (!w || !pre.on)
		return;
	if (sched_rt.cfg.stoptrace_us)
		__atomic_store_n(&w->probe_pc, (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP],
				 __ATOMIC_RELAXED);
	int saved = errno;
	struct sched_stats *st = &w->stats;
	switch (judge(w, uc)) {
	case SAFE: {
		st->preempt_safe++;
		unsigned did = sched_safepoint_g(w);
		st->preempt_stopped += (did & SCHED_SAFEPOINT_STOPPED) != 0;
		st->preempt_visited += (did & SCHED_SAFEPOINT_VISITED) != 0;
		break;
	}
	case IDLE: st->preempt_idle++; break;
	case CALLOUT: st->preempt_callout++; break;
	case STACK: st->preempt_stack++; break;
	case FOREIGN: st->preempt_foreign++; break;
	case RUNTIME: st->preempt_runtime++; break;
	case BARRIER: st->preempt_barrier++; break;
	}
	errno = saved;
}

/* --- sending --------------------------------------------------------------------------- */

static void send(struct sched_worker *w)
{
	__atomic_fetch_add(&w->stats.preempt_sent, 1, __ATOMIC_RELAXED);
	syscall(SYS_tgkill, pre.pid, w->tid, PREEMPT_SIGNAL);
}

static bool runs_goroutine(struct sched_worker *w)
{
	return atomic_load(&w->active) && __atomic_load_n(&w->cur, __ATOMIC_RELAXED);
}

bool sched_preempt_on(void)
{
	return pre.on;
}

void sched_preempt_wait_init(struct sched_preempt_wait *pw)
{
	pw->now = pre.on ? sched_nanotime() : 0;
	pw->due = pw->now + PREEMPT_FIRST_NS;
	pw->spin_until = pw->due;
	pw->sent = false;
}

bool sched_preempt_due(struct sched_preempt_wait *pw)
{
	if (!pre.on)
		return false;
	pw->now = sched_nanotime();
	if (pw->now < pw->due)
		return false;
	if (!pw->sent)
		pw->spin_until = pw->now + PREEMPT_WATCH_NS;
	pw->sent = true;
	pw->due = pw->now + PREEMPT_RETRY_NS;
	return true;
}

bool sched_preempt_spin(const struct sched_preempt_wait *pw)
{
	return pre.on && pw->now < pw->spin_until;
}

void sched_preempt_signal(struct sched_worker *w)
{
	if (runs_goroutine(w))
		send(w);
}

void sched_preempt_probe(struct sched_worker *w)
{
	if (pre.on)
		send(w);
}

void sched_preempt_ragged(int delta)
{
	if (!pre.on)
		return;
	if (atomic_fetch_add(&pre.ragged, delta) == 0 && delta > 0) {
		atomic_fetch_add(&pre.wake, 1);
		sched_futex_wake(&pre.wake, 1);
	}
}

/* --- the preempter thread ------------------------------------------------------------ */

static int64_t chaos_draw(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	/* Uniform on [0, 2 * mean]: the mean the knob names. */
	return (int64_t)(*x % (2000u * (uint64_t)pre.chaos_us + 1));
}

static void *preempter_main(void *unused)
{
	(void)unused;
	prctl(PR_SET_TIMERSLACK, 1000UL);   /* its sleeps are tens of microseconds */
	uint64_t rng = (sched_chaos_seed ^ 0x5ca1ab1e0ddba11ull) | 1;
	int64_t now = sched_nanotime();
	int64_t chaos_next = pre.chaos_us ? now + chaos_draw(&rng) : INT64_MAX;
	int64_t ragged_next = INT64_MAX;
	int procs = sched_rt.cfg.procs;
	while (!atomic_load(&sched_rt.shutdown)) {
		uint32_t seq = atomic_load(&pre.wake);
		now = sched_nanotime();
		if (!atomic_load(&pre.ragged)) {
			ragged_next = INT64_MAX;
		} else if (ragged_next == INT64_MAX) {
			ragged_next = now + PREEMPT_FIRST_NS;
		} else if (now >= ragged_next) {
			for (int i = 0; i < procs; i++)
				if (runs_goroutine(&sched_rt.workers[i]))
					send(&sched_rt.workers[i]);
			ragged_next = now + PREEMPT_RETRY_NS;
		}
		if (now >= chaos_next) {
			struct sched_worker *w = &sched_rt.workers[rng % (uint64_t)procs];
			if (atomic_load(&w->active))
				send(w);
			chaos_next = now + chaos_draw(&rng);
		}
		int64_t next = chaos_next < ragged_next ? chaos_next : ragged_next;
		sched_futex_wait(&pre.wake, seq, next == INT64_MAX ? -1 : next > now ? next - now : 0);
	}
	return NULL;
}

/* --- the runtime's life --------------------------------------------------------------- */

int sched_preempt_start(void)
{
	pthread_once(&map_once, map_read);
	pre.on = false;
	pre.pid = getpid();
	pre.chaos_us = sched_rt.cfg.preempt_chaos_us;
	atomic_store(&pre.ragged, 0);
	if (sched_rt.cfg.async_preempt == SCHED_OFF)
		return 0;
	if (map.unusable) {
		static _Atomic int warned;
		if (!atomic_exchange(&warned, 1))
			fprintf(stderr, "sched: asynchronous preemption is off: %s\n", map.unusable);
		return 0;
	}
	static _Atomic int installed;
	if (!atomic_exchange(&installed, 1)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;   /* no SA_ONSTACK: on the goroutine's stack */
		sigemptyset(&sa.sa_mask);
		if (sigaction(PREEMPT_SIGNAL, &sa, &map.old)) {
			atomic_store(&installed, 0);
			return -1;
		}
	}
	pre.on = true;
	if (pthread_create(&pre.thread, NULL, preempter_main, NULL))
		sched_fatal("cannot start the preempter thread");
	pre.thread_running = true;
	return 0;
}

void sched_preempt_stop(void)
{
	if (pre.thread_running) {
		atomic_fetch_add(&pre.wake, 1);
		sched_futex_wake(&pre.wake, 1);
		pthread_join(pre.thread, NULL);
		pre.thread_running = false;
	}
}

void sched_preempt_worker_init(struct sched_worker *w)
{
	w->tid = (pid_t)syscall(SYS_gettid);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, PREEMPT_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
