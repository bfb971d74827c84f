/*
 * schedbench — scheduler costs, measured the way workloads/go/schedbench
 * measures Go's runtime, so the two can be put side by side:
 *
 *   switch_ns          one worker; two goroutines alternate by sched_gosched();
 *                      wall time / (2 * rounds)
 *   chan_pingpong_ns   all workers; one round trip over two unbuffered channels
 *   spawn_exit_ns      all workers; one goroutine spawns `spawn` goroutines that
 *                      only call sched_wg_done; wall time / spawn
 *   rss_per_parked_kib RSS growth / N while N goroutines block on one channel
 *
 * Each timed figure is the median of --trials runs. Progress goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toc/chan.h"
#include "toc/knob.h"
#include "toc/sched.h"
#include "toc/sync.h"

enum { BENCH_SWITCH = 1, BENCH_PINGPONG = 2, BENCH_SPAWN = 4, BENCH_PARKED = 8, BENCH_ALL = 15 };

struct options {
	bool json;
	unsigned benches;   /* BENCH_* set by --bench */
	int64_t goroutines;
	int64_t rounds;
	int64_t spawn;
	int64_t trials;
	struct sched_config cfg;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: schedbench [options]\n"
		"Measures the goroutine scheduler (compare with go-schedbench).\n\n"
		"  --json              print one JSON object on stdout\n"
		"  --goroutines=N      parked goroutines for the RSS figure (default 1000000)\n"
		"  --rounds=N          iterations of the switch and ping-pong loops (default 2000000)\n"
		"  --spawn=N           goroutines for the spawn+exit figure (default 1000000)\n"
		"  --trials=N          runs per timed figure; the median is reported (default 5)\n"
		"  --procs=N           workers for the multi-worker figures (default: TOC_PROCS or CPUs)\n"
		"  --bench=LIST        figures to measure, comma-separated: switch,pingpong,spawn,parked\n"
		"                      (default: all; the others print as null)\n"
		"  --help              this text\n\n");
	sched_config_help(f);
}

static void die(const char *msg)
{
	fprintf(stderr, "schedbench: %s\n", msg);
	exit(2);
}

static unsigned parse_benches(const char *list)
{
	static const char *const names[] = {"switch", "pingpong", "spawn", "parked"};
	unsigned set = 0;
	char *copy = strdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned i = 0;
		while (i < 4 && strcmp(t, names[i]) != 0)
			i++;
		if (i == 4) {
			fprintf(stderr, "schedbench: --bench: unknown figure \"%s\" (switch, pingpong, spawn, parked)\n", t);
			exit(2);
		}
		set |= 1u << i;
	}
	free(copy);
	if (!set)
		die("--bench: empty list");
	return set;
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},       {"goroutines", required_argument, NULL, 'g'},
		{"rounds", required_argument, NULL, 'r'}, {"spawn", required_argument, NULL, 's'},
		{"trials", required_argument, NULL, 't'}, {"procs", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},       {"bench", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	*o = (struct options){.goroutines = 1000000, .rounds = 2000000, .spawn = 1000000, .trials = 5,
			      .benches = BENCH_ALL};
	if (sched_config_from_env(&o->cfg, err, sizeof err))
		die(err);
	int c;
	int64_t v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *flag = NULL;
		int64_t max = 100000000, *dst = NULL;
		switch (c) {
		case 'j': o->json = true; continue;
		case 'h': usage(stdout); exit(0);
		case 'b': o->benches = parse_benches(optarg); continue;
		case 'g': flag = "--goroutines"; dst = &o->goroutines; max = 16000000; break;
		case 'r': flag = "--rounds"; dst = &o->rounds; break;
		case 's': flag = "--spawn"; dst = &o->spawn; break;
		case 't': flag = "--trials"; dst = &o->trials; max = 1000; break;
		case 'p': flag = "--procs"; dst = &v; max = SCHED_MAX_PROCS; break;
		default: usage(stderr); exit(2);
		}
		if (sched_knob_int(flag, optarg, 1, max, dst, err, sizeof err))
			die(err);
		if (c == 'p')
			o->cfg.procs = (int)v;
	}
	if (optind < argc) {
		fprintf(stderr, "schedbench: unexpected argument \"%s\"\n", argv[optind]);
		exit(2);
	}
	/* Room for the parked goroutines plus the runtime's own. */
	if (o->cfg.max_goroutines < (size_t)o->goroutines + 1024)
		o->cfg.max_goroutines = (size_t)o->goroutines + 1024;
	if (sched_config_check(&o->cfg, err, sizeof err))
		die(err);
}

static struct options opt;
static double result;

/* --- the measurements (each runs as a main goroutine) ----------------------- */

static struct sched_waitgroup wg;

static void yielder(void *arg)
{
	int64_t n = *(int64_t *)arg;
	for (int64_t i = 0; i < n; i++)
		sched_gosched();
	sched_wg_done(&wg);
}

static void bench_switch(void *unused)
{
	(void)unused;
	int64_t t0 = sched_nanotime();
	sched_wg_add(&wg, 2);
	sched_go(yielder, &opt.rounds);
	sched_go(yielder, &opt.rounds);
	sched_wg_wait(&wg);
	result = (double)(sched_nanotime() - t0) / (2.0 * (double)opt.rounds);
}

struct pingpong {
	struct sched_chan *ping, *pong;
};

static void ping(void *arg)
{
	struct pingpong *p = arg;
	for (int64_t i = 0; i < opt.rounds; i++) {
		int64_t v = i;
		sched_chan_send(p->ping, &v);
		sched_chan_recv(p->pong, &v);
	}
	sched_wg_done(&wg);
}

static void pong(void *arg)
{
	struct pingpong *p = arg;
	for (int64_t i = 0; i < opt.rounds; i++) {
		int64_t v;
		sched_chan_recv(p->ping, &v);
		sched_chan_send(p->pong, &v);
	}
	sched_wg_done(&wg);
}

static void bench_pingpong(void *unused)
{
	(void)unused;
	struct pingpong p = {sched_chan_new(sizeof(int64_t), 0), sched_chan_new(sizeof(int64_t), 0)};
	if (!p.ping || !p.pong)
		die("out of memory for channels");
	int64_t t0 = sched_nanotime();
	sched_wg_add(&wg, 2);
	sched_go(pong, &p);
	sched_go(ping, &p);
	sched_wg_wait(&wg);
	result = (double)(sched_nanotime() - t0) / (double)opt.rounds;
	sched_chan_free(p.ping);
	sched_chan_free(p.pong);
}

static void done(void *unused)
{
	(void)unused;
	sched_wg_done(&wg);
}

static void bench_spawn(void *unused)
{
	(void)unused;
	int64_t t0 = sched_nanotime();
	sched_wg_add(&wg, opt.spawn);
	for (int64_t i = 0; i < opt.spawn; i++)
		if (!sched_go(done, NULL)) {
			fprintf(stderr, "schedbench: spawn failed: %s\n", strerror(errno));
			exit(1);
		}
	sched_wg_wait(&wg);
	result = (double)(sched_nanotime() - t0) / (double)opt.spawn;
	struct sched_stats st;
	sched_read_stats(&st);
	fprintf(stderr,
		"schedbench:   spawn: %llu stack slots for %lld goroutines; %llu steals, %llu wakeups\n",
		(unsigned long long)st.stack_slots_used, (long long)opt.spawn,
		(unsigned long long)st.steals, (unsigned long long)st.wakeups);
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		die("cannot read /proc/self/statm");
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static struct sched_chan *release;
static struct sched_waitgroup started, exited;

static void parked(void *unused)
{
	(void)unused;
	sched_wg_done(&started);
	sched_chan_recv(release, NULL);
	sched_wg_done(&exited);
}

static void bench_parked(void *unused)
{
	(void)unused;
	release = sched_chan_new(0, 0);
	long before = rss_bytes();
	sched_wg_add(&started, opt.goroutines);
	sched_wg_add(&exited, opt.goroutines);
	for (int64_t i = 0; i < opt.goroutines; i++) {
		if (!sched_go(parked, NULL)) {
			fprintf(stderr, "schedbench: could not start parked goroutine %lld: %s\n",
				(long long)i, strerror(errno));
			exit(1);
		}
		if (i % 100000 == 99999)
			fprintf(stderr, "schedbench:   %lld goroutines started\n", (long long)i + 1);
	}
	sched_wg_wait(&started);
	sched_sleep(200 * 1000000);
	long after = rss_bytes();
	result = (double)(after - before) / 1024.0 / (double)opt.goroutines;
	sched_chan_close(release);
	sched_wg_wait(&exited);
	sched_chan_free(release);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs fn in a fresh runtime with `procs` workers, trials times; the median. */
static double measure(const char *what, void (*fn)(void *), int procs, int64_t trials)
{
	double *v = calloc((size_t)trials, sizeof *v);
	struct sched_config cfg = opt.cfg;
	cfg.procs = procs;
	fprintf(stderr, "schedbench: measuring %s ...\n", what);
	for (int64_t i = 0; i < trials; i++) {
		if (sched_run(&cfg, fn, NULL))
			die("the runtime did not start");
		v[i] = result;
	}
	qsort(v, (size_t)trials, sizeof *v, cmp_double);
	double m = trials % 2 ? v[trials / 2] : (v[trials / 2 - 1] + v[trials / 2]) / 2;
	free(v);
	return m;
}

int main(int argc, char **argv)
{
	parse(argc, argv, &opt);
	int procs = opt.cfg.procs;
	if (!procs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		procs = n < 1 ? 1 : n > SCHED_MAX_PROCS ? SCHED_MAX_PROCS : (int)n;
	}
	struct {
		const char *key, *what;
		unsigned bit;
		void (*fn)(void *);
		int procs;
		int64_t trials;
		const char *fmt;
		double value;
	} figs[] = {
		{"switch_ns", "switch", BENCH_SWITCH, bench_switch, 1, opt.trials, "%.1f", 0},
		{"chan_pingpong_ns", "chan ping-pong", BENCH_PINGPONG, bench_pingpong, procs, opt.trials, "%.1f", 0},
		{"spawn_exit_ns", "spawn+exit", BENCH_SPAWN, bench_spawn, procs, opt.trials, "%.1f", 0},
		{"rss_per_parked_kib", "parked goroutines", BENCH_PARKED, bench_parked, procs, 1, "%.2f", 0},
	};
	enum { NFIGS = sizeof figs / sizeof figs[0] };
	for (int i = 0; i < NFIGS; i++)
		if (opt.benches & figs[i].bit)
			figs[i].value = measure(figs[i].what, figs[i].fn, figs[i].procs, figs[i].trials);
	if (opt.json)
		printf("{\"runtime\":\"toc-sched\",\"procs\":%d,\"parked_goroutines\":%lld", procs,
		       (long long)opt.goroutines);
	else
		printf("%-22s %12s\n", "figure", "toc-sched");
	for (int i = 0; i < NFIGS; i++) {
		char num[32] = "null";
		if (opt.benches & figs[i].bit)
			snprintf(num, sizeof num, figs[i].fmt, figs[i].value);
		printf(opt.json ? ",\"%s\":%s" : "%-22s %12s\n", figs[i].key, num);
	}
	if (opt.json)
		printf("}\n");
	return 0;
}
