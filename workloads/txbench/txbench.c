/*
 * txbench — an HTTP-like transaction workload over every heap, one binary.
 *
 * Each request (generated deterministically from --seed and its index) is
 * an HTTP/1.1 POST or PUT with headers, a query string and a JSON body of
 * --items items on average; the handler (txbench_handler.c) parses it,
 * reads its record from a shared store of about --live-mb MiB and, for
 * --publish-pct of the requests, replaces that record with one built from
 * the body; with --churn-kb it publishes that many KiB into a bounded ring
 * of --churn-mb MiB that evicts its oldest entry, so garbage reaches the
 * collector at a set rate (every mode, toc included, must collect); then
 * it builds and "writes" a JSON response. The modes run the
 * same handler over their heaps (txbench.h). Drivers: --driver=loop,
 * long-lived workers that each run one request after another (an explicit
 * transaction per request in toc mode), and --driver=spawn, a goroutine per
 * request with --inflight at once.
 *
 * The sum of the responses' hashes is printed as checksum: with --requests
 * (a fixed count instead of --duration) it is the same in every mode and
 * driver for the same seed, because a record's contents are a function of
 * its key and every request is run exactly once.
 *
 * This file: flags, the request stream, the latency histogram, the output.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toc/gc.h"
#include "toc/knob.h"
#include "toc/sched.h"
#include "toc/toc.h"
#include "txbench.h"

const char *const txb_mode_names[TXB_NMODES] = {
	[TXB_TOC] = "toc", [TXB_CMS] = "cms", [TXB_STW] = "stw", [TXB_BOEHM] = "boehm", [TXB_ARENA] = "arena",
};
const char *const txb_driver_names[TXB_NDRIVERS] = {[TXB_LOOP] = "loop", [TXB_SPAWN] = "spawn"};

/* --- the request stream ----------------------------------------------------------------------- */

/* splitmix64: the stream's only generator (the Go version has the same). */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t txb_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void txb_record_gen(uint64_t key, struct txb_recgen *r)
{
	uint64_t s = key * 0x9e3779b97f4a7c15ull ^ 0x5851f42d4c957f2dull;
	snprintf(r->name, sizeof r->name, "name-%llu-%llu", (unsigned long long)key,
		 (unsigned long long)(next(&s) % 10000));
	snprintf(r->email, sizeof r->email, "user%llu@example.com", (unsigned long long)key);
	r->ntags = 2 + (int)(next(&s) % 5);
	for (int i = 0; i < r->ntags; i++)
		snprintf(r->tags[i], sizeof r->tags[i], "tag-%llu", (unsigned long long)(next(&s) % 1000));
	r->profile_len = 64 + (int)(next(&s) % 448);
	uint64_t h = 0;
	for (int i = 0; i < r->profile_len; i++) {
		if (i % 16 == 0)
			h = next(&s);
		r->profile[i] = "0123456789abcdef"[(h >> (4 * (i % 16))) & 15];
	}
	r->profile[r->profile_len] = 0;
}

struct out {
	char *p;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		bench_fatal(1, "internal error: a generated request is over %zu bytes", o->cap);
	o->len += (size_t)n;
}

size_t txb_request(const struct txb_options *o, uint64_t idx, char *buf)
{
	/* The order of the draws is part of the stream's definition. */
	uint64_t s = o->seed ^ (idx * 0xd1342543de82ef95ull);
	unsigned long long key = next(&s) % o->nkeys;
	bool is_put = next(&s) % 100 < (uint64_t)o->publish_pct;
	int nitems = 1 + (int)(next(&s) % (uint64_t)(2 * o->items - 1));
	int ntags = 1 + (int)(next(&s) % 4);
	int nextra = (int)(next(&s) % 8);
	unsigned long long user = next(&s) % 100000, limit = 1 + next(&s) % 100;
	unsigned long long rid = next(&s), session = next(&s);

	char body[TXB_REQ_MAX / 2];
	struct out b = {body, 0, sizeof body};
	put(&b, "{\"user\":%llu,\"op\":\"%s\",\"key\":\"k%llu\",\"tags\":[", user, is_put ? "put" : "get", key);
	for (int i = 0; i < ntags; i++)
		put(&b, "%s\"t%llu\"", i ? "," : "", (unsigned long long)(next(&s) % 50));
	put(&b, "],\"items\":[");
	for (int i = 0; i < nitems; i++) {
		unsigned long long id = next(&s) % 1000000, qty = 1 + next(&s) % 10, price = 1 + next(&s) % 10000;
		put(&b, "%s{\"id\":%llu,\"name\":\"item-%llu\",\"qty\":%llu,\"price\":%llu}", i ? "," : "", id, id,
		    qty, price);
	}
	put(&b, "],\"note\":\"note-%016llx\"", (unsigned long long)next(&s));
	if (is_put) {
		struct txb_recgen g;
		txb_record_gen(key, &g);
		put(&b, ",\"record\":{\"name\":\"%s\",\"email\":\"%s\",\"tags\":[", g.name, g.email);
		for (int i = 0; i < g.ntags; i++)
			put(&b, "%s\"%s\"", i ? "," : "", g.tags[i]);
		put(&b, "],\"profile\":\"%s\"}", g.profile);
	}
	put(&b, "}");

	struct out r = {buf, 0, TXB_REQ_MAX};
	put(&r,
	    "%s /api/items/k%llu?user=%llu&limit=%llu&fields=name,tags HTTP/1.1\r\n"
	    "Host: txbench.local\r\nUser-Agent: txbench/1.0\r\nAccept: application/json\r\n"
	    "Content-Type: application/json\r\nX-Request-Id: %016llx\r\nCookie: session=%016llx; theme=dark\r\n",
	    is_put ? "PUT" : "POST", key, user, limit, rid, session);
	for (int i = 0; i < nextra; i++)
		put(&r, "X-Extra-%d: value-%d-%016llx\r\n", i, i, (unsigned long long)next(&s));
	put(&r, "Content-Length: %zu\r\n\r\n", b.len);
	if (r.len + b.len > TXB_REQ_MAX)
		bench_fatal(1, "internal error: a generated request is over %d bytes", TXB_REQ_MAX);
	memcpy(buf + r.len, body, b.len);
	return r.len + b.len;
}

/* --- latency histogram ------------------------------------------------------------------------ */

static int bucket(uint64_t ns)
{
	if (ns < 16)
		return (int)ns;
	int e = 63 - __builtin_clzll(ns);
	return (e - 3) * 16 + (int)((ns >> (e - 4)) & 15);
}

static double bucket_mid(int b)
{
	if (b < 16)
		return b;
	int e = b / 16 + 3;
	double lo = (double)(16 + b % 16) * ldexp(1.0, e - 4);
	return lo + ldexp(1.0, e - 4) / 2;
}

void txb_hist_add(struct txb_hist *h, uint64_t ns)
{
	h->n[bucket(ns)]++;
}

void txb_hist_merge(struct txb_hist *into, const struct txb_hist *h)
{
	for (int i = 0; i < TXB_HIST_BUCKETS; i++)
		into->n[i] += h->n[i];
}

double txb_hist_quantile_us(const struct txb_hist *h, double q)
{
	uint64_t total = 0;
	for (int i = 0; i < TXB_HIST_BUCKETS; i++)
		total += h->n[i];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)total), seen = 0;
	for (int i = 0; i < TXB_HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= rank && h->n[i])
			return bucket_mid(i) / 1e3;
	}
	return 0;
}

void txb_worker_count(struct txb_worker *w, uint64_t hash, int64_t t0)
{
	w->checksum += hash;
	w->transactions++;
	txb_hist_add(&w->hist, (uint64_t)(bench_now_ns() - t0));
}

void txb_serve_loop(const struct txb_options *o, struct txb_run *run, struct txb_worker *w,
		    uint64_t (*serve)(const char *req, size_t len, void *ctx), void *ctx)
{
	char *buf = malloc(TXB_REQ_MAX);
	if (!buf)
		bench_fatal(1, "out of memory for a request buffer");
	uint64_t idx;
	while (txb_run_take(run, &idx)) {
		size_t n = txb_request(o, idx, buf);
		int64_t t0 = bench_now_ns();
		txb_worker_count(w, serve(buf, n, ctx), t0);
	}
	free(buf);
}

void txb_collect_workers(struct txb_result *r, const struct txb_worker *w, int n)
{
	struct txb_hist *all = calloc(1, sizeof *all);
	if (!all)
		bench_fatal(1, "out of memory for the latency histogram");
	r->transactions = 0;
	r->checksum = 0;
	uint64_t most = 0;
	for (int i = 0; i < n; i++) {
		r->transactions += w[i].transactions;
		if (w[i].transactions > most)
			most = w[i].transactions;
		r->checksum += w[i].checksum;
		txb_hist_merge(all, &w[i].hist);
	}
	r->busiest_worker_share = r->transactions ? (double)most / (double)r->transactions : NAN;
	r->txn_p50_us = txb_hist_quantile_us(all, 0.50);
	r->txn_p99_us = txb_hist_quantile_us(all, 0.99);
	free(all);
}

/* --- the run's clock and counter -------------------------------------------------------------- */

void txb_run_start(struct txb_run *r, const struct txb_options *o)
{
	r->start_ns = bench_now_ns();
	atomic_store(&r->next, 0);
	atomic_store(&r->refused, 0);
	atomic_store(&r->stop, 0);
	atomic_store(&r->last_progress_ns, r->start_ns);
	r->first = 0;
	r->limit = o->requests ? (uint64_t)o->requests : UINT64_MAX;
	r->deadline_ns = o->requests ? INT64_MAX : r->start_ns + (int64_t)(o->duration * 1e9);
	r->cycles = NULL;
	r->what = "requests";
	txb_phases_timed(r);
}

bool txb_run_take(struct txb_run *r, uint64_t *idx)
{
	if (atomic_load_explicit(&r->stop, memory_order_relaxed))
		return false;
	uint64_t i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
	if (i >= r->limit)
		goto over;
	if ((i & 63) == 0) {
		int64_t now = bench_now_ns();
		if (now >= r->deadline_ns || (r->cycles && r->cycles() >= r->cycles_until)) {
			atomic_store(&r->stop, 1);
			goto over;
		}
		int64_t last = atomic_load_explicit(&r->last_progress_ns, memory_order_relaxed);
		if (now - last >= 1000000000 &&
		    atomic_compare_exchange_strong(&r->last_progress_ns, &last, now)) {
			double t = (double)(now - r->start_ns) / 1e9;
			bench_progress("%.1f s: %llu %s, %.0f/s", t, (unsigned long long)i, r->what, (double)i / t);
		}
	}
	*idx = r->first + i;
	return true;
over:   /* i was not handed out; release: after its increment of next (txb_run_taken) */
	atomic_fetch_add_explicit(&r->refused, 1, memory_order_release);
	return false;
}

uint64_t txb_run_taken(const struct txb_run *r)
{
	/* refused first, acquire: next is read with the increments of the
	 * refusals read, so the difference never wraps */
	uint64_t refused = atomic_load_explicit(&r->refused, memory_order_acquire);
	uint64_t n = atomic_load_explicit(&r->next, memory_order_relaxed) - refused;
	return n < r->limit ? n : r->limit;
}

/* --- flags ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: txbench [options]\n"
		"An HTTP-like transaction workload: parse a request (request line, query string,\n"
		"headers, JSON body), read and sometimes replace a record of a shared store, build a\n"
		"JSON response; the same handler over every heap. One run per process.\n\n"
		"  --mode=MODE        toc: toc's collector with the transaction layer; cms, stw: the\n"
		"                     collector alone (concurrent / stop-the-world mark-sweep);\n"
		"                     boehm: bdwgc on pthreads; arena: a bump arena per request,\n"
		"                     published records copied to malloc'd memory (default: TOC_MODE,\n"
		"                     else cms)\n"
		"  --driver=D         loop: long-lived workers, one request after another (toc: an\n"
		"                     explicit transaction each); spawn: a goroutine per request\n"
		"                     (toc, cms, stw only) (default loop)\n"
		"  --procs=N          worker threads (default: TOC_PROCS, else CPUs online)\n"
		"  --workers=N        loop driver: request loops (default: --procs)\n"
		"  --inflight=N       spawn driver: request goroutines at once (default 64)\n"
		"  --live-mb=M        the shared store, about M MiB of records (default 256)\n"
		"  --items=N          mean items per request body, 1..128 (default 16)\n"
		"  --publish-pct=P    requests that replace their record, 0..100 (default 5)\n"
		"  --churn-kb=N       KiB each request publishes into the churn ring, a cache\n"
		"                     that evicts its oldest entry: published garbage at a set\n"
		"                     rate, 0..4096 (default 0: no ring)\n"
		"  --churn-mb=M       the churn ring's capacity, MiB, 1..65536 (default 32): it\n"
		"                     holds M x 1024 / N entries, live on top of --live-mb\n"
		"  --publish-bytes-pct=P  share of what a request allocates that it publishes into\n"
		"                     the churn ring (an entry sized from the request's items, so\n"
		"                     that toc's published_fraction comes out near P), 0..90\n"
		"                     (default 0: none); not with --churn-kb\n"
		"  --duration=S       seconds of requests (default 5)\n"
		"  --requests=N       run exactly N requests instead of --duration\n"
		"  --warmup=S         at most S seconds of warm-up before the timed part (default 0:\n"
		"                     none, unless --warmup-cycles asks for one; then 60)\n"
		"  --warmup-cycles=N  warm up until the collector has completed N cycles of its own,\n"
		"                     or --warmup seconds passed, whichever first (default 0: warm\n"
		"                     up --warmup seconds); arena, with no collector: the seconds.\n"
		"                     The figures cover the timed part only; warm-up requests come\n"
		"                     from elsewhere in the stream, so checksums are unchanged\n"
		"  --series           a sample per second of the whole run, warm-up included, in the\n"
		"                     JSON (\"series\"; default off)\n"
		"  --seed=N           the request stream (default 1)\n"
		"  --gogc=N|off       heap growth between cycles, percent (default: TOC_GOGC or GOGC,\n"
		"                     else 100); boehm: its free-space divisor; arena: ignored\n"
		"  --memlimit=SIZE    soft memory limit, e.g. 2G (default: TOC_MEMLIMIT or\n"
		"                     GOMEMLIMIT); boehm: maximum heap size (hard); arena: ignored\n"
		"  --downstream=D     none: requests run to their end; chan: mid-request (parsed, record\n"
		"                     found, before the response) each asks a backend goroutine over a\n"
		"                     channel and parks until the answer, --downstream-us after the\n"
		"                     query arrived; socket: the same over a socketpair on the poller,\n"
		"                     from a pool of at most 4096 connections (descriptors are\n"
		"                     limited: past that many in flight, requests park on the pool).\n"
		"                     toc, cms, stw only; checksums are those of none. About\n"
		"                     txn_per_sec x --downstream-us requests wait at once, however\n"
		"                     large --inflight is: see parked_max (default none)\n"
		"  --downstream-us=D  the backend's delay, microseconds, 0..10000000 (default 1000)\n"
		"  --json             print one JSON object on stdout\n"
		"  --dump-requests=N  write the first N requests of the stream to stdout, each\n"
		"                     after a line with its length, and exit (wrk's script\n"
		"                     replays them against the servers; match --live-mb)\n"
		"  --help             this text\n\n"
		"JSON keys (null where a mode has no such figure): mode, driver, driver_note, procs,\n"
		"workers, inflight, live_mb, items, publish_pct, churn_kb, churn_mb, publish_bytes_pct,\n"
		"gogc, seed, transactions, seconds, txn_per_sec, txn_p50_us, txn_p99_us,\n"
		"busiest_worker_share (spawn: the busiest scheduler worker's share of the requests),\n"
		"gc_cycles, gc_cpu_seconds,\n"
		"gc_cpu_fraction (collector CPU / (seconds x procs)), gc_cpu_us_per_txn, the CPU split\n"
		"(below), pacer_cycles (cycles the trigger started), pacer_end_over_goal_max (their\n"
		"largest heap at mark end / goal), pacer_within_fraction (the share within 1.10x),\n"
		"stw_max_us, stw_p99_us, peak_rss_mb, allocated_mb, kb_per_txn, toc_reclaimed_fraction,\n"
		"published_fraction, forfeit_fraction (of window bytes), marking_bytes_fraction (toc:\n"
		"bytes allocated from the shared caches during a mark for want of a window, over\n"
		"allocated bytes), downstream, downstream_us, parked_max (the most requests waiting\n"
		"on the backend at once; both null with none), rss_per_inflight_kb\n"
		"(peak_rss_mb over --inflight, KiB; spawn only), owned_per_inflight_kb (toc, spawn:\n"
		"the layer's largest owned window bytes, toc_owned_bytes_max, over --inflight, KiB),\n"
		"checksum (sum of the responses' FNV-1a hashes; with --requests the\n"
		"same in every mode), warmup_ended (off, cycles or seconds), warmup_seconds,\n"
		"warmup_cycles, warmup_transactions, in toc mode \"toc\": every statistic of the layer\n"
		"(toc_local_bytes: window bytes; toc_reclaimed_bytes, toc_forfeited_bytes,\n"
		"toc_mark_windows, toc_marking_bytes, ...), and with --series \"series\": one object a\n"
		"second, warm-up included: t (seconds from the first phase's start to the sample's\n"
		"end), seconds (its length: a phase's last is shorter), phase (warmup or timed),\n"
		"txn_per_sec (requests started), heap_inuse_mb, rss_mb, marking_fraction (of the\n"
		"sample), gc_cycles (completed in it), toc_windows and toc_reclaimed_mb (windows\n"
		"closed, bytes reclaimed in it; null but in toc mode).\n\n"
		BENCH_CPU_FIGURES_HELP "\n");
	gc_config_help(f);
	sched_config_help(f);
}

static struct gc_config gc_cfg;

enum txb_mode txb_config_from_env(struct gc_config *gc, struct sched_config *sched)
{
	char err[256];
	if (gc_config_from_env(gc, err, sizeof err) || sched_config_from_env(sched, err, sizeof err))
		bench_fatal(2, "%s", err);
	return gc->toc ? TXB_TOC : gc->mode == GC_MODE_STW ? TXB_STW : TXB_CMS;
}

void txb_parse(int argc, char **argv, struct txb_options *o)
{
	enum { F_MODE = 256, F_DRIVER, F_PROCS, F_WORKERS, F_INFLIGHT, F_LIVE, F_ITEMS, F_PUB, F_CHURN_KB,
	       F_CHURN_MB, F_DURATION, F_REQUESTS, F_WARMUP, F_WARMUP_CYCLES, F_SERIES, F_SEED, F_GOGC,
	       F_MEMLIMIT, F_JSON, F_HELP, F_DUMP, F_DOWNSTREAM, F_DOWNSTREAM_US, F_PUB_BYTES };
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, F_MODE},
		{"driver", required_argument, NULL, F_DRIVER},
		{"procs", required_argument, NULL, F_PROCS},
		{"workers", required_argument, NULL, F_WORKERS},
		{"inflight", required_argument, NULL, F_INFLIGHT},
		{"live-mb", required_argument, NULL, F_LIVE},
		{"items", required_argument, NULL, F_ITEMS},
		{"publish-pct", required_argument, NULL, F_PUB},
		{"churn-kb", required_argument, NULL, F_CHURN_KB},
		{"churn-mb", required_argument, NULL, F_CHURN_MB},
		{"publish-bytes-pct", required_argument, NULL, F_PUB_BYTES},
		{"duration", required_argument, NULL, F_DURATION},
		{"requests", required_argument, NULL, F_REQUESTS},
		{"warmup", required_argument, NULL, F_WARMUP},
		{"warmup-cycles", required_argument, NULL, F_WARMUP_CYCLES},
		{"series", no_argument, NULL, F_SERIES},
		{"seed", required_argument, NULL, F_SEED},
		{"gogc", required_argument, NULL, F_GOGC},
		{"memlimit", required_argument, NULL, F_MEMLIMIT},
		{"json", no_argument, NULL, F_JSON},
		{"dump-requests", required_argument, NULL, F_DUMP},
		{"help", no_argument, NULL, F_HELP},
		{"downstream", required_argument, NULL, F_DOWNSTREAM},
		{"downstream-us", required_argument, NULL, F_DOWNSTREAM_US},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	struct sched_config scfg = {0};
	*o = (struct txb_options){
		.mode = txb_config_from_env(&gc_cfg, &scfg),
		.driver = TXB_LOOP,
		.inflight = 64,
		.live_mb = 256,
		.items = 16,
		.publish_pct = 5,
		.churn_mb = 32,
		.duration = 5,
		.seed = 1,
		.downstream_us = 1000,
		.gc_cfg = &gc_cfg,
	};
	int64_t procs = scfg.procs, workers = 0, v = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *flag = NULL;
		int64_t min = 1, max = 0, *dst = &v;
		switch (c) {
		case F_MODE: o->mode = (enum txb_mode)bench_lookup("--mode", optarg, txb_mode_names, TXB_NMODES); continue;
		case F_DRIVER: o->driver = (enum txb_driver)bench_lookup("--driver", optarg, txb_driver_names, TXB_NDRIVERS); continue;
		case F_JSON: o->json = true; continue;
		case F_DOWNSTREAM: o->downstream = (enum txb_downstream)bench_lookup("--downstream", optarg, txb_downstream_names, TXB_NDOWNSTREAMS); continue;
		case F_SERIES: o->series = true; continue;
		case F_WARMUP: {   /* bench_seconds's range, and 0: none */
			char *end;
			o->warmup = strtod(optarg, &end);
			if (end == optarg || *end || !(o->warmup >= 0) || o->warmup > 86400)
				bench_fatal(2, "--warmup=%s: expected seconds, at least 0 and at most 86400", optarg);
			continue;
		}
		case F_HELP: usage(stdout); exit(0);
		case F_GOGC: bench_gc_flag(&gc_cfg, "gogc", "--gogc", optarg); continue;
		case F_MEMLIMIT: bench_gc_flag(&gc_cfg, "memlimit", "--memlimit", optarg); continue;
		case F_DURATION: o->duration = bench_seconds("--duration", optarg); continue;
		case F_PROCS: flag = "--procs"; dst = &procs; max = SCHED_MAX_PROCS; break;
		case F_WORKERS: flag = "--workers"; dst = &workers; max = 100000; break;
		case F_INFLIGHT: flag = "--inflight"; max = 1000000; break;
		case F_LIVE: flag = "--live-mb"; dst = &o->live_mb; min = 1; max = 1 << 20; break;
		case F_ITEMS: flag = "--items"; max = 128; break;
		case F_PUB: flag = "--publish-pct"; min = 0; max = 100; break;
		case F_CHURN_KB: flag = "--churn-kb"; dst = &o->churn_kb; min = 0; max = 4096; break;
		case F_CHURN_MB: flag = "--churn-mb"; dst = &o->churn_mb; max = 65536; break;
		case F_PUB_BYTES: flag = "--publish-bytes-pct"; min = 0; max = 90; break;
		case F_REQUESTS: flag = "--requests"; dst = &o->requests; max = INT64_MAX / 2; break;
		case F_WARMUP_CYCLES: flag = "--warmup-cycles"; dst = &o->warmup_cycles; min = 0; max = 1000000; break;
		case F_DUMP: flag = "--dump-requests"; dst = &o->dump; max = 10000000; break;
		case F_SEED: flag = "--seed"; min = 0; max = INT64_MAX; break;
		case F_DOWNSTREAM_US: flag = "--downstream-us"; dst = &o->downstream_us; min = 0; max = 10000000; break;
		default: usage(stderr); exit(2);
		}
		if (sched_knob_int(flag, optarg, min, max, dst, err, sizeof err))
			bench_fatal(2, "%s", err);
		if (c == F_INFLIGHT)
			o->inflight = (int)v;
		else if (c == F_ITEMS)
			o->items = (int)v;
		else if (c == F_PUB)
			o->publish_pct = (int)v;
		else if (c == F_PUB_BYTES)
			o->publish_bytes_pct = (int)v;
		else if (c == F_SEED)
			o->seed = (uint64_t)v;
	}
	if (optind < argc)
		bench_fatal(2, "unexpected argument \"%s\" (flags are --name=value; --help lists them)", argv[optind]);
	if (!procs)
		procs = bench_cpus();
	o->procs = (int)procs;
	o->workers = workers ? (int)workers : o->procs;
	bool goroutines = o->mode == TXB_TOC || o->mode == TXB_CMS || o->mode == TXB_STW;
	if (!goroutines && o->driver == TXB_SPAWN)
		bench_fatal(2, "--driver=spawn: %s mode runs on plain threads, one request loop each; use "
			       "--driver=loop",
			    txb_mode_names[o->mode]);
	if (!goroutines && o->downstream != TXB_DS_NONE)
		bench_fatal(2, "--downstream=%s: %s mode has no goroutines to park; use --mode=toc, cms or stw",
			    txb_downstream_names[o->downstream], txb_mode_names[o->mode]);
	if (!goroutines && workers && workers != procs)
		bench_fatal(2, "--workers: %s mode runs one thread per request loop; set --procs instead",
			    txb_mode_names[o->mode]);
	if (o->publish_bytes_pct && o->churn_kb)
		bench_fatal(2, "--publish-bytes-pct and --churn-kb both size the churn ring's entries; set one");
	o->gogc = gc_cfg.gogc;
	o->memlimit = gc_cfg.memlimit;
	o->nkeys = (uint64_t)o->live_mb * 1048576 / TXB_RECORD_BYTES;
	if (o->nkeys < 16)
		o->nkeys = 16;
}

/* --- output ----------------------------------------------------------------------------------- */

static void num(FILE *f, bool *first, const char *key, const char *fmt, double v)
{
	fprintf(f, "%s\"%s\":", *first ? "" : ",", key);
	*first = false;
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, fmt, v);
}

static void str(FILE *f, bool *first, const char *key, const char *v)
{
	fprintf(f, "%s\"%s\":\"%s\"", *first ? "" : ",", key, v);
	*first = false;
}

void txb_print_json(const struct txb_options *o, const struct txb_result *r)
{
	FILE *f = stdout;
	bool first = true;
	double tps = r->seconds > 0 ? (double)r->transactions / r->seconds : NAN;
	double per_txn = r->transactions ? 1.0 / (double)r->transactions : NAN;
	fputc('{', f);
	str(f, &first, "mode", txb_mode_names[o->mode]);
	str(f, &first, "driver", txb_driver_names[o->driver]);
	str(f, &first, "driver_note", r->driver_note);
	num(f, &first, "procs", "%.0f", r->procs);
	num(f, &first, "workers", "%.0f", o->driver == TXB_LOOP ? o->workers : NAN);
	num(f, &first, "inflight", "%.0f", o->driver == TXB_SPAWN ? o->inflight : NAN);
	num(f, &first, "live_mb", "%.0f", (double)o->live_mb);
	num(f, &first, "items", "%.0f", o->items >= 0 ? o->items : NAN);   /* -1: the client's (httpd) */
	num(f, &first, "publish_pct", "%.0f", o->publish_pct >= 0 ? o->publish_pct : NAN);
	num(f, &first, "churn_kb", "%.0f", (double)o->churn_kb);
	num(f, &first, "churn_mb", "%.0f", o->churn_kb || o->publish_bytes_pct ? (double)o->churn_mb : NAN);
	num(f, &first, "publish_bytes_pct", "%.0f", (double)o->publish_bytes_pct);
	num(f, &first, "gogc", "%.0f", o->gogc);
	num(f, &first, "seed", "%.0f", (double)o->seed);
	num(f, &first, "transactions", "%.0f", (double)r->transactions);
	num(f, &first, "seconds", "%.4f", r->seconds);
	num(f, &first, "txn_per_sec", "%.1f", tps);
	num(f, &first, "txn_p50_us", "%.2f", r->txn_p50_us);
	num(f, &first, "txn_p99_us", "%.2f", r->txn_p99_us);
	num(f, &first, "busiest_worker_share", "%.4f", o->driver == TXB_SPAWN ? r->busiest_worker_share : NAN);
	num(f, &first, "gc_cycles", "%.0f", (double)r->gc_cycles);
	num(f, &first, "gc_cpu_seconds", "%.4f", r->gc_cpu_seconds);
	num(f, &first, "gc_cpu_fraction", "%.4f", r->gc_cpu_fraction);
	num(f, &first, "gc_cpu_us_per_txn", "%.3f", r->gc_cpu_seconds * 1e6 * per_txn);
	char cpu[1024];
	bench_cpu_figures_json(cpu, sizeof cpu, &r->cpu);
	fprintf(f, ",%s", cpu);
	num(f, &first, "pacer_cycles", "%.0f", r->has_pacer ? (double)r->pacer_cycles : NAN);
	num(f, &first, "pacer_end_over_goal_max", "%.4f", r->has_pacer ? r->pacer_end_over_goal_max : NAN);
	num(f, &first, "pacer_within_fraction", "%.4f", r->has_pacer ? r->pacer_within_fraction : NAN);
	num(f, &first, "stw_max_us", "%.1f", r->stw_max_us);
	num(f, &first, "stw_p99_us", "%.1f", r->stw_p99_us);
	num(f, &first, "peak_rss_mb", "%.1f", r->peak_rss_mb);
	num(f, &first, "allocated_mb", "%.1f", r->allocated_mb);
	num(f, &first, "kb_per_txn", "%.2f", r->allocated_mb * 1024 * per_txn);
	num(f, &first, "toc_reclaimed_fraction", "%.4f", r->has_toc ? r->toc_reclaimed_fraction : 0);
	num(f, &first, "published_fraction", "%.4f", r->has_toc ? r->published_fraction : 0);
	num(f, &first, "forfeit_fraction", "%.4f", r->has_toc ? r->forfeit_fraction : 0);
	num(f, &first, "marking_bytes_fraction", "%.4f", r->has_toc ? r->marking_bytes_fraction : NAN);
	char downstream[512];
	txb_downstream_json(downstream, sizeof downstream, o, r);
	fprintf(f, ",%s", downstream);
	fprintf(f, ",\"checksum\":\"%016llx\"", (unsigned long long)r->checksum);
	if (r->warmup_ended) {
		str(f, &first, "warmup_ended", r->warmup_ended);
		num(f, &first, "warmup_seconds", "%.3f", r->warmup_seconds);
		num(f, &first, "warmup_cycles", "%.0f", (double)r->warmup_cycles);
		num(f, &first, "warmup_transactions", "%.0f", (double)r->warmup_transactions);
	}
	if (r->extra_json)
		fprintf(f, ",%s", r->extra_json);
	if (r->has_toc)
		fprintf(f, ",\"toc\":{%s}", r->toc_stats);
	if (r->series) {
		fputs(",\"series\":[", f);
		for (size_t i = 0; i < r->nseries; i++) {
			const struct txb_sample *x = &r->series[i];
			bool sfirst = true;
			fputs(i ? ",{" : "{", f);
			num(f, &sfirst, "t", "%.3f", x->t);
			num(f, &sfirst, "seconds", "%.4f", x->seconds);
			str(f, &sfirst, "phase", x->timed ? "timed" : "warmup");
			num(f, &sfirst, "txn_per_sec", "%.1f", x->txn_per_sec);
			num(f, &sfirst, "heap_inuse_mb", "%.1f", x->heap_mb);
			num(f, &sfirst, "rss_mb", "%.1f", x->rss_mb);
			num(f, &sfirst, "marking_fraction", "%.4f", x->marking_fraction);
			num(f, &sfirst, "gc_cycles", "%.0f", (double)x->cycles);
			num(f, &sfirst, "toc_windows", "%.0f", x->has_toc ? (double)x->toc_windows : NAN);
			num(f, &sfirst, "toc_reclaimed_mb", "%.2f", x->has_toc ? x->toc_reclaimed_mb : NAN);
			fputc('}', f);
		}
		fputc(']', f);
	}
	fputs("}\n", f);
	fflush(f);
}

void txb_print_table(const struct txb_options *o, const struct txb_result *r)
{
	printf("mode %s, driver %s (%s), %d procs\n", txb_mode_names[o->mode], txb_driver_names[o->driver],
	       r->driver_note, r->procs);
	printf("%llu transactions in %.2f s: %.0f/s, p50 %.1f us, p99 %.1f us\n",
	       (unsigned long long)r->transactions, r->seconds, (double)r->transactions / r->seconds,
	       r->txn_p50_us, r->txn_p99_us);
	printf("gc: %llu cycles, %.3f s CPU (%.1f%%), pauses max %.1f us p99 %.1f us\n",
	       (unsigned long long)r->gc_cycles, r->gc_cpu_seconds, 100 * r->gc_cpu_fraction, r->stw_max_us,
	       r->stw_p99_us);
	printf("peak RSS %.1f MiB, allocated %.1f MiB\n", r->peak_rss_mb, r->allocated_mb);
	if (r->warmup_ended && strcmp(r->warmup_ended, "off"))
		printf("warm-up: %llu transactions, %llu cycles in %.2f s (ended by %s)\n",
		       (unsigned long long)r->warmup_transactions, (unsigned long long)r->warmup_cycles,
		       r->warmup_seconds, r->warmup_ended);
	for (size_t i = 0; i < r->nseries; i++) {
		const struct txb_sample *x = &r->series[i];
		printf("%8.2f s %-6s %9.0f txn/s, heap %7.1f MiB, RSS %7.1f MiB, marking %.2f, %llu cycles\n", x->t,
		       x->timed ? "timed" : "warmup", x->txn_per_sec, x->heap_mb, x->rss_mb, x->marking_fraction,
		       (unsigned long long)x->cycles);
	}
	if (r->has_toc)
		printf("toc: reclaimed %.3f, published %.3f, forfeited %.3f of window bytes; %.3f of the bytes "
		       "allocated in shared caches while marking\n",
		       r->toc_reclaimed_fraction, r->published_fraction, r->forfeit_fraction,
		       r->marking_bytes_fraction);
	if (r->extra_json)
		printf("server: %s\n", r->extra_json);
	printf("checksum %016llx\n", (unsigned long long)r->checksum);
}
