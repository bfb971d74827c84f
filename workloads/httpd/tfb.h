/*
 * tfb.h — the TechEmpower Framework Benchmarks' test types as a handler
 * (httpd --suite=tfb): /json, /db, /queries?queries=N, /fortunes and
 * /updates?queries=N over an in-memory database that lives in the heap
 * (struct tx_tfb_db, txbench_heap.h): the World table of TFB_WORLD_ROWS
 * rows and the Fortune table of the 12 standard fortunes.
 *
 * The handler allocates through the heap txb_use_heap selected, as
 * txbench's does: the rows a request reads are copied into row objects of
 * its own (an ORM's objects), its lists and its response are heap objects,
 * and an update publishes its new row objects into the World table. Call
 * from goroutines of toc's runtime (an update takes a row's sched_mutex).
 */
#ifndef TFB_H
#define TFB_H

#include <stddef.h>
#include <stdint.h>

#include "txbench_heap.h"

#define TFB_WORLD_ROWS 10000   /* ids 1 .. 10000 */
#define TFB_RANDOM_MAX 10000   /* randomNumber 1 .. 10000 */
#define TFB_MAX_QUERIES 500    /* queries=N is clamped to 1 .. 500 */
#define TFB_SERVER "httpd"     /* the Server header */

/* Builds the database at *root (a root slot); the World table's numbers
 * are a function of seed. */
void tfb_db_build(struct tx_tfb_db **root, uint64_t seed);

/* The whole HTTP response to a request for target (len bytes: path and
 * query) with method, into *out (heap memory of the request). date is the
 * Date header's value; *rng the caller's random state (one per
 * connection). GET only: other methods 405, other paths 404. */
void tfb_respond(struct tx_tfb_db *db, const char *method, size_t method_len, const char *target,
		 size_t target_len, const char *date, uint64_t *rng, struct tx_sb *out);

/* A random state from a seed (splitmix64's mix, so nearby seeds differ). */
uint64_t tfb_rng_seed(uint64_t seed);

#endif /* TFB_H */
