/*
 * txbench.h — what the parts of txbench share.
 *
 * txbench runs one HTTP-like request handler (txbench_handler.c) over one
 * of five heaps, chosen by --mode:
 *
 *   toc, cms, stw   toc's runtime: goroutines, toc/gc.h; toc is cms plus
 *                   the transaction layer                    txbench_gc.c
 *   boehm           bdwgc 8.2 on pthreads                     txbench_boehm.c
 *   arena           a bump arena per request, reset at its end; what a
 *                   request publishes is copied to malloc'd memory
 *                                                             txbench_arena.c
 *
 * The handler is compiled once and reaches its heap through the struct
 * txb_heap each backend fills (txbench_heap.h), so every mode runs the same
 * object code. Like gcbench.h, this header includes neither toc's headers
 * nor bdwgc's.
 */
#ifndef TXBENCH_H
#define TXBENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benchutil.h"

struct gc_config;
struct sched_config;

enum txb_mode { TXB_TOC, TXB_CMS, TXB_STW, TXB_BOEHM, TXB_ARENA, TXB_NMODES };
enum txb_driver { TXB_LOOP, TXB_SPAWN, TXB_NDRIVERS };
/* --downstream: what a request waits on mid-way (txbench_downstream.c). */
enum txb_downstream { TXB_DS_NONE, TXB_DS_CHAN, TXB_DS_SOCKET, TXB_NDOWNSTREAMS };

extern const char *const txb_mode_names[TXB_NMODES];
extern const char *const txb_driver_names[TXB_NDRIVERS];
extern const char *const txb_downstream_names[TXB_NDOWNSTREAMS];

struct txb_options {
	enum txb_mode mode;
	enum txb_driver driver;
	int procs;                  /* worker threads (goroutine modes: scheduler workers) */
	int workers;                /* loop driver: long-lived request loops */
	int inflight;               /* spawn driver: request goroutines at once */
	int64_t live_mb;            /* the shared store's size */
	int items;                  /* mean items per request body */
	int publish_pct;            /* requests that replace a store record */
	int64_t churn_kb;           /* KiB each request publishes into the churn ring (0: no ring) */
	int64_t churn_mb;           /* the churn ring's capacity, MiB */
	int publish_bytes_pct;      /* share of its allocation a request publishes into the churn
	                               ring, % (0: none; not with churn_kb) */
	double duration;            /* seconds of timed requests (when requests == 0) */
	int64_t requests;           /* a fixed number of requests instead (0: --duration) */
	double warmup;              /* most seconds of warm-up before the timed part (0: see below) */
	int64_t warmup_cycles;      /* warm up until the run completed this many cycles (0: none) */
	bool series;                /* a sample a second in the JSON */
	uint64_t seed;              /* the request stream */
	int gogc;                   /* percent, or TXB_GOGC_OFF */
	uint64_t memlimit;          /* bytes, 0 none */
	bool json;
	int64_t dump;               /* --dump-requests: write this many requests and exit */
	enum txb_downstream downstream; /* the backend each request waits on mid-way */
	int64_t downstream_us;      /* the backend's answer comes this many µs after the query */
	uint64_t nkeys;             /* store records, from live_mb */
	const struct gc_config *gc_cfg;   /* toc's knobs (goroutine modes) */
};

#define TXB_GOGC_OFF (-1)
#define TXB_REQ_MAX (96 * 1024)    /* largest generated request, bytes */
#define TXB_MAX_ITEMS 256
#define TXB_RECORD_BYTES 640       /* a store record's heap, about (sizes --live-mb) */

/* --- the request stream ----------------------------------------------------------- */

/* A record's contents, a function of its key alone: the store is built from
 * it and a put request carries it, so every response is the same whatever
 * order the requests ran in, and checksums compare across modes. */
struct txb_recgen {
	char name[40];
	char email[48];
	int ntags;
	char tags[6][24];
	int profile_len;
	char profile[512];
};
void txb_record_gen(uint64_t key, struct txb_recgen *r);

/* Writes request idx of the stream into buf (at least TXB_REQ_MAX bytes);
 * returns its length. */
size_t txb_request(const struct txb_options *o, uint64_t idx, char *buf);

/* FNV-1a, continued from h (start with TXB_FNV_INIT). */
#define TXB_FNV_INIT 0xcbf29ce484222325ull
uint64_t txb_fnv(uint64_t h, const void *p, size_t n);

/* --- latency histogram (log-linear: 16 buckets per power of two) -------------------- */

#define TXB_HIST_BUCKETS 1024
struct txb_hist {
	uint64_t n[TXB_HIST_BUCKETS];
};
void txb_hist_add(struct txb_hist *h, uint64_t ns);
void txb_hist_merge(struct txb_hist *into, const struct txb_hist *h);
/* The q-quantile in µs (bucket midpoint); 0 when empty. */
double txb_hist_quantile_us(const struct txb_hist *h, double q);

/* --- one worker's share of the run ------------------------------------------------------ */

/* The request counter and the clock every driver shares: one for the
 * timed part, one for the warm-up before it (txbench_phases.c). */
struct txb_run {
	_Atomic uint64_t next;      /* takes so far: the next request */
	_Atomic uint64_t refused;   /* takes that found the run over */
	_Atomic int stop;           /* the run is over */
	uint64_t first;             /* the stream index of the run's request 0 */
	uint64_t limit;             /* requests to run (UINT64_MAX: until the deadline) */
	int64_t deadline_ns;        /* bench_now_ns() at which to stop (INT64_MAX: none) */
	uint64_t (*cycles)(void);   /* the warm-up's: the collector's cycles so far, read with
	                               the clock (NULL: no such end) */
	uint64_t cycles_until;      /* stop once cycles() reaches this */
	const char *what;           /* the progress line's name for the requests */
	int64_t start_ns;
	_Atomic int64_t last_progress_ns;
};
/* The timed part's run starts (and the sampler's timed samples with it). */
void txb_run_start(struct txb_run *r, const struct txb_options *o);
/* Takes the next request's stream index, or returns false when the run is
 * over. Prints a progress line about once a second. */
bool txb_run_take(struct txb_run *r, uint64_t *idx);
/* Requests taken from r so far, up to its limit. */
uint64_t txb_run_taken(const struct txb_run *r);

struct txb_worker {
	uint64_t transactions;
	uint64_t checksum;          /* sum of the responses' FNV-1a hashes */
	struct txb_hist hist;
};

/* One request done: its response hash, started at t0 (bench_now_ns), ended now. */
void txb_worker_count(struct txb_worker *w, uint64_t hash, int64_t t0);
/* A request loop: takes requests from run until it is over, generates each
 * into a buffer of its own, times serve(request, len, ctx), which returns
 * the response's hash, and counts it in w. */
void txb_serve_loop(const struct txb_options *o, struct txb_run *run, struct txb_worker *w,
		    uint64_t (*serve)(const char *req, size_t len, void *ctx), void *ctx);

/* --- warm-up and time series (txbench_phases.c) -------------------------------------------------- */

/* The counters a backend keeps, read by the sampler once a second and by the
 * warm-up; cumulative but heap_mb. Read from a thread of txbench's own, with
 * atomic loads (or a short lock): nothing stops the world. */
struct txb_counters {
	uint64_t cycles;            /* collector cycles completed, forced ones excluded */
	double heap_mb;             /* heap in use now, MiB (NAN: unknown) */
	double mark_seconds;        /* wall time with marking on (NAN: unknown) */
	bool has_toc;               /* the two below are set */
	uint64_t toc_windows;       /* windows closed */
	uint64_t toc_reclaimed_bytes; /* window bytes reclaimed by rewind */
};

/* What a backend lends the warm-up and the sampler. */
struct txb_backend {
	void (*read)(struct txb_counters *c);
	/* read's cycles alone, cheaper: the warm-up reads them every 64 requests. */
	uint64_t (*cycles)(void);
	/* Runs the mode's driver over run until run is over. */
	void (*drive)(struct txb_run *run);
};

/* One second of the run (the last of a phase is shorter). */
struct txb_sample {
	double t;                   /* seconds from the run's first request to the sample's end */
	double seconds;             /* the sample's length */
	bool timed;                 /* in the timed part; else in the warm-up */
	double txn_per_sec;
	double heap_mb, rss_mb;
	double marking_fraction;    /* share of the sample with marking on */
	uint64_t cycles;            /* cycles completed in it */
	bool has_toc;               /* the two below are set */
	uint64_t toc_windows;       /* windows closed in it */
	double toc_reclaimed_mb;    /* window bytes reclaimed in it */
};

struct txb_result;
/* Before the timed part: runs the warm-up o asks for through b's driver
 * (none: returns at once) and, with --series, starts the sampler; the
 * timed part's txb_run_start tells it when the timed part begins. The
 * backend resets its workers' counts after it. */
void txb_warmup(const struct txb_options *o, const struct txb_backend *b);
/* The timed part begins with run r (txb_run_start calls it). */
void txb_phases_timed(const struct txb_run *r);
/* After the timed part: stops the sampler; the warm-up's figures and the
 * samples into r. */
void txb_phases_end(struct txb_result *r);

/* --- results ------------------------------------------------------------------------------ */

struct txb_result {
	const char *driver_note;    /* how the mode ran its driver, for the output */
	double seconds;
	uint64_t transactions;
	uint64_t checksum;
	int procs;
	uint64_t gc_cycles;
	double gc_cpu_seconds;
	double gc_cpu_fraction;     /* gc_cpu_seconds / (seconds * procs) */
	double stw_max_us, stw_p99_us;
	double peak_rss_mb;
	double allocated_mb;        /* NAN where the mode cannot tell */
	double txn_p50_us, txn_p99_us;
	double busiest_worker_share;  /* spawn driver: the busiest scheduler worker's share of the requests; else NAN */
	struct bench_cpu_figures cpu; /* the process's and the collector's CPU split (benchutil.h) */
	bool has_pacer;               /* toc's collector ran: the pacer figures below are set */
	uint64_t pacer_cycles;        /* cycles the trigger started in the timed part */
	double pacer_end_over_goal_max; /* their largest heap at mark end / goal (NAN: none) */
	double pacer_within_fraction; /* the share that ended within 1.10x the goal (NAN: none) */
	bool has_toc;
	double toc_reclaimed_fraction, published_fraction, forfeit_fraction;
	double marking_bytes_fraction; /* toc_marking_bytes / allocated bytes */
	char toc_stats[4096];       /* toc's statistics as JSON members, or "" */
	const char *warmup_ended;   /* "off", "cycles", "seconds" (NULL: no such phase, a server) */
	double warmup_seconds;
	uint64_t warmup_cycles;     /* cycles completed in the warm-up */
	uint64_t warmup_transactions;
	struct txb_sample *series;  /* --series: nseries samples, malloc'd */
	size_t nseries;
	const char *extra_json;     /* more members for the JSON object (the servers'), or NULL */
	double owned_max_mb;        /* toc: the layer's largest owned window bytes, MiB (NAN elsewhere) */
};

/* Sums the workers into r (transactions, checksum, latency percentiles). */
void txb_collect_workers(struct txb_result *r, const struct txb_worker *w, int n);

/* The flags (fatal with a message on a bad one; --help exits 0). */
void txb_parse(int argc, char **argv, struct txb_options *o);
/* The runtime's knobs from the environment (TOC_*, GOGC, GOMEMLIMIT; fatal,
 * naming the variable, on a bad one) into *gc and *sched, and the goroutine
 * mode they select (toc, stw or cms): the default --mode of the programs
 * that run txbench's handler on the runtime. */
enum txb_mode txb_config_from_env(struct gc_config *gc, struct sched_config *sched);
/* One JSON object on stdout (the keys --help lists), or a table. */
void txb_print_json(const struct txb_options *o, const struct txb_result *r);
void txb_print_table(const struct txb_options *o, const struct txb_result *r);

/* --- the downstream call (txbench_downstream.c) ---------------------------------------------------- */

/* The handler's wait on a backend, mid-request (NULL: --downstream=none):
 * sends a hash of key (n bytes) and parks until the answer, which must
 * echo it. Set by txb_downstream_start, on a goroutine of the runtime. */
extern void (*txb_downstream_call)(const char *key, size_t n);
/* Starts o's backend (goroutines, and for socket its connection pool);
 * call from a goroutine. Does nothing with --downstream=none. */
void txb_downstream_start(const struct txb_options *o);
/* Stops it once no request waits on it any more. */
void txb_downstream_stop(void);
/* The --downstream figures as JSON members (no leading comma) into buf. */
void txb_downstream_json(char *buf, size_t n, const struct txb_options *o, const struct txb_result *r);

/* --- the backends ------------------------------------------------------------------------ */

int txb_gc_run(const struct txb_options *o, struct txb_result *r);
int txb_boehm_run(const struct txb_options *o, struct txb_result *r);
int txb_arena_run(const struct txb_options *o, struct txb_result *r);

#endif /* TXBENCH_H */
