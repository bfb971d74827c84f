/*
 * toc.h — the transaction-oriented layer: goroutine-owned windows,
 * publication, rewind (docs/toc-algorithm.md).
 *
 * With TOC_MODE=toc every goroutine that allocates owns a window: small
 * objects (classes up to 2 KiB) come from spans carved out of one address
 * region reserved for it. The write barrier (gc_store) publishes an object,
 * and every unpublished object it reaches, when a pointer to it is stored
 * into a published object or a root; channel sends, goroutine arguments and
 * finalizers publish what they hand over. When the goroutine exits, or at
 * toc_end(), the window's unpublished objects are dead: their slots are
 * reused at once, without tracing.
 *
 * Cycles: windows live through the collector's cycles. A goroutine
 * allocates in its window whether or not a mark runs, and its end rewinds
 * everything unpublished, before, during and after a cycle alike. Only a
 * window whose goroutine stayed parked through a whole cycle is given up
 * (the collector takes its region, counted in forfeits); the goroutine's
 * next allocation opens a new one.
 *
 *   for (;;) {                       // a connection loop
 *           toc_run(handle, request);  // allocates, publishes what it keeps
 *   }
 *
 * Rules beyond gc.h's: obj in gc_store must be the start of its object; a
 * goroutine must not hand a pointer to its stack to another goroutine (the
 * other could read window objects through it unpublished); memory handed
 * over by means the runtime does not see must go through toc_publish.
 *
 * The stale-frame rule: toc_end publishes what any live frame of its caller
 * points to, and a frame's unused slots may still hold what a deeper call
 * left there. Code that calls toc_begin/toc_end itself must do the
 * transaction's work in a function of its own that has returned before
 * toc_end (or what a dead local pointed to is published at every end);
 * toc_run does exactly that.
 * In the other modes these calls do nothing (toc_publish, toc_begin,
 * toc_end) and the statistics stay zero.
 */
#ifndef TOC_TOC_H
#define TOC_TOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "toc/gc.h"

/* A window boundary inside a long-lived goroutine. toc_end scans the
 * goroutine's own live stack and registers conservatively, publishes the
 * window objects they point to, and rewinds the rest. toc_begin does the
 * same for whatever was allocated since the last boundary. */
void toc_begin(void);
void toc_end(void);

/* One transaction: toc_begin, fn(arg) in a frame of its own, toc_end. What
 * fn publishes survives; the rest of what it allocated is rewound. arg was
 * allocated before the transaction began (or is not a heap pointer). */
void toc_run(void (*fn)(void *arg), void *arg);

/* Publishes the object containing p, and its unpublished closure, for any
 * hand-over the barrier and the hooks do not see. */
void toc_publish(const void *p);

/* Is the layer on (TOC_MODE=toc in the running runtime)? */
bool toc_enabled(void);

/* Statistics, one X-macro list, per-worker counters merged on read. */
#define TOC_STATS(X)                                                           \
	X(windows, "windows closed (goroutine exits, toc_begin and toc_end)")  \
	X(rewinds, "windows rewound")                                          \
	X(regions_recycled, "regions taken back from the full list for a window once a cycle swept them") \
	X(regions_full_retired, "regions the full list, at its bound, handed to the shared caches") \
	X(forfeits, "windows given up: the collector claimed the region while its owner was parked through a whole cycle") \
	X(mark_windows, "windows rewound that a mark phase overlapped (opened before or during a mark, closed during or after it)") \
	X(mark_reclaimed_bytes, "bytes those windows' rewinds reclaimed")     \
	X(local_bytes, "bytes allocated in windows (reclaimed + published + forfeited)") \
	X(local_objects, "objects allocated in windows")                       \
	X(reclaimed_bytes, "window bytes reclaimed by rewind")                 \
	X(reclaimed_objects, "window objects reclaimed by rewind")             \
	X(unrewound, "windows closed without a rewind (TOC_REWIND=0): their regions handed to the collector") \
	X(forfeited_bytes, "unpublished window bytes left to the collector by claimed regions and unrewound windows") \
	X(published_bytes, "window bytes published")                           \
	X(published_objects, "window objects published")                       \
	X(pub_store, "objects published by stores into published objects or roots") \
	X(pub_send, "objects published by channel sends")                      \
	X(pub_spawn, "objects published as goroutine arguments")               \
	X(pub_stack, "objects published by toc_end's scan of its own stack")   \
	X(pub_api, "objects published by toc_publish and finalizers")          \
	X(publish_walks, "publish walks that published something")             \
	X(walked_objects, "objects visited by publish walks")                  \
	X(large_objects, "local large objects allocated (objects over 2 KiB, in pages of the region)") \
	X(slow_stores, "stores that took the barrier's slow path with the layer on") \
	X(shared_bytes, "large-object bytes a full region sent to the shared caches") \
	X(spills, "times a window's region ran out of room for a small class, which the shared caches then served until its next rewind or sweep") \
	X(marking_bytes, "small-object bytes allocated from the shared caches during a mark because there was no window (no goroutine)") \
	X(regions_made, "regions reserved")                                    \
	X(regions_retired, "rewound regions handed to the collector because no pool had room") \
	X(retired_empty_bytes, "bytes of empty spans those regions gave back to the page heap") \
	X(regions_claimed, "regions the sweeper claimed after a flip: owner parked through the whole cycle, or outlived") \
	X(regions_outlived, "claimed regions whose window was open through the whole cycle with a class out of room, its goroutine running or parked (its goroutine goes windowless)") \
	X(regions_swept, "regions swept in place after a flip by their owner's worker") \
	X(regions_swept_bg, "regions swept in place after a flip by the sweeper (owner parked, or idle in a pool)") \
	X(regions_full, "regions put in the full list at a window's end, half full of published objects") \
	X(stack_suspects, "TOC_GCVERIFY: words of other goroutines' stacks pointing to unpublished window objects") \
	X(owned_bytes, "bytes of spans carved in live regions (gauge)")        \
	X(owned_bytes_max, "largest owned_bytes seen")                         \
	X(reserved_bytes, "bytes of live regions, carved or not (gauge)")      \
	X(windows_open, "windows holding a region now (gauge)")                \
	X(windows_open_max, "largest windows_open seen")
struct toc_stats {
#define TOC_STAT_FIELD(name, doc) uint64_t name;
	TOC_STATS(TOC_STAT_FIELD)
#undef TOC_STAT_FIELD
};
void toc_read_stats(struct toc_stats *out);
/* d = after - before for the counters; the gauges (owned_bytes, reserved_bytes,
 * windows_open and their maxima) are after's. For figures over a timed part. */
void toc_stats_since(struct toc_stats *d, const struct toc_stats *after, const struct toc_stats *before);
/* Writes the statistics as JSON members "toc_NAME": value, separated by
 * ", ", with no leading or trailing comma and no braces: first the derived
 * fractions of window bytes toc_reclaimed_fraction, toc_published_fraction
 * and toc_forfeit_fraction, then every TOC_STATS counter. */
void toc_stats_json(FILE *out, const struct toc_stats *st);

#endif /* TOC_TOC_H */
