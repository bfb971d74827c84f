/*
 * config.c — the collector's knobs: one table (name, Go's name, default,
 * doc), read from the environment once by gc_config_from_env and
 * overridable by flags through gc_config_set. A bad value is an error
 * naming the variable or flag, never a silent default.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "toc/knob.h"

enum knob_kind { K_MODE, K_GOGC, K_MEMLIMIT, K_SIZE, K_BOOL, K_PERCENT, K_REGION };

struct knob {
	const char *key;      /* gc_config_set's knob name */
	const char *env;      /* TOC_ variable */
	const char *goenv;    /* Go's name, or NULL */
	enum knob_kind kind;
	const char *deflt;
	const char *doc;
};

static const struct knob knobs[] = {
	{"mode", "TOC_MODE", NULL, K_MODE, "cms",
	 "toc (concurrent mark-sweep and the transaction layer), cms (concurrent mark-sweep) or stw (stop-the-world)"},
	{"gogc", "TOC_GOGC", "GOGC", K_GOGC, "100", "heap growth percent before the next cycle, or off"},
	{"memlimit", "TOC_MEMLIMIT", "GOMEMLIMIT", K_MEMLIMIT, "off", "soft memory limit (bytes, K/M/G suffixes), or off"},
	{"maxheap", "TOC_MAXHEAP", NULL, K_SIZE, "64G", "hard limit on heap address space; allocation past it is fatal"},
	{"gctrace", "TOC_GCTRACE", NULL, K_BOOL, "0", "1: one line per cycle on stderr (Go's gctrace layout)"},
	{"verify", "TOC_GCVERIFY", NULL, K_BOOL, "0",
	 "1: re-mark with the world stopped at each mark termination and compare (and check the toc invariant); "
	 "2: also check the toc invariant at every rewind"},
	{"poison", "TOC_GCPOISON", NULL, K_BOOL, "0", "1: fill reclaimed slots with a pattern and check it on reuse"},
	{"numa", "TOC_NUMA", NULL, K_BOOL, "1", "1: place arenas per NUMA node when there are several; 0: plain mmap"},
	{"bgpercent", "TOC_GCBGPERCENT", NULL, K_PERCENT, "25", "share of the workers' CPU for background marking"},
	{"region", "TOC_REGION", NULL, K_REGION, "512K",
	 "toc: address range per transaction window, 64K..512K in 8K pages (its spans are carved from it)"},
	{"rewind", "TOC_REWIND", NULL, K_BOOL, "1",
	 "toc: 0 closes windows without rewinding them: every object is left to the collector with its region "
	 "(an ablation: windows and the publishing barrier, no reclaim)"},
	{"fulllist", "TOC_FULLLIST", NULL, K_BOOL, "1",
	 "toc: 1 keeps a region mostly holding published objects in the full list until a cycle frees what died "
	 "in it; 0 hands it to the shared caches at once (an ablation)"},
};

static int fail(char *err, size_t errlen, const char *fmt, const char *name, const char *value)
{
	snprintf(err, errlen, fmt, name, value);
	return -1;
}

static int apply(struct gc_config *cfg, const struct knob *k, const char *name, const char *v,
		 char *err, size_t errlen)
{
	int64_t i;
	uint64_t u;
	switch (k->kind) {
	case K_MODE:
		cfg->toc = !strcmp(v, "toc");
		if (!strcmp(v, "cms") || cfg->toc)
			cfg->mode = GC_MODE_CMS;
		else if (!strcmp(v, "stw"))
			cfg->mode = GC_MODE_STW;
		else
			return fail(err, errlen, "%s=\"%s\": expected toc, cms or stw", name, v);
		return 0;
	case K_REGION:
		if (sched_knob_size(name, v, (uint64_t)64 << 10, (uint64_t)512 << 10, &u, err, errlen))
			return -1;
		if (u % GC_PAGE_SIZE)
			return fail(err, errlen, "%s=\"%s\": must be a multiple of 8K (the page)", name, v);
		cfg->region_pages = (int)(u / GC_PAGE_SIZE);
		return 0;
	case K_GOGC:
		if (!strcasecmp(v, "off")) {
			cfg->gogc = GC_GOGC_OFF;
			return 0;
		}
		if (sched_knob_int(name, v, 1, 1000000, &i, err, errlen))
			return -1;
		cfg->gogc = (int)i;
		return 0;
	case K_MEMLIMIT:
		if (!strcasecmp(v, "off")) {
			cfg->memlimit = 0;
			return 0;
		}
		if (sched_knob_size(name, v, (uint64_t)1 << 20, (uint64_t)1 << 50, &u, err, errlen))
			return -1;
		cfg->memlimit = u;
		return 0;
	case K_SIZE:
		if (sched_knob_size(name, v, (uint64_t)64 << 20, (uint64_t)1 << 46, &u, err, errlen))
			return -1;
		cfg->maxheap = u;
		return 0;
	case K_BOOL:
		if (sched_knob_int(name, v, 0, !strcmp(k->key, "verify") ? 2 : 1, &i, err, errlen))
			return -1;
		if (!strcmp(k->key, "gctrace"))
			cfg->gctrace = (int)i;
		else if (!strcmp(k->key, "verify"))
			cfg->verify = (int)i;
		else if (!strcmp(k->key, "poison"))
			cfg->poison = (int)i;
		else if (!strcmp(k->key, "rewind"))
			cfg->rewind = (int)i;
		else if (!strcmp(k->key, "fulllist"))
			cfg->fulllist = (int)i;
		else
			cfg->numa = (int)i;
		return 0;
	case K_PERCENT:
		if (sched_knob_int(name, v, 1, 100, &i, err, errlen))
			return -1;
		cfg->bg_percent = (int)i;
		return 0;
	}
	return fail(err, errlen, "%s=\"%s\": unknown knob", name, v);
}

static void defaults(struct gc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	char err[8];
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
		if (apply(cfg, &knobs[i], knobs[i].env, knobs[i].deflt, err, sizeof err))
			gc_fatal("bad default for %s", knobs[i].env);
}

int gc_config_from_env(struct gc_config *cfg, char *err, size_t errlen)
{
	defaults(cfg);
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
		const char *names[] = {knobs[i].env, knobs[i].goenv, NULL};
		const char *which = NULL;
		const char *v = sched_knob_getenv(names, &which);
		if (v && apply(cfg, &knobs[i], which, v, err, errlen))
			return -1;
	}
	return 0;
}

int gc_config_set(struct gc_config *cfg, const char *knob, const char *name, const char *value,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
		if (!strcmp(knobs[i].key, knob))
			return apply(cfg, &knobs[i], name, value, err, errlen);
	return fail(err, errlen, "%s: no collector knob \"%s\"", name, knob);
}

void gc_config_help(FILE *out)
{
	fprintf(out, "Collector knobs (environment; flags override; [key] is gc_config_set's name):\n");
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
		char names[80];
		if (knobs[i].goenv)
			snprintf(names, sizeof names, "%s, %s [%s]", knobs[i].env, knobs[i].goenv, knobs[i].key);
		else
			snprintf(names, sizeof names, "%s [%s]", knobs[i].env, knobs[i].key);
		fprintf(out, "  %-36s %s (default %s)\n", names, knobs[i].doc, knobs[i].deflt);
	}
}
