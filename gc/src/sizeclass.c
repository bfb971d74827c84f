/*
 * sizeclass.c — the size-class table, computed at start-up.
 *
 * The shape of Go's table: sizes step by 8 up to 32 bytes,
 * by 16 up to 128, then by an eighth of the power of two below (so rounding
 * wastes at most 12.5% of an object), by 256 from 2 KiB, up to 32 KiB. Each
 * class gets the fewest pages whose tail (bytes that fit no object) is at
 * most an eighth of the span. Two neighbouring sizes that would use the
 * same pages and hold the same number of objects are one class: the larger
 * size. The result has about 68 classes.
 *
 * Division by the object size uses a reciprocal: for offsets within a span
 * (under 2^20 bytes here), (offset * divmul) >> 32 == offset / size with
 * divmul = 2^32 / size rounded up (tests check every offset).
 */
#include <string.h>

#include "internal.h"

struct gc_sizeclass gc_classes[GC_MAX_CLASSES];
int gc_nclasses;
uint8_t gc_size_to_class8[GC_MAX_SMALL / 8 + 1];

static bool power_of_two(uint32_t x)
{
	return (x & (x - 1)) == 0;
}

void gc_sizeclass_init(void)
{
	if (gc_nclasses)
		return;
	int n = 1; /* class 0: large */
	memset(gc_classes, 0, sizeof gc_classes);
	uint32_t align = 8;
	for (uint32_t size = align; size <= GC_MAX_SMALL; size += align) {
		if (power_of_two(size)) {
			if (size >= 2048)
				align = 256;
			else if (size >= 128)
				align = size / 8;
			else if (size >= 32)
				align = 16;
		}
		uint32_t bytes = GC_PAGE_SIZE;
		while (bytes % size > bytes / 8)
			bytes += GC_PAGE_SIZE;
		uint32_t npages = bytes / GC_PAGE_SIZE;
		if (n > 1 && npages == gc_classes[n - 1].npages &&
		    bytes / size == bytes / gc_classes[n - 1].size) {
			gc_classes[n - 1].size = size;
			continue;
		}
		if (n == GC_MAX_CLASSES)
			gc_fatal("size classes: more than %d", GC_MAX_CLASSES);
		gc_classes[n].size = size;
		gc_classes[n].npages = npages;
		n++;
	}
	for (int c = 1; c < n; c++) {
		struct gc_sizeclass *k = &gc_classes[c];
		k->nelems = (uint32_t)(k->npages * GC_PAGE_SIZE / k->size);
		k->divmul = (uint32_t)((((uint64_t)1 << 32) + k->size - 1) / k->size);
	}
	/* The lookup table: for each multiple of 8, the smallest class that fits. */
	int c = 1;
	for (uint32_t i = 0; i <= GC_MAX_SMALL / 8; i++) {
		uint32_t size = i * 8;
		while (gc_classes[c].size < size)
			c++;
		gc_size_to_class8[i] = (uint8_t)c;
	}
	gc_nclasses = n;
}
