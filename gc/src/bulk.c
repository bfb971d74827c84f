/*
 * bulk.c — barriered operations on arrays of heap pointers: copy (with
 * memmove's overlap rule) and sort.
 *
 * Every element goes through gc_store, so the hybrid barrier shades what a
 * mark must see and the transaction layer publishes what a published array
 * receives. The sort orders a private copy (which may take safepoints: the
 * array still holds every element meanwhile) and writes the result back in
 * one loop without a safepoint, so no stop can find an element only in the
 * private copy, which no collector scans.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BULK_POLL 4096   /* elements between polls of a long copy */

void gc_copy_ptrs(void *dst_obj, void **dst, void *const *src, size_t n)
{
	if (dst == (void **)src || n == 0)
		return;
	if (dst < (void **)src) {
		for (size_t i = 0; i < n; i++) {
			gc_store(dst_obj, &dst[i], src[i]);
			if ((i + 1) % BULK_POLL == 0)
				sched_poll();
		}
	} else {
		for (size_t i = n; i-- > 0;) {
			gc_store(dst_obj, &dst[i], src[i]);
			if (i % BULK_POLL == 0)
				sched_poll();
		}
	}
}

int gc_sort_ptrs(void *obj, void **base, size_t n, int (*cmp)(const void *, const void *))
{
	if (n < 2)
		return 0;
	void **tmp = malloc(n * sizeof *tmp);
	if (!tmp) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(tmp, base, n * sizeof *tmp);
	qsort(tmp, n, sizeof *tmp, cmp);
	/* No safepoint from here to the end of the loop. */
	for (size_t i = 0; i < n; i++)
		if (base[i] != tmp[i])
			gc_store(obj, &base[i], tmp[i]);
	free(tmp);
	return 0;
}
