/*
 * arena.c — arenas: 64 MiB reservations of heap address space, the map
 * from an address to its arena, and NUMA placement.
 *
 * Lookup of a conservative pointer is two loads: gc_arena_map[p >> 26] (a
 * flat table over the 47-bit address space, reserved MAP_NORESERVE so only
 * the entries in use are ever committed), then the arena's page → span
 * table. Arenas are never unmapped while the heap exists, so a racing
 * lookup never touches unmapped metadata.
 *
 * NUMA (libnuma): with more than one node and TOC_NUMA not 0, arenas are
 * reserved round-robin per node and bound to it (mbind MPOL_PREFERRED before
 * first touch). On one node, when numa_available() < 0, or when mbind is
 * refused (EPERM in containers), arenas are plain mmap: the fallback is
 * reported once with TOC_GCTRACE and never fails the program.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

_Atomic(struct gc_arena *) *gc_arena_map;
static size_t arena_map_bytes;
static int next_node;
static bool mbind_refused;

int gc_arena_init(int numa)
{
	arena_map_bytes = GC_ARENA_MAP_LEN * sizeof(*gc_arena_map);
	void *m = mmap(NULL, arena_map_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	gc_arena_map = m;
	gc_heap.nnodes = 1;
	gc_heap.numa = 0;
	mbind_refused = false;
	next_node = 0;
	if (numa != 0 && numa_available() >= 0) {
		int maxnode = numa_max_node();
		int nodes = 0;
		for (int i = 0; i <= maxnode; i++)
			if (numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)i))
				nodes++;
		if (nodes > 1) {
			gc_heap.numa = 1;
			gc_heap.nnodes = nodes;
		}
	}
	return 0;
}

void gc_arena_fini(void)
{
	struct gc_arena *a = gc_heap.arenas;
	while (a) {
		struct gc_arena *next = a->next;
		munmap((void *)a->base, GC_ARENA_SIZE);
		atomic_store(&gc_arena_map[a->base >> GC_ARENA_SHIFT], NULL);
		free(a);
		a = next;
	}
	gc_heap.arenas = gc_heap.arenas_tail = NULL;
	gc_heap.narenas = 0;
	if (gc_arena_map)
		munmap((void *)gc_arena_map, arena_map_bytes);
	gc_arena_map = NULL;
}

/* The next node in round-robin order, or -1 without NUMA. */
static int pick_node(void)
{
	if (!gc_heap.numa || mbind_refused)
		return -1;
	int maxnode = numa_max_node();
	for (int tries = 0; tries <= maxnode; tries++) {
		int n = next_node;
		next_node = next_node >= maxnode ? 0 : next_node + 1;
		if (numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)n))
			return n;
	}
	return -1;
}

/* Reserves k arenas' bytes aligned to GC_ARENA_SIZE. */
static void *reserve_aligned(size_t k)
{
	size_t want = GC_ARENA_SIZE * k;
	size_t len = want + GC_ARENA_SIZE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t base = ((uintptr_t)p + GC_ARENA_SIZE - 1) & ~(uintptr_t)(GC_ARENA_SIZE - 1);
	if (base > (uintptr_t)p)
		munmap(p, base - (uintptr_t)p);
	uintptr_t end = (uintptr_t)p + len;
	if (end > base + want)
		munmap((void *)(base + want), end - (base + want));
	return (void *)base;
}

/* Sets up the arena over [mem, mem + 64 MiB): all pages free and released. */
static struct gc_arena *arena_new(uintptr_t mem, int node)
{
	struct gc_arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->base = mem;
	a->node = node;
	memset(a->free_pages, 0xff, sizeof a->free_pages);
	memset(a->released, 0xff, sizeof a->released); /* fresh pages read as zero */
	a->nfree = GC_ARENA_PAGES;
	return a;
}

/* Binds [mem, mem+len) to node before first touch; -1 when refused. */
static int place(void *mem, size_t len, int node)
{
	if (node < 0)
		return -1;
	unsigned long mask[16] = {0};
	const unsigned bits = 8 * sizeof(unsigned long);
	if ((unsigned)node >= sizeof mask * 8)
		return -1;
	mask[(unsigned)node / bits] |= 1ul << ((unsigned)node % bits);
	if (mbind(mem, len, MPOL_PREFERRED, mask, sizeof mask * 8, 0) != 0) {
		mbind_refused = true;
		if (gc_st.cfg.gctrace)
			fprintf(stderr, "gc: mbind refused (%s): arenas are not placed per NUMA node\n",
				strerror(errno));
		return -1;
	}
	return node;
}

struct gc_arena *gc_arena_grow_locked(size_t k)
{
	if ((gc_heap.narenas + k) * GC_ARENA_SIZE > gc_heap.maxheap)
		return NULL;
	void *mem = reserve_aligned(k);
	if (!mem)
		return NULL;
	if (((uintptr_t)mem + k * GC_ARENA_SIZE - 1) >> GC_ADDR_BITS) {
		munmap(mem, k * GC_ARENA_SIZE);
		return NULL;
	}
	int node = place(mem, k * GC_ARENA_SIZE, pick_node());
	madvise(mem, k * GC_ARENA_SIZE, MADV_NOHUGEPAGE);
	struct gc_arena *first = NULL;
	struct gc_arena *made[k];
	for (size_t i = 0; i < k; i++) {
		made[i] = arena_new((uintptr_t)mem + i * GC_ARENA_SIZE, node);
		if (!made[i]) {
			for (size_t j = 0; j < i; j++)
				free(made[j]);
			munmap(mem, k * GC_ARENA_SIZE);
			return NULL;
		}
	}
	/* Linked in address order, the first one last, so the list's head is
	 * the lowest arena of the newest reservation. */
	for (size_t i = k; i-- > 0;) {
		struct gc_arena *a = made[i];
		a->next = gc_heap.arenas;
		a->prev = NULL;
		if (gc_heap.arenas)
			gc_heap.arenas->prev = a;
		else
			gc_heap.arenas_tail = a;
		gc_heap.arenas = a;
		gc_heap.narenas++;
		gc_heap.pages_free += GC_ARENA_PAGES;
		gc_heap.pages_released += GC_ARENA_PAGES;
		atomic_store_explicit(&gc_arena_map[a->base >> GC_ARENA_SHIFT], a, memory_order_release);
		first = a;
	}
	return first;
}

static struct gc_arena *arena_of(uintptr_t p)
{
	if (p >> GC_ADDR_BITS)
		return NULL;   /* outside the address space the map covers */
	return atomic_load_explicit(&gc_arena_map[p >> GC_ARENA_SHIFT], memory_order_relaxed);
}

struct gc_arena *gc_arena_of(uintptr_t p)
{
	return arena_of(p);
}

/* Maps every page of s (which may cross arenas, for huge objects) to span. */
static void map_pages(struct gc_span *s, struct gc_span *span)
{
	for (size_t i = 0; i < s->npages; i++) {
		uintptr_t p = s->base + i * GC_PAGE_SIZE;
		struct gc_arena *a = arena_of(p);
		atomic_store_explicit(&a->spans[(p - a->base) >> GC_PAGE_SHIFT], span, memory_order_release);
	}
}

void gc_arena_set_spans(struct gc_span *s)
{
	map_pages(s, s);
}

void gc_arena_clear_spans(struct gc_span *s)
{
	map_pages(s, NULL);
}
