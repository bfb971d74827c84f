/*
 * knob.h — parsing of the runtime's knobs (TOC_* environment variables and
 * the flags that override them). Every module keeps its knobs in one table;
 * this is the shared parser, so every bad value is reported the same way:
 * naming the variable or flag, the value, and what was expected.
 */
#ifndef SCHED_KNOB_H
#define SCHED_KNOB_H

#include <stddef.h>
#include <stdint.h>

/* Parses a decimal integer in [min, max]. Returns 0, or -1 with a message
 * naming `name` in err. */
int sched_knob_int(const char *name, const char *text, int64_t min, int64_t max,
		   int64_t *out, char *err, size_t errlen);
/* Parses a byte size with an optional suffix (B, K/KiB, M/MiB, G/GiB, T/TiB;
 * powers of 1024) in [min, max]. */
int sched_knob_size(const char *name, const char *text, uint64_t min, uint64_t max,
		    uint64_t *out, char *err, size_t errlen);
/* Looks up the first set variable of names (NULL-terminated, e.g. TOC_GOGC
 * then GOGC); returns its value and stores which name matched in *which. */
const char *sched_knob_getenv(const char *const *names, const char **which);

#endif /* SCHED_KNOB_H */
