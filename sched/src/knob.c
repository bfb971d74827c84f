/*
 * knob.c — the knob parser and the scheduler's knob table.
 */
#include <ctype.h>
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

/* The scheduler's knobs. Bounds live here, in one place. */
#define SCHED_MIN_STACK (16u * 1024u)
#define SCHED_MAX_STACK (64u * 1024u * 1024u)
#define SCHED_MIN_GOROUTINES 16u
#define SCHED_MAX_GOROUTINES ((size_t)64 << 20)

int sched_config_from_env(struct sched_config *cfg, char *err, size_t errlen)
{
	static const char *const procs_names[] = {"TOC_PROCS", "GOMAXPROCS", NULL};
	static const char *const stack_names[] = {"TOC_STACK_SIZE", NULL};
	static const char *const maxg_names[] = {"TOC_MAX_GOROUTINES", NULL};
	const char *which, *v;
	int64_t i;
	uint64_t u;

	memset(cfg, 0, sizeof *cfg);
	if ((v = sched_knob_getenv(procs_names, &which))) {
		if (sched_knob_int(which, v, 1, SCHED_MAX_PROCS, &i, err, errlen))
			return -1;
		cfg->procs = (int)i;
	}
	if ((v = sched_knob_getenv(stack_names, &which))) {
		if (sched_knob_size(which, v, SCHED_MIN_STACK, SCHED_MAX_STACK, &u, err, errlen))
			return -1;
		cfg->stack_size = u;
	}
	if ((v = sched_knob_getenv(maxg_names, &which))) {
		if (sched_knob_int(which, v, SCHED_MIN_GOROUTINES, (int64_t)SCHED_MAX_GOROUTINES, &i,
				   err, errlen))
			return -1;
		cfg->max_goroutines = (size_t)i;
	}
	return 0;
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
	return 0;
}
