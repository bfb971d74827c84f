/*
 * stack.c — goroutine stacks.
 *
 * One MAP_NORESERVE reservation of max_goroutines fixed-size slots. Slot i:
 *
 *   base = region + i * slot_size
 *   [base, base + GUARD)             guard page (MADV_GUARD_INSTALL)
 *   [base + GUARD, g)                the stack, growing down from g
 *   [g, base + slot_size)            struct sched_g, in the top OS page
 *
 * Pages are committed by the first touch, so a parked goroutine whose frames
 * fit in the top OS page costs one OS page. The struct sched_g living in its
 * own slot means the region is also the table of every goroutine: the stack
 * visitor walks slots [0, high water) and needs no list or lock (a never-used
 * slot reads as zero, i.e. SCHED_G_FREE).
 *
 * Free slots are kept committed for reuse in a per-worker cache, then in a
 * global list (linked through g->next, under a spinlock). A slot entering a
 * global list that already holds SCHED_STACK_KEEP slots gives its stack pages
 * back to the OS (MADV_DONTNEED below the top OS page).
 *
 * Guard pages: MADV_GUARD_INSTALL (Linux 6.13) marks a page inside the
 * mapping so that any access faults, without splitting the mapping; the
 * number of guards is therefore not limited by vm.max_map_count. Without
 * it, guards are PROT_NONE pages (mprotect), which split the mapping: we
 * install them only while a budget derived from vm.max_map_count lasts, and
 * say once on stderr when slots beyond it run unguarded.
 *
 * A fault on a guard page is reported by a SIGSEGV handler running on a
 * per-worker alternate signal stack: "goroutine N: stack overflow", abort.
 * Any other fault goes to the handler that was installed before ours.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define SCHED_OS_PAGE 4096u
#define SCHED_GUARD SCHED_OS_PAGE
#define SCHED_STACK_CACHE 64u      /* per-worker free slots */
#define SCHED_STACK_KEEP 1024u     /* committed free slots kept globally */
#define SCHED_ALTSTACK_SIZE (64u * 1024u)

struct sched_stack_cache {
	uint32_t n;                            /* entries in g[] */
	struct sched_g *g[SCHED_STACK_CACHE];  /* free slots, committed */
};

static struct {
	char *region;                 /* the reservation */
	size_t region_size;           /* bytes */
	size_t slot_size;             /* guard + stack + g, multiple of OS pages */
	size_t nslots;                /* cfg.max_goroutines */
	_Atomic size_t next_slot;     /* bump pointer: slots never used */
	int lock;                     /* spinlock over free and nfree */
	struct sched_g *free;         /* global free list, linked by ->next */
	size_t nfree;                 /* its length */
	bool guard_madvise;           /* MADV_GUARD_INSTALL works */
	_Atomic long guard_budget;    /* mprotect guards left (fallback only) */
	_Atomic int warned_unguarded; /* the fallback ran out */
	struct sigaction old_segv;    /* chained handlers */
	struct sigaction old_bus;
} st;

static size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

/* The struct sched_g occupies the top of the slot, cache-line aligned. */
static size_t g_offset(void)
{
	return st.slot_size - round_up(sizeof(struct sched_g), 64);
}

struct sched_g *sched_stack_g(size_t index)
{
	return (struct sched_g *)(st.region + index * st.slot_size + g_offset());
}

size_t sched_stack_high_water(void)
{
	size_t n = atomic_load_explicit(&st.next_slot, memory_order_acquire);
	return n < st.nslots ? n : st.nslots;
}

void *sched_stack_top(const struct sched_g *g)
{
	return (void *)((uintptr_t)g & ~(uintptr_t)15);
}

void *sched_stack_bottom(const struct sched_g *g)
{
	return st.region + (size_t)g->stack_index * st.slot_size + SCHED_GUARD;
}

size_t sched_stack_usable(void)
{
	return g_offset() - SCHED_GUARD;
}

static long map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static long max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long n = 65530;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = 65530;
		fclose(f);
	}
	return n;
}

int sched_stacks_init(const struct sched_config *cfg)
{
	memset(&st, 0, sizeof st);
	st.nslots = cfg->max_goroutines;
	st.slot_size = SCHED_GUARD + round_up(cfg->stack_size, SCHED_OS_PAGE) +
		       round_up(sizeof(struct sched_g), SCHED_OS_PAGE);
	st.region_size = st.nslots * st.slot_size;
	st.region = mmap(NULL, st.region_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (st.region == MAP_FAILED) {
		int e = errno;
		fprintf(stderr,
			"sched: cannot reserve %zu MiB for %zu goroutine stacks of %zu KiB: %s "
			"(lower TOC_MAX_GOROUTINES or TOC_STACK_SIZE)\n",
			st.region_size >> 20, st.nslots, cfg->stack_size >> 10, strerror(e));
		st.region = NULL;
		errno = e;
		return -1;
	}
	/* Huge pages would turn each first touch of a stack into 2 MiB of RSS. */
	madvise(st.region, st.region_size, MADV_NOHUGEPAGE);
	/* Probe MADV_GUARD_INSTALL on slot 0's guard. */
	st.guard_madvise = madvise(st.region, SCHED_GUARD, MADV_GUARD_INSTALL) == 0;
	if (!st.guard_madvise) {
		long budget = (max_map_count() - map_count() - 4096) / 2;
		atomic_store(&st.guard_budget, budget > 0 ? budget : 0);
	}
	return 0;
}

void sched_stacks_fini(void)
{
	/* Sanitizer build: goroutines still parked at shutdown leave their live
	 * frames poisoned in the shadow memory, which munmap does not clear; the
	 * next runtime's reservation may land on the same addresses. */
	if (SCHED_ASAN && st.region) {
		size_t n = sched_stack_high_water();
		for (size_t i = 0; i < n; i++) {
			struct sched_g *g = sched_stack_g(i);
			if (atomic_load(&g->status) != SCHED_G_FREE && g->sp)
				sched_san_unpoison(g->sp, (size_t)((char *)sched_stack_top(g) -
								   (char *)g->sp));
		}
	}
	/* The slots' valgrind registrations end with the reservation. */
	if (RUNNING_ON_VALGRIND && st.region) {
		size_t n = sched_stack_high_water();
		for (size_t i = 0; i < n; i++)
			VALGRIND_STACK_DEREGISTER(sched_stack_g(i)->valgrind_stack_id);
	}
	if (st.region)
		munmap(st.region, st.region_size);
	st.region = NULL;
}

static void guard_install(char *base)
{
	if (st.guard_madvise) {
		if (madvise(base, SCHED_GUARD, MADV_GUARD_INSTALL) == 0)
			return;
	} else if (atomic_fetch_sub(&st.guard_budget, 1) > 0) {
		if (mprotect(base, SCHED_GUARD, PROT_NONE) == 0)
			return;
	}
	if (!atomic_exchange(&st.warned_unguarded, 1))
		fprintf(stderr,
			"sched: warning: no guard page could be installed for some goroutine stacks "
			"(kernel without MADV_GUARD_INSTALL and vm.max_map_count=%ld exhausted); "
			"their overflows go undetected\n",
			max_map_count());
}

/* A slot never used before: guard it and register it with valgrind. */
static struct sched_g *slot_new(void)
{
	size_t i = atomic_fetch_add_explicit(&st.next_slot, 1, memory_order_acq_rel);
	if (i >= st.nslots) {
		errno = EAGAIN;
		return NULL;
	}
	char *base = st.region + i * st.slot_size;
	if (i != 0)
		guard_install(base);
	struct sched_g *g = sched_stack_g(i);
	g->stack_index = (uint32_t)i;
	if (RUNNING_ON_VALGRIND)
		g->valgrind_stack_id =
			(int)VALGRIND_STACK_REGISTER(base + SCHED_GUARD, (char *)g);
	return g;
}

static struct sched_g *global_pop(struct sched_stack_cache *c)
{
	struct sched_g *g = NULL;
	if (!__atomic_load_n(&st.free, __ATOMIC_RELAXED))
		return NULL;
	sched_spin_lock(&st.lock);
	if (st.free) {
		g = st.free;
		st.free = g->next;
		st.nfree--;
		/* Refill the cache with up to half its capacity. */
		while (c && c->n < SCHED_STACK_CACHE / 2 && st.free) {
			c->g[c->n++] = st.free;
			st.free = st.free->next;
			st.nfree--;
		}
	}
	sched_spin_unlock(&st.lock);
	return g;
}

bool sched_stack_has_free(struct sched_worker *w)
{
	return (w && w->stacks->n) || __atomic_load_n(&st.free, __ATOMIC_RELAXED);
}

struct sched_g *sched_stack_alloc(struct sched_worker *w)
{
	struct sched_stack_cache *c = w ? w->stacks : NULL;
	struct sched_g *g;
	if (c && c->n)
		g = c->g[--c->n];
	else if (!(g = global_pop(c)) && !(g = slot_new()))
		return NULL;
	return g;
}

/* The stack pages of a free slot, below its top OS page. */
static void slot_release(struct sched_g *g)
{
	char *lo = sched_stack_bottom(g);
	char *hi = (char *)((uintptr_t)g & ~(uintptr_t)(SCHED_OS_PAGE - 1));
	if (hi > lo)
		madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
}

void sched_stack_free(struct sched_worker *w, struct sched_g *g)
{
	struct sched_stack_cache *c = w ? w->stacks : NULL;
	if (c && c->n < SCHED_STACK_CACHE) {
		c->g[c->n++] = g;
		return;
	}
	/* Spill the cache's older half together with g. */
	struct sched_g *list = g, *last = g;
	size_t n = 1;
	g->next = NULL;
	while (c && c->n > SCHED_STACK_CACHE / 2) {
		struct sched_g *x = c->g[--c->n];
		x->next = list;
		list = x;
		n++;
	}
	/* Past the committed reserve, give the stack pages back while the slots
	 * are still ours (the length is read racily: a heuristic). */
	if (__atomic_load_n(&st.nfree, __ATOMIC_RELAXED) + n > SCHED_STACK_KEEP)
		for (struct sched_g *x = list; x; x = x->next)
			slot_release(x);
	while (last->next)
		last = last->next;
	sched_spin_lock(&st.lock);
	last->next = st.free;
	st.free = list;
	st.nfree += n;
	sched_spin_unlock(&st.lock);
}

void sched_stacks_worker_init(struct sched_worker *w)
{
	w->stacks = calloc(1, sizeof *w->stacks);
	if (!w->stacks)
		sched_fatal("out of memory for worker %d's stack cache", w->id);
}

void sched_stacks_worker_fini(struct sched_worker *w)
{
	free(w->stacks);
	w->stacks = NULL;
	free(w->altstack);
	w->altstack = NULL;
}

/* --- overflow reports ------------------------------------------------------- */

static void write_str(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void overflow_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t a = (uintptr_t)si->si_addr, lo = (uintptr_t)st.region;
	if (st.region && a >= lo && a < lo + st.region_size) {
		size_t i = (a - lo) / st.slot_size;
		if ((a - lo) % st.slot_size < SCHED_GUARD) {
			char buf[64], num[24];
			int n = 0;
			uint64_t id = sched_stack_g(i)->id;
			do
				num[n++] = (char)('0' + id % 10);
			while ((id /= 10) != 0);
			char *p = buf;
			memcpy(p, "goroutine ", 10);
			p += 10;
			while (n)
				*p++ = num[--n];
			memcpy(p, ": stack overflow\n", 18);
			write_str(buf);
			signal(SIGABRT, SIG_DFL);
			abort();
		}
	}
	/* Not ours: hand it to whoever was installed before. */
	struct sigaction *old = sig == SIGBUS ? &st.old_bus : &st.old_segv;
	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, si, uctx);
		return;
	}
	if (old->sa_handler == SIG_IGN || old->sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		return; /* the faulting instruction runs again and kills us */
	}
	old->sa_handler(sig);
}

int sched_overflow_handler_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = overflow_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &st.old_segv) || sigaction(SIGBUS, &sa, &st.old_bus))
		return -1;
	return 0;
}

/* Gives the worker thread an alternate signal stack for the overflow report,
 * unless it has one already (the sanitizer runtime installs its own). */
void sched_overflow_altstack(struct sched_worker *w)
{
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
	    cur.ss_size >= SCHED_ALTSTACK_SIZE / 4)
		return;
	w->altstack = malloc(SCHED_ALTSTACK_SIZE);
	if (!w->altstack)
		return;
	stack_t ss = {.ss_sp = w->altstack, .ss_size = SCHED_ALTSTACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL)) {
		free(w->altstack);
		w->altstack = NULL;
	}
}

/* On the worker thread before it exits: nobody else may free our stack. */
void sched_overflow_altstack_remove(struct sched_worker *w)
{
	if (!w->altstack)
		return;
	stack_t ss = {.ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
}

/* --- sanitizer fiber annotations ------------------------------------------- */

#if SCHED_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
void sched_san_start_switch(void **fake_save, const void *bottom, size_t size)
{
	__sanitizer_start_switch_fiber(fake_save, bottom, size);
}
void sched_san_start_switch_g(void **fake_save, const struct sched_g *to)
{
	__sanitizer_start_switch_fiber(fake_save, sched_stack_bottom(to), sched_stack_usable());
}
void sched_san_finish_switch(void *fake_save)
{
	__sanitizer_finish_switch_fiber(fake_save, NULL, NULL);
}
void sched_san_unpoison(const void *lo, size_t size)
{
	__asan_unpoison_memory_region(lo, size);
}
#endif

void sched_spill_call(void (*fn)(void *sp, void *arg), void *arg)
{
	sched_ctx_spill(fn, arg);
}
