/*
 * txbench_phases.c — the warm-up before txbench's timed part, and the time
 * series of the whole run.
 *
 * A run has up to two phases:
 *
 *   warm-up   --warmup=S, --warmup-cycles=N: requests from a stream index
 *             of their own (TXB_WARMUP_FIRST on), until the collector has
 *             completed N cycles of its own or S seconds passed, whichever
 *             first (N alone: S = TXB_WARMUP_MAX; S alone: S seconds). A
 *             mode without a collector (arena) warms up for S seconds.
 *             Its requests change nothing a later response reads (a put
 *             writes the record its key always has), so the checksum of
 *             the timed part stays the one without warm-up.
 *   timed     what the figures cover: the backend reads its counters when
 *             it begins (txb_run_start) and when it ends, and the peak RSS
 *             restarts when it begins.
 *
 * The sampler (--series) is one thread of txbench's own. It sleeps a
 * second at a time on a condition variable and, at each wake-up, reads the
 * requests the phase's run handed out (an atomic load), the backend's
 * counters (struct txb_counters: atomic loads, toc's per-worker counters
 * summed, bdwgc's statistics under its lock) and the process's RSS
 * (/proc/self/statm), and keeps the differences as one sample. It stops
 * nothing and allocates only its own sample array, so the run is not
 * perturbed beyond a few microseconds of one core a second. A phase change
 * is read by the run's thread at the moment it happens and wakes the
 * sampler: a phase's last sample is shorter than a second, and the timed
 * samples cover exactly the timed part, so their requests sum to its
 * transactions (requests handed out, which lead those completed by the
 * requests in flight).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "txbench.h"

/* The warm-up's requests: far from the timed part's 0, 1, 2, ... */
#define TXB_WARMUP_FIRST ((uint64_t)1 << 62)
/* Most seconds of a warm-up given only --warmup-cycles. */
#define TXB_WARMUP_MAX 60.0

enum phase { PH_NONE, PH_WARMUP, PH_TIMED, PH_DONE };

/* What a sample is the difference of: the counters at a moment, and the
 * requests the phase's run had handed out. */
struct reading {
	int64_t ns;                   /* bench_now_ns() */
	struct txb_counters c;
	uint64_t taken;
};

/* The run's phases and the sampler. One run per process. A phase change is
 * an edge: the run's thread reads the counters at that moment (the old
 * phase's end and the new one's start, apart in their runs' requests only)
 * and hands them to the sampler, so no request or cycle falls on the wrong
 * side however late the sampler wakes; it waits for the sampler to take
 * one edge before it posts the next. The samples are the sampler's until it
 * is joined. */
static struct {
	const struct txb_backend *b;
	bool series;                  /* --series: the sampler runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* broadcast at an edge posted, and at an edge taken */
	enum phase phase;             /* under mu, written by the run's thread */
	const struct txb_run *run;    /* the phase's run; under mu, written by the run's thread */
	bool edge_pending;            /* under mu: an edge the sampler has not taken */
	struct reading edge_end;      /* under mu: the last edge, the old phase's end */
	struct reading edge_start;    /* under mu: and the new phase's start */
	int64_t t0_ns;                /* the first phase's start */
	enum phase first_phase;       /* the first phase, its run and its start, for the sampler to begin with */
	const struct txb_run *first_run;
	struct reading first_from;
	struct txb_sample *samples;   /* the sampler's */
	size_t n, cap;
	struct txb_run warm;          /* the warm-up's run */
	const char *ended;            /* how the warm-up ended */
	double warm_seconds;
	uint64_t warm_cycles;
} ph = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	int n = f ? fscanf(f, "%llu %llu", &size, &resident) : 0;
	if (f)
		fclose(f);
	return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : NAN;
}

static void read_now(struct reading *x, const struct txb_run *run)
{
	ph.b->read(&x->c);
	x->taken = run ? txb_run_taken(run) : 0;
	x->ns = bench_now_ns();
}

/* The sample from a to b, in the timed part or the warm-up. */
static void add_sample(const struct reading *a, const struct reading *b, bool timed)
{
	if (ph.n == ph.cap) {
		ph.cap = ph.cap ? 2 * ph.cap : 256;
		ph.samples = realloc(ph.samples, ph.cap * sizeof *ph.samples);
		if (!ph.samples)
			bench_fatal(1, "out of memory for the time series");
	}
	double secs = (double)(b->ns - a->ns) / 1e9;
	/* A running mark's time is read as it runs, so two readings a few
	 * instructions apart may step back by a pause's length: the
	 * difference is taken as 0 then, and the next sample has it. */
	double mark = b->c.mark_seconds > a->c.mark_seconds ? b->c.mark_seconds - a->c.mark_seconds : 0;
	ph.samples[ph.n++] = (struct txb_sample){
		.t = (double)(b->ns - ph.t0_ns) / 1e9,
		.seconds = secs,
		.timed = timed,
		.txn_per_sec = secs > 0 ? (double)(b->taken - a->taken) / secs : NAN,
		.heap_mb = b->c.heap_mb,
		.rss_mb = rss_mb(),
		.marking_fraction = secs > 0 && !isnan(b->c.mark_seconds) ? mark / secs : NAN,
		.cycles = b->c.cycles - a->c.cycles,
		.has_toc = b->c.has_toc,
		.toc_windows = b->c.toc_windows - a->c.toc_windows,
		.toc_reclaimed_mb = (double)(b->c.toc_reclaimed_bytes - a->c.toc_reclaimed_bytes) / 1048576.0,
	};
}

static void *sampler_main(void *unused)
{
	(void)unused;
	/* The first phase as it was when the thread was made: by the time
	 * it runs, the warm-up may be over (its edge is then pending). */
	pthread_mutex_lock(&ph.mu);
	enum phase phase = ph.first_phase;
	const struct txb_run *run = ph.first_run;
	struct reading from = ph.first_from;
	pthread_mutex_unlock(&ph.mu);
	while (phase != PH_DONE) {
		struct timespec wake;   /* the condition variable's clock; the samples' is bench_now_ns */
		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_sec += 1;
		struct reading to, next_from;
		pthread_mutex_lock(&ph.mu);
		int rc = 0;
		while (!ph.edge_pending && rc == 0)
			rc = pthread_cond_timedwait(&ph.cv, &ph.mu, &wake);
		bool edge = ph.edge_pending;
		enum phase next = ph.phase;
		const struct txb_run *next_run = ph.run;
		if (edge) {
			to = ph.edge_end;
			next_from = ph.edge_start;
			ph.edge_pending = false;
			pthread_cond_broadcast(&ph.cv);
		}
		pthread_mutex_unlock(&ph.mu);
		if (!edge) {
			read_now(&to, run);
			next_from = to;
		}
		add_sample(&from, &to, phase == PH_TIMED);
		from = next_from;
		phase = next;
		run = next_run;
	}
	return NULL;
}

/* The run enters phase p with run r (NULL: none): the edge to the sampler,
 * which starts with the first phase. */
static void enter_phase(enum phase p, const struct txb_run *r)
{
	if (!ph.series)
		return;
	struct reading end, start;
	read_now(&end, ph.run);
	start = end;
	start.taken = r ? txb_run_taken(r) : 0;
	pthread_mutex_lock(&ph.mu);
	while (ph.edge_pending)
		pthread_cond_wait(&ph.cv, &ph.mu);
	enum phase was = ph.phase;
	ph.phase = p;
	ph.run = r;
	ph.edge_end = end;
	ph.edge_start = start;
	ph.edge_pending = was != PH_NONE;
	pthread_cond_broadcast(&ph.cv);
	pthread_mutex_unlock(&ph.mu);
	if (was != PH_NONE)
		return;
	ph.t0_ns = start.ns;
	ph.first_phase = p;
	ph.first_run = r;
	ph.first_from = start;
	int err = pthread_create(&ph.thread, NULL, sampler_main, NULL);
	if (err)
		bench_fatal(1, "could not start the sampler thread: %s", strerror(err));
}

void txb_warmup(const struct txb_options *o, const struct txb_backend *b)
{
	ph.b = b;
	ph.series = o->series;
	ph.ended = "off";
	if (o->warmup <= 0 && o->warmup_cycles <= 0)
		return;
	double max = o->warmup > 0 ? o->warmup : TXB_WARMUP_MAX;
	struct txb_run *w = &ph.warm;
	uint64_t c0 = b->cycles();
	w->start_ns = bench_now_ns();
	w->first = TXB_WARMUP_FIRST;
	w->limit = UINT64_MAX;
	w->deadline_ns = w->start_ns + (int64_t)(max * 1e9);
	w->cycles = o->warmup_cycles > 0 ? b->cycles : NULL;
	w->cycles_until = c0 + (uint64_t)o->warmup_cycles;
	w->what = "warm-up requests";
	atomic_store(&w->last_progress_ns, w->start_ns);
	bench_progress("warming up: until %lld cycles or %.0f s", (long long)o->warmup_cycles, max);
	enter_phase(PH_WARMUP, w);
	b->drive(w);
	ph.warm_seconds = (double)(bench_now_ns() - w->start_ns) / 1e9;
	ph.warm_cycles = b->cycles() - c0;
	ph.ended = w->cycles && ph.warm_cycles >= (uint64_t)o->warmup_cycles ? "cycles" : "seconds";
	bench_progress("warmed up: %llu cycles in %.1f s", (unsigned long long)ph.warm_cycles, ph.warm_seconds);
}

void txb_phases_timed(const struct txb_run *r)
{
	if (!bench_peak_rss_reset())
		bench_progress("cannot reset the peak RSS (/proc/self/clear_refs): peak_rss_mb covers the "
			       "whole process");
	enter_phase(PH_TIMED, r);
}

void txb_phases_end(struct txb_result *r)
{
	if (ph.series) {
		enter_phase(PH_DONE, NULL);
		pthread_join(ph.thread, NULL);
		r->series = ph.samples;
		r->nseries = ph.n;
	}
	r->warmup_ended = ph.ended;
	r->warmup_seconds = ph.warm_seconds;
	r->warmup_cycles = ph.warm_cycles;
	r->warmup_transactions = txb_run_taken(&ph.warm);
}
