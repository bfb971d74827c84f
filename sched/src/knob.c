/*
 * knob.c — the knob parser and the scheduler's knob table.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"
#include "toc/knob.h"

static int knob_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int knob_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int sched_knob_int(const char *name, const char *text, int64_t min, int64_t max,
		   int64_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (text[0] == '\0' || *end != '\0' || errno == ERANGE)
		return knob_error(err, errlen, "%s=\"%s\": not an integer", name, text);
	if (v < min || v > max)
		return knob_error(err, errlen, "%s=%lld: must be between %" PRId64 " and %" PRId64,
				  name, v, min, max);
	*out = v;
	return 0;
}

int sched_knob_size(const char *name, const char *text, uint64_t min, uint64_t max,
		    uint64_t *out, char *err, size_t errlen)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20}, {"mb", 20},
		{"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40}, {"tb", 40}, {"tib", 40},
	};
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)text[0]))
		return knob_error(err, errlen, "%s=\"%s\": not a size (e.g. 512K, 64MiB, 2G)", name, text);
	unsigned long long v = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return knob_error(err, errlen, "%s=\"%s\": too large", name, text);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return knob_error(err, errlen, "%s=\"%s\": too large", name, text);
		uint64_t bytes = (uint64_t)v << units[i].shift;
		if (bytes < min || bytes > max)
			return knob_error(err, errlen,
					  "%s=%s: must be between %" PRIu64 " and %" PRIu64 " bytes",
					  name, text, min, max);
		*out = bytes;
		return 0;
	}
	return knob_error(err, errlen, "%s=\"%s\": unknown unit \"%s\" (use K, M, G or T)", name, text,
			  end);
}

const char *sched_knob_getenv(const char *const *names, const char **which)
{
	for (; *names; names++) {
		const char *v = getenv(*names);
		if (v) {
			if (which)
				*which = *names;
			return v;
		}
	}
	return NULL;
}

/* The scheduler's knobs. Bounds live here, in one place: the table below
 * parses the environment and prints --help. */
#define SCHED_MIN_STACK (16u * 1024u)
#define SCHED_MAX_STACK (64u * 1024u * 1024u)
#define SCHED_MIN_GOROUTINES 16u
#define SCHED_MAX_GOROUTINES ((size_t)64 << 20)
#define SCHED_MAX_CHAOS_US 1000000
#define SCHED_MAX_STOPTRACE_US 10000000

enum knob_kind {
	KNOB_INT,      /* an int field */
	KNOB_COUNT,    /* a size_t field, written as an integer */
	KNOB_SIZE,     /* a size_t field, written as a byte size */
	KNOB_SWITCH,   /* an int field: 1 is SCHED_ON, 0 SCHED_OFF */
};

static const struct sched_knob {
	const char *names[3];   /* the variables, the first set one wins */
	enum knob_kind kind;
	size_t field;           /* offset in struct sched_config */
	int64_t min, max;
	const char *deflt, *doc;
} knobs[] = {
	{{"TOC_PROCS", "GOMAXPROCS"}, KNOB_INT, offsetof(struct sched_config, procs), 1, SCHED_MAX_PROCS,
	 "CPUs online", "worker threads running goroutines"},
	{{"TOC_STACK_SIZE"}, KNOB_SIZE, offsetof(struct sched_config, stack_size), SCHED_MIN_STACK, SCHED_MAX_STACK,
	 "256K", "usable bytes per goroutine stack (K/M/G suffixes)"},
	{{"TOC_MAX_GOROUTINES"}, KNOB_COUNT, offsetof(struct sched_config, max_goroutines), SCHED_MIN_GOROUTINES,
	 (int64_t)SCHED_MAX_GOROUTINES, "2097152", "stack slots reserved"},
	{{"TOC_ASYNCPREEMPT"}, KNOB_SWITCH, offsetof(struct sched_config, async_preempt), 0, 1, "1",
	 "0: no preemption signals; a goroutine that does not poll holds up stops, stack visits and "
	 "ragged barriers"},
	{{"TOC_PREEMPT_CHAOS"}, KNOB_INT, offsetof(struct sched_config, preempt_chaos_us), 0, SCHED_MAX_CHAOS_US,
	 "0", "tests: signal a random worker every this many microseconds on average"},
	{{"TOC_STOPTRACE"}, KNOB_INT, offsetof(struct sched_config, stoptrace_us), 0, SCHED_MAX_STOPTRACE_US,
	 "0", "a stop-the-world waiting longer than this many microseconds for a worker says on stderr why "
	 "(the OS did not run it, or where it ran); 0: off"},
};

int sched_config_from_env(struct sched_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
		const struct sched_knob *kb = &knobs[k];
		const char *which, *v = sched_knob_getenv(kb->names, &which);
		if (!v)
			continue;
		int64_t i;
		uint64_t u;
		char *field = (char *)cfg + kb->field;
		switch (kb->kind) {
		case KNOB_SIZE:
			if (sched_knob_size(which, v, (uint64_t)kb->min, (uint64_t)kb->max, &u, err, errlen))
				return -1;
			*(size_t *)field = (size_t)u;
			break;
		case KNOB_COUNT:
		case KNOB_INT:
		case KNOB_SWITCH:
			if (sched_knob_int(which, v, kb->min, kb->max, &i, err, errlen))
				return -1;
			if (kb->kind == KNOB_COUNT)
				*(size_t *)field = (size_t)i;
			else if (kb->kind == KNOB_SWITCH)
				*(int *)field = i ? SCHED_ON : SCHED_OFF;
			else
				*(int *)field = (int)i;
			break;
		}
	}
	return 0;
}

void sched_config_help(FILE *out)
{
	fprintf(out, "Scheduler knobs (environment; a program's flags override):\n");
	for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
		char names[80];
		if (knobs[k].names[1])
			snprintf(names, sizeof names, "%s, %s", knobs[k].names[0], knobs[k].names[1]);
		else
			snprintf(names, sizeof names, "%s", knobs[k].names[0]);
		fprintf(out, "  %-36s %s (default %s)\n", names, knobs[k].doc, knobs[k].deflt);
	}
}

int sched_config_check(const struct sched_config *cfg, char *err, size_t errlen)
{
	if (cfg->procs < 0 || cfg->procs > SCHED_MAX_PROCS)
		return knob_error(err, errlen, "procs (TOC_PROCS, --procs) = %d: must be between 1 and %d",
				  cfg->procs, SCHED_MAX_PROCS);
	if (cfg->stack_size &&
	    (cfg->stack_size < SCHED_MIN_STACK || cfg->stack_size > SCHED_MAX_STACK))
		return knob_error(err, errlen,
				  "stack size (TOC_STACK_SIZE) = %zu: must be between %u and %u bytes",
				  cfg->stack_size, SCHED_MIN_STACK, SCHED_MAX_STACK);
	if (cfg->max_goroutines &&
	    (cfg->max_goroutines < SCHED_MIN_GOROUTINES || cfg->max_goroutines > SCHED_MAX_GOROUTINES))
		return knob_error(err, errlen,
				  "max goroutines (TOC_MAX_GOROUTINES) = %zu: must be between %u and %zu",
				  cfg->max_goroutines, SCHED_MIN_GOROUTINES, SCHED_MAX_GOROUTINES);
	if (cfg->async_preempt != 0 && cfg->async_preempt != SCHED_ON && cfg->async_preempt != SCHED_OFF)
		return knob_error(err, errlen, "async preemption (TOC_ASYNCPREEMPT) = %d: must be SCHED_ON or SCHED_OFF",
				  cfg->async_preempt);
	if (cfg->preempt_chaos_us < 0 || cfg->preempt_chaos_us > SCHED_MAX_CHAOS_US)
		return knob_error(err, errlen, "preemption chaos (TOC_PREEMPT_CHAOS) = %d us: must be between 0 and %d",
				  cfg->preempt_chaos_us, SCHED_MAX_CHAOS_US);
	if (cfg->stoptrace_us < 0 || cfg->stoptrace_us > SCHED_MAX_STOPTRACE_US)
		return knob_error(err, errlen, "stop trace (TOC_STOPTRACE) = %d us: must be between 0 and %d",
				  cfg->stoptrace_us, SCHED_MAX_STOPTRACE_US);
	return 0;
}
