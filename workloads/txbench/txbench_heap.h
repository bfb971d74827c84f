/*
 * txbench_heap.h — the heap interface txbench's handler runs on, the
 * handler's data, and the handler's entry points.
 *
 * The handler (txbench_handler.c) is compiled once. It reaches its heap only
 * through the struct txb_heap its backend selects before the first request
 * (txb_use_heap), as gcbench's workload does through struct gcb_heap and as
 * whippet's benchmarks are written once against one allocation and barrier
 * API that several collectors implement:
 *
 *   txbench_gc.c      toc's collector (modes toc, cms, stw): typed objects,
 *                     stores through the write barrier
 *   txbench_boehm.c   bdwgc: scanned and atomic objects, plain stores
 *   txbench_arena.c   a bump arena per request: plain stores; what a
 *                     request publishes (a put's record, a churn entry) is
 *                     copied out to malloc'd memory
 *
 * An allocation is a call through a pointer (every backend's allocator was a
 * call already). A pointer store is no call: the heap says whether it has a
 * write barrier, and the handler runs toc's gc_store (its fast path inline)
 * or a plain store. docs/log/2026-12-txbench-heap.md gives the cost of this
 * in instructions per request, mode by mode, against the handler compiled
 * into each backend as it was before.
 *
 * Like txbench.h, this header includes neither toc's headers nor bdwgc's.
 */
#ifndef TXBENCH_HEAP_H
#define TXBENCH_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "txbench.h"

/* --- the handler's data ---------------------------------------------------------------------- */

/* A string: len bytes and a NUL, pointer-free (txb_heap.bytes). */
struct tx_str {
	uint64_t len;
	char b[];
};

struct tx_kv {
	struct tx_str *k;
	struct tx_str *v;
	struct tx_kv *next;
	uint64_t hash;
};

struct tx_map {
	struct tx_kv **b;             /* nb chains */
	uint64_t nb, n;
};

/* A JSON value (kind: txbench_handler.c's JV_*). */
struct tx_jv {
	struct tx_str *s;             /* a string */
	struct tx_jv **items;         /* an array's or object's n values */
	struct tx_str **keys;         /* an object's n keys */
	int64_t num;                  /* a number, a boolean */
	uint32_t kind, n;
};

struct tx_req {
	struct tx_str *raw, *method, *path, *key;
	struct tx_map *query, *headers;
	struct tx_jv *body;
};

struct tx_rec {
	struct tx_str *key, *name, *email, *profile;
	struct tx_str **tags;         /* ntags */
	int64_t id, ntags;
};

/* A growing byte buffer; lives on the stack, its b in the heap. */
struct tx_sb {
	char *b;                      /* pointer-free, cap bytes */
	uint64_t len, cap;
};

/* One link of a churn entry (--churn-kb): what a request publishes into the
 * churn ring is a chain of these, each with TXB_BLOB_DATA bytes copied from
 * the request. */
struct tx_blob {
	struct tx_blob *next;         /* the chain's next link; NULL: the last */
	struct tx_str *data;          /* TXB_BLOB_DATA bytes */
	uint64_t check;               /* a hash of data's first and last 16 bytes; the first
	                                 link's is tested when the entry is evicted: a slot reused
	                                 under a published entry would show there */
};
/* A link's data: its string is 256 bytes (header, bytes, NUL), the link
 * 24 more; TXB_BLOB_BYTES is what a link counts for --churn-kb. */
#define TXB_BLOB_DATA 247
#define TXB_BLOB_BYTES (sizeof(struct tx_blob) + sizeof(struct tx_str) + TXB_BLOB_DATA + 1)

/* --publish-bytes-pct: a request publishes an entry of pct / (100 - pct)
 * times its own allocation, which the handler estimates from the request
 * as BASE + PER_ITEM x its body's items (+ PER_PUT for a put), bytes. The
 * constants are toc's window bytes per request (toc_local_bytes over
 * transactions) at --items 2, 4 and 16 and --publish-pct 0 and 50, fitted
 * by hand; the estimate depends on the request alone, so the entry (and
 * the checksum) is the same in every mode and in go-txbench. */
#define TXB_PUBSHARE_BASE 4096
#define TXB_PUBSHARE_PER_ITEM 736
#define TXB_PUBSHARE_PER_PUT 1400

/* The shared store: an open-addressing hash map over the records' keys,
 * and the churn ring. The ring is a bounded cache: each request with
 * --churn-kb publishes an entry of churn_blobs links into the slot after
 * the last one taken (ring_next, taken by fetch-and-add, so concurrent
 * requests take different slots until the ring wraps), and the entry it
 * replaces, ring_slots requests old, becomes garbage. */
struct tx_store {
	struct tx_rec **slots;        /* nslots, a power of two; NULL: empty */
	uint64_t nslots, nkeys;
	struct tx_blob **ring;        /* ring_slots churn entries; NULL: empty, or no ring */
	uint64_t ring_slots;          /* 0: --churn-kb=0, no ring */
	uint64_t churn_blobs;         /* links per entry (0: sized per request, --publish-bytes-pct) */
	uint64_t pubshare_pct;        /* --publish-bytes-pct (0: none) */
	_Atomic uint64_t ring_next;   /* entries published so far: the next slot, mod ring_slots */
};

/* --- the TechEmpower suite's data (httpd's --suite=tfb, httpd/tfb.c) --------------------------- */

/* A row of the World table, pointer-free (txb_heap.bytes). A row object in
 * the table is never written again: an update publishes a new one. */
struct tx_world {
	int64_t id;                   /* 1 .. TFB_WORLD_ROWS */
	int64_t random_number;        /* 1 .. 10000 */
};

/* A row of the Fortune table. */
struct tx_fortune {
	struct tx_str *message;
	int64_t id;
};

/* The suite's database, the live heap of its server. */
struct tx_tfb_db {
	struct tx_world **world;      /* nworld + 1 slots: world[id], world[0] NULL */
	struct tx_fortune **fortunes; /* nfortunes rows, in id order */
	int64_t nworld, nfortunes;
};

/* The structs with pointer fields the handlers allocate, one kind each: a
 * backend maps a kind to its descriptor (toc's struct gc_type) or to its
 * size (txb_kind_size). */
enum txb_kind { TXB_KV, TXB_MAP, TXB_JV, TXB_REQ, TXB_REC, TXB_STORE, TXB_BLOB, TXB_FORTUNE, TXB_TFB_DB,
	       TXB_NKINDS };
extern const size_t txb_kind_size[TXB_NKINDS];

/* --- the interface -------------------------------------------------------------------------- */

/* One backend's heap. The allocators never return NULL (out of memory is
 * fatal in the backend). */
struct txb_heap {
	/* A zeroed struct of kind k. */
	void *(*alloc)(enum txb_kind k);
	/* n zeroed pointer slots (n may be 0). */
	void *(*ptrs)(size_t n);
	/* n pointer-free bytes, contents undefined (the caller fills them). */
	void *(*bytes)(size_t n);
	/* Pointer stores go through toc's gc_store (toc/gc.h), and a put
	 * replaces its store slot (a churn entry its ring slot) with one;
	 * else stores are plain and the slot is swapped atomically. */
	bool barrier;
	/* What to put in a shared slot for p, an object of kind k the running
	 * request allocated (TXB_REC: a record; TXB_BLOB: a churn entry's
	 * chain) (NULL: p itself). The arena copies it, and what it reaches,
	 * out of the request's memory. */
	void *(*publish)(enum txb_kind k, void *p);
	/* p, of kind k, left its shared slot (NULL: nothing to do). The arena
	 * frees it once no running request can still read it. */
	void (*retire)(enum txb_kind k, void *p);
};

/* Selects the heap for every later call, before the store is built. */
void txb_use_heap(const struct txb_heap *h);

/* --- the handler (txbench_handler.c) ------------------------------------------------------- */

/* Builds the store of o->nkeys records at *root (a root slot), and its
 * churn ring when o->churn_kb or o->publish_bytes_pct is set. */
void txb_store_build(const struct txb_options *o, struct tx_store **root);

/* Handles one request (len bytes at text): the whole HTTP response in *out
 * (heap memory of the request). */
void txb_respond(struct tx_store *st, const char *text, size_t len, struct tx_sb *out);

/* Handles one request; returns its response's hash (the "write" to a sink). */
uint64_t txb_handle(struct tx_store *st, const char *text, size_t len);

/* --- what other handlers on the same heap share (txbench_handler.c) -------------------------- */

/* The heap txb_use_heap selected. */
const struct txb_heap *txb_heap_in_use(void);
/* *slot = val, slot a pointer field of obj (NULL: a root), through the
 * heap's write barrier where it has one. */
void txb_store_ptr(void *obj, void *slot, void *val);
/* A heap string of n bytes at p. */
struct tx_str *txb_str_new(const char *p, size_t n);
/* The response builder: a buffer of cap bytes to start, appends that grow
 * it by doubling into a fresh buffer (the old one is garbage). */
void txb_sb_init(struct tx_sb *sb, uint64_t cap);
void txb_sb_put(struct tx_sb *sb, const char *p, size_t n);
void txb_sb_puts(struct tx_sb *sb, const char *s);
void txb_sb_int(struct tx_sb *sb, int64_t v);

#endif /* TXBENCH_HEAP_H */
