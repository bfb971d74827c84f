/*
 * httpd — an HTTP/1.1 server on toc's runtime running txbench's handler or
 * the TechEmpower test types.
 *
 * A goroutine per connection on the epoll poller; keep-alive; each request
 * an explicit transaction (toc_begin/toc_end around the handler and the
 * write of its response), or with --per-request a goroutine of its own
 * whose exit ends the window. The handler (--suite):
 *   txbench  txbench's (txbench_gc.c): parse the request and its JSON body,
 *            read or replace a record of the shared store (--live-mb),
 *            build the JSON response. Paths are /api/items/k<N> with N
 *            below the store's record count.
 *   tfb      TechEmpower's /json, /db, /queries, /fortunes and /updates
 *            over an in-memory database in the heap (tfb.c), on txbench's
 *            heap and response builder.
 *
 * Hostile input is normal input (httpparse.c): over-long request line 414,
 * header section or count 431, body 413, malformed 400, Transfer-Encoding
 * 501, other HTTP versions 505; each answered and the connection closed. A
 * request that does not arrive whole within --read-timeout gets 408; a
 * connection idle for --idle-timeout is closed; past --max-conns new
 * connections get 503.
 *
 * SIGINT or SIGTERM (or --duration): stop accepting, let the requests in
 * flight finish and the idle connections close, print the statistics
 * (txbench's JSON keys plus the server's own) and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "toc/gc.h"
#include "httpparse.h"
#include "toc/chan.h"
#include "toc/knob.h"
#include "toc/net.h"
#include "toc/sched.h"
#include "toc/toc.h"
#include "tfb.h"
#include "txbench.h"
#include "txbench_gc.h"

#define MS 1000000ll
#define SEC 1000000000ll

/* The handlers httpd serves (--suite). */
enum httpd_suite { SUITE_TXBENCH, SUITE_TFB, SUITE_N };
static const char *const suite_names[SUITE_N] = {"txbench", "tfb"};

static struct {
	const char *host;
	int64_t port;
	enum httpd_suite suite;
	bool per_request, json, live_mb_set;
	int64_t idle_ns, read_ns, write_ns, duration_ns;
	int64_t max_conns;
	struct txb_options o;
} cfg;

static struct gc_config gc_cfg;
static _Atomic int stopping;
static _Atomic int64_t active;     /* connection goroutines */
static struct txb_worker *workers; /* per scheduler worker: requests, latency */
static int nworkers;
static struct tx_tfb_db *tfb_root; /* --suite=tfb: the database, a registered root */

/* The Date header's value, formatted at most once a second per worker. */
struct date_cache {
	time_t sec;
	char text[32];                 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};
static struct date_cache *dates;   /* one per scheduler worker */

/* Counters, summed at the end. */
static _Atomic uint64_t n_conns, n_rejected, n_status[6], n_timeouts_idle, n_timeouts_read, n_write_errors,
	bytes_in, bytes_out;
static _Atomic uint64_t n_errors[600];

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stopping, 1);
}

/* --- responses ------------------------------------------------------------------------------------ */

static void send_status(int fd, int status)
{
	char b[160];
	int n = snprintf(b, sizeof b, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status,
			 http_reason(status));
	if (sched_net_write(fd, b, (size_t)n, sched_nanotime() + cfg.write_ns) == n)
		atomic_fetch_add(&bytes_out, (uint64_t)n);
	atomic_fetch_add(&n_status[status / 100], 1);
	if (status < 600)
		atomic_fetch_add(&n_errors[status], 1);
}

/* The current Date value into out. No safepoint between the worker's index
 * and the copy: the cache stays this worker's throughout. */
static void http_date(char out[32])
{
	struct date_cache *c = &dates[sched_worker_index()];
	time_t now = time(NULL);
	if (c->sec != now) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(c->text, sizeof c->text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		c->sec = now;
	}
	memcpy(out, c->text, sizeof c->text);
}

/* The suite's handler on the request rq (n bytes at req); *resp points to
 * the whole response in the heap, its length returned. */
static size_t respond(const struct http_req *rq, const char *req, size_t n, uint64_t *rng, const char **resp)
{
	if (cfg.suite == SUITE_TXBENCH)
		return txb_gc_respond(req, n, resp);
	char date[32];
	http_date(date);
	struct tx_sb out;
	tfb_respond(tfb_root, rq->method, rq->method_len, rq->target, rq->target_len, date, rng, &out);
	*resp = out.b;
	return out.len;
}

/* The handler and the write of its response, in a frame of its own: when it
 * returns, nothing of the response is left in the caller's live stack, so
 * toc_end's scan does not publish it (the frame is below the stack
 * pointer, and the callee-saved registers are the caller's again). */
static __attribute__((noinline)) bool respond_and_write(int fd, const struct http_req *rq, const char *req,
							 size_t n, uint64_t *rng, int *status, uint64_t *hash,
							 size_t *written)
{
	const char *resp;
	size_t rn = respond(rq, req, n, rng, &resp);
	/* The status is the handler's: 200, or 400 for what it cannot use. */
	*status = rn > 12 ? atoi(resp + 9) : 500;
	*hash = txb_fnv(TXB_FNV_INIT, resp, rn);
	*written = rn;
	return sched_net_write(fd, resp, rn, sched_nanotime() + cfg.write_ns) == (ssize_t)rn;
}

/* Runs the handler on one request and writes its response; false when the
 * write failed. One transaction: what the handler allocated and did not
 * publish (all but a replaced record or row) is reused at toc_end. *rng is
 * the connection's random state (tfb). */
static bool serve(int fd, const struct http_req *rq, const char *req, size_t n, uint64_t *rng)
{
	int64_t t0 = bench_now_ns();
	int status;
	uint64_t h;
	size_t rn;
	toc_begin();
	bool ok = respond_and_write(fd, rq, req, n, rng, &status, &h, &rn);
	toc_end();
	if (!ok) {
		atomic_fetch_add(&n_write_errors, 1);
		return false;
	}
	atomic_fetch_add(&bytes_out, rn);
	atomic_fetch_add(&n_status[status / 100 % 6], 1);
	/* No safepoint from here on: the worker cannot change under us. */
	txb_worker_count(&workers[sched_worker_index()], h, t0);
	return true;
}

struct job {
	int fd;
	const struct http_req *rq;
	const char *req;
	size_t n;
	uint64_t *rng;
	bool ok;
	struct sched_chan *done;
};

static void request_main(void *arg)
{
	struct job *j = arg;
	j->ok = serve(j->fd, j->rq, j->req, j->n, j->rng);
	int one = 1;
	sched_chan_send(j->done, &one);
}

/* --per-request: the request runs on a goroutine of its own; the
 * connection waits for it, so responses stay in order. */
static bool serve_spawned(int fd, const struct http_req *rq, const char *req, size_t n, uint64_t *rng,
			  struct sched_chan *done)
{
	struct job j = {fd, rq, req, n, rng, false, done};
	if (!sched_go(request_main, &j)) {
		send_status(fd, 503);
		return false;
	}
	int one;
	sched_chan_recv(done, &one);
	return j.ok;
}

/* --- connections ---------------------------------------------------------------------------------- */

static size_t max_request(void)
{
	const struct http_limits *l = &http_default_limits;
	return l->max_line + 2 + l->max_header_bytes + l->max_body + 16;
}

static void conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	struct sched_chan *done = cfg.per_request ? sched_chan_new(sizeof(int), 1) : NULL;
	if (!buf || (cfg.per_request && !done))
		bench_fatal(1, "out of memory for a connection");
	int64_t idle_since = sched_nanotime(), req_since = 0;
	uint64_t rng = tfb_rng_seed((uint64_t)idle_since ^ (uint64_t)fd << 40);
	for (;;) {
		struct http_req rq;
		long n = len ? http_parse(buf, len, &http_default_limits, &rq) : 0;
		if (n < 0) {
			send_status(fd, (int)-n);
			break;
		}
		if (n > 0) {
			const char *req = buf + rq.skipped;
			size_t rn = (size_t)n - rq.skipped;
			bool ok = cfg.per_request ? serve_spawned(fd, &rq, req, rn, &rng, done)
						  : serve(fd, &rq, req, rn, &rng);
			memmove(buf, buf + n, len - (size_t)n);
			len -= (size_t)n;
			idle_since = req_since = sched_nanotime();
			if (!ok || !rq.keep_alive || atomic_load(&stopping))
				break;
			continue;
		}
		if (len == cap) {
			size_t ncap = cap * 2 < max_request() ? cap * 2 : max_request();
			char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!nb) {
				send_status(fd, 413);   /* the parser's limits make this unreachable */
				break;
			}
			buf = nb;
			cap = ncap;
		}
		int64_t now = sched_nanotime();
		if (len == 0 && atomic_load(&stopping))
			break;
		/* Idle: wake every 200 ms to notice a stop. Mid-request: the
		 * whole request must arrive within --read-timeout of its first byte. */
		int64_t deadline = len ? req_since + cfg.read_ns
				       : (idle_since + cfg.idle_ns < now + 200 * MS ? idle_since + cfg.idle_ns
										    : now + 200 * MS);
		ssize_t r = sched_net_read(fd, buf + len, cap - len, deadline);
		if (r > 0) {
			if (len == 0)
				req_since = sched_nanotime();
			len += (size_t)r;
			atomic_fetch_add(&bytes_in, (uint64_t)r);
			continue;
		}
		if (r == 0)
			break;   /* the client closed */
		if (sched_errno() != ETIMEDOUT)
			break;
		if (len) {
			atomic_fetch_add(&n_timeouts_read, 1);
			send_status(fd, 408);
			break;
		}
		if (sched_nanotime() >= idle_since + cfg.idle_ns) {
			atomic_fetch_add(&n_timeouts_idle, 1);
			break;
		}
	}
	sched_net_close(fd);
	free(buf);
	if (done)
		sched_chan_free(done);
	atomic_fetch_sub(&active, 1);
}

/* --- the server ----------------------------------------------------------------------------------- */

static void print_stats(const struct txb_result *r)
{
	static char extra[1024];
	uint64_t e[] = {400, 408, 413, 414, 431, 501, 503, 505};
	int k = snprintf(extra, sizeof extra,
			 "\"suite\":\"%s\",\"connections\":%llu,\"rejected_connections\":%llu,\"responses_2xx\":%llu,"
			 "\"responses_4xx\":%llu,\"responses_5xx\":%llu,\"idle_timeouts\":%llu,"
			 "\"read_timeouts\":%llu,\"write_errors\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu",
			 suite_names[cfg.suite], (unsigned long long)n_conns, (unsigned long long)n_rejected,
			 (unsigned long long)n_status[2], (unsigned long long)n_status[4],
			 (unsigned long long)n_status[5], (unsigned long long)n_timeouts_idle,
			 (unsigned long long)n_timeouts_read, (unsigned long long)n_write_errors,
			 (unsigned long long)bytes_in, (unsigned long long)bytes_out);
	for (size_t i = 0; i < sizeof e / sizeof e[0] && k > 0 && (size_t)k < sizeof extra; i++)
		k += snprintf(extra + k, sizeof extra - (size_t)k, ",\"status_%llu\":%llu", (unsigned long long)e[i],
			      (unsigned long long)n_errors[e[i]]);
	struct txb_result rr = *r;
	rr.extra_json = extra;
	if (cfg.json)
		txb_print_json(&cfg.o, &rr);
	else
		txb_print_table(&cfg.o, &rr);
}

/* The TechEmpower database under a registered root, on txbench's heap. */
static void tfb_build(void)
{
	txb_use_heap(&txb_gc_heap);
	gc_add_roots((void **)&tfb_root, 1);
	tfb_db_build(&tfb_root, cfg.o.seed);
	if (toc_enabled())
		toc_end();   /* the rows were published as the database was linked to its root */
	gc_collect();
}

static void server_main(void *unused)
{
	(void)unused;
	if (cfg.suite == SUITE_TFB)
		tfb_build();
	else
		txb_gc_build_store(&cfg.o);
	nworkers = sched_procs();
	workers = calloc((size_t)nworkers, sizeof *workers);
	dates = calloc((size_t)nworkers, sizeof *dates);
	if (!workers || !dates)
		bench_fatal(1, "out of memory");
	int lfd = sched_net_listen_tcp(cfg.host, (int)cfg.port, 4096);
	if (lfd < 0)
		bench_fatal(1, "cannot listen on %s:%lld: %s", cfg.host, (long long)cfg.port, strerror(sched_errno()));
	char data[64];
	if (cfg.suite == SUITE_TFB)
		snprintf(data, sizeof data, "suite tfb, %lld World rows, %lld fortunes", (long long)tfb_root->nworld,
			 (long long)tfb_root->nfortunes);
	else
		snprintf(data, sizeof data, "store %lld MiB", (long long)cfg.o.live_mb);
	fprintf(stderr, "httpd: listening on %s:%d (mode %s, %s, %d procs, %s)\n", cfg.host,
		sched_net_local_port(lfd), txb_mode_names[cfg.o.mode],
		cfg.per_request ? "a goroutine per request" : "a goroutine per connection, a transaction per request",
		nworkers, data);
	struct txb_gc_snap before, after;
	txb_gc_snap(&before, true);
	int64_t stop_at = cfg.duration_ns ? before.ns + cfg.duration_ns : INT64_MAX;
	while (!atomic_load(&stopping)) {
		if (sched_nanotime() >= stop_at)
			break;
		int fd = sched_net_accept(lfd, NULL, NULL, sched_nanotime() + 200 * MS);
		if (fd < 0) {
			int e = sched_errno();
			if (e == EMFILE || e == ENFILE)
				sched_sleep(10 * MS);   /* out of descriptors: let connections close */
			else if (e != ETIMEDOUT && e != EINTR && e != ECONNABORTED)
				fprintf(stderr, "httpd: accept: %s\n", strerror(e));
			continue;
		}
		atomic_fetch_add(&n_conns, 1);
		if (atomic_load(&active) >= cfg.max_conns) {
			atomic_fetch_add(&n_rejected, 1);
			send_status(fd, 503);
			sched_net_close(fd);
			continue;
		}
		atomic_fetch_add(&active, 1);
		if (!sched_go(conn_main, (void *)(intptr_t)fd)) {
			atomic_fetch_sub(&active, 1);
			send_status(fd, 503);
			sched_net_close(fd);
		}
	}
	atomic_store(&stopping, 1);
	sched_net_close(lfd);
	fprintf(stderr, "httpd: stopping: %lld connections finishing\n", (long long)atomic_load(&active));
	while (atomic_load(&active) > 0)
		sched_sleep(10 * MS);
	txb_gc_snap(&after, false);
	struct txb_result r = {0};
	r.driver_note = cfg.per_request ? "a goroutine per connection, a goroutine per request"
					: "a goroutine per connection, a transaction per request";
	txb_gc_figures(&r, &before, &after);
	txb_collect_workers(&r, workers, nworkers);
	print_stats(&r);
	free(workers);
	free(dates);
	if (cfg.suite == SUITE_TFB)
		gc_remove_roots((void **)&tfb_root);
	else
		txb_gc_drop_store();
}

/* --- flags ---------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: httpd [flags]\n"
	      "An HTTP/1.1 server on toc's runtime running txbench's handler (POST or PUT\n"
	      "/api/items/k<N> with a JSON body) or TechEmpower's test types (--suite=tfb);\n"
	      "see workloads/README.md.\n\n"
	      "  --suite=S           txbench (default): txbench's handler and store;\n"
	      "                      tfb: GET /json, /db, /queries?queries=N, /fortunes and\n"
	      "                      /updates?queries=N (N clamped to 1..500) over a World\n"
	      "                      table of 10,000 rows and the 12 fortunes in the heap\n"
	      "  --mode=M            toc | cms | stw (default: TOC_MODE, else cms)\n"
	      "  --host=ADDR         address to listen on (default 127.0.0.1)\n"
	      "  --port=N            port (default 8080; 0 picks one, printed on stderr)\n"
	      "  --procs=N           worker threads (default: TOC_PROCS, else CPUs online)\n"
	      "  --per-request       a goroutine per request instead of a transaction in the\n"
	      "                      connection's goroutine\n"
	      "  --live-mb=N         the shared store's size in MiB (default 256; txbench\n"
	      "                      suite only: tfb's live heap is its database)\n"
	      "  --idle-timeout=S    close a connection idle this long (default 60)\n"
	      "  --read-timeout=S    408 when a request is not whole this long after its\n"
	      "                      first byte (default 10)\n"
	      "  --max-conns=N       503 past this many open connections (default 200000)\n"
	      "  --duration=S        stop by itself after S seconds (default: at SIGINT/SIGTERM)\n"
	      "  --gogc=P, --memlimit=BYTES   the pacer, as TOC_GOGC and TOC_MEMLIMIT\n"
	      "  --json              statistics as one JSON object on stdout at exit\n"
	      "  --help              this text\n\n"
	      "At exit: txbench's keys (transactions = requests answered by the handler,\n"
	      "txn_per_sec over the whole run, GC and toc figures) and the server's:\n"
	      "connections, rejected_connections, responses_2xx/4xx/5xx, idle_timeouts,\n"
	      "read_timeouts, write_errors, bytes_in, bytes_out, status_400 ... status_505,\n"
	      "and suite.\n",
	      f);
}

static int64_t seconds_flag(const char *flag, const char *text)
{
	return (int64_t)(bench_seconds(flag, text) * 1e9);
}

static void parse(int argc, char **argv)
{
	enum { F_MODE = 256, F_SUITE, F_HOST, F_PORT, F_PROCS, F_PER, F_LIVE, F_IDLE, F_READ, F_MAXC, F_DUR,
	       F_GOGC, F_MEMLIMIT, F_JSON, F_HELP };
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, F_MODE},       {"suite", required_argument, NULL, F_SUITE},
		{"host", required_argument, NULL, F_HOST},
		{"port", required_argument, NULL, F_PORT},       {"procs", required_argument, NULL, F_PROCS},
		{"per-request", no_argument, NULL, F_PER},       {"live-mb", required_argument, NULL, F_LIVE},
		{"idle-timeout", required_argument, NULL, F_IDLE}, {"read-timeout", required_argument, NULL, F_READ},
		{"max-conns", required_argument, NULL, F_MAXC},  {"duration", required_argument, NULL, F_DUR},
		{"gogc", required_argument, NULL, F_GOGC},       {"memlimit", required_argument, NULL, F_MEMLIMIT},
		{"json", no_argument, NULL, F_JSON},             {"help", no_argument, NULL, F_HELP},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	struct sched_config scfg = {0};
	enum txb_mode mode = txb_config_from_env(&gc_cfg, &scfg);
	cfg.host = "127.0.0.1";
	cfg.port = 8080;
	cfg.idle_ns = 60 * SEC;
	cfg.read_ns = 10 * SEC;
	cfg.write_ns = 10 * SEC;
	cfg.max_conns = 200000;
	cfg.o = (struct txb_options){
		.mode = mode,
		.driver = TXB_LOOP,
		.live_mb = 256,
		.items = -1,
		.publish_pct = -1,
		.seed = 0,
		.gc_cfg = &gc_cfg,
	};
	int64_t procs = scfg.procs;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case F_MODE: {
			static const char *const names[] = {"toc", "cms", "stw"};
			cfg.o.mode = (enum txb_mode)bench_lookup("--mode", optarg, names, 3);
			break;
		}
		case F_SUITE: cfg.suite = (enum httpd_suite)bench_lookup("--suite", optarg, suite_names, SUITE_N); break;
		case F_HOST: cfg.host = optarg; break;
		case F_PORT:
			if (sched_knob_int("--port", optarg, 0, 65535, &cfg.port, err, sizeof err))
				bench_fatal(2, "%s", err);
			break;
		case F_PROCS:
			if (sched_knob_int("--procs", optarg, 1, SCHED_MAX_PROCS, &procs, err, sizeof err))
				bench_fatal(2, "%s", err);
			break;
		case F_PER: cfg.per_request = true; cfg.o.driver = TXB_SPAWN; break;
		case F_LIVE:
			if (sched_knob_int("--live-mb", optarg, 1, 1 << 20, &cfg.o.live_mb, err, sizeof err))
				bench_fatal(2, "%s", err);
			cfg.live_mb_set = true;
			break;
		case F_IDLE: cfg.idle_ns = seconds_flag("--idle-timeout", optarg); break;
		case F_READ: cfg.read_ns = seconds_flag("--read-timeout", optarg); break;
		case F_DUR: cfg.duration_ns = seconds_flag("--duration", optarg); break;
		case F_MAXC:
			if (sched_knob_int("--max-conns", optarg, 1, 10000000, &cfg.max_conns, err, sizeof err))
				bench_fatal(2, "%s", err);
			break;
		case F_GOGC: bench_gc_flag(&gc_cfg, "gogc", "--gogc", optarg); break;
		case F_MEMLIMIT: bench_gc_flag(&gc_cfg, "memlimit", "--memlimit", optarg); break;
		case F_JSON: cfg.json = true; break;
		case F_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		bench_fatal(2, "unexpected argument \"%s\" (flags are --name=value; --help lists them)", argv[optind]);
	if (cfg.suite == SUITE_TFB && cfg.live_mb_set)
		bench_fatal(2, "--live-mb sizes txbench's store, which --suite=tfb does not build (its live heap "
			       "is its database)");
	if (cfg.suite == SUITE_TFB)
		cfg.o.live_mb = 0;   /* no store: the JSON's live_mb says so */
	if (!procs)
		procs = bench_cpus();
	cfg.o.procs = (int)procs;
	cfg.o.workers = (int)procs;
	cfg.o.gogc = gc_cfg.gogc;
	cfg.o.memlimit = gc_cfg.memlimit;
	cfg.o.nkeys = (uint64_t)cfg.o.live_mb * 1048576 / TXB_RECORD_BYTES;
	if (cfg.o.nkeys < 16)
		cfg.o.nkeys = 16;
}

int main(int argc, char **argv)
{
	bench_prog = "httpd";
	parse(argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	gc_cfg.mode = cfg.o.mode == TXB_STW ? GC_MODE_STW : GC_MODE_CMS;
	gc_cfg.toc = cfg.o.mode == TXB_TOC;
	struct sched_config scfg = {.procs = cfg.o.procs};
	scfg.max_goroutines = 2 * (size_t)cfg.max_conns + 1024;
	if (scfg.max_goroutines < SCHED_DEFAULT_MAX_GOROUTINES)
		scfg.max_goroutines = SCHED_DEFAULT_MAX_GOROUTINES;
	return gc_run(&gc_cfg, &scfg, server_main, NULL) ? 1 : 0;
}
