/*
 * test_gc_torture.c — a seeded torture test of the collector (toc/gc.h).
 *
 * Eight goroutines each mutate their own random graph of nodes (four
 * pointer fields, an id, a check word derived from the id) while the
 * collector runs cycle after cycle (GOGC=10: a small heap goal) with the
 * verifier and poison modes on, and one more goroutine forces a cycle every
 * few milliseconds. Each goroutine keeps a shadow model outside the heap:
 * for every node it allocated, the ids its four fields must point to, and
 * for each of its pointer arrays, the ids of the elements. Every
 * VALIDATE_EVERY operations it walks everything reachable from its roots and
 * checks each node against the model: the id is one of its own, the check
 * word matches, every field points to the node the model names, the node is
 * the start of a live heap object, and its first word is not the poison
 * pattern (it was not reclaimed while reachable).
 *
 * The operations, chosen by a seeded generator:
 *   alloc     a node whose fields point to reachable nodes, stored into a
 *             root or into a field of a reachable node
 *   field     overwrite one field of a reachable node (or clear it)
 *   clear     clear a root
 *   garbage   pointer-free bytes, 1..4096 (now and then 40..200 KiB: large
 *             objects); checks that they come zeroed, then scribbles on them
 *   array     a new pointer array (up to 6000 elements: large scan objects
 *             over 32 KiB too) holding some reachable nodes, in an array root
 *   array set overwrite one element of an array
 *   local     a new node held only in a local variable (and the only path to
 *             a subgraph dropped from the roots) across a yield, a sleep or
 *             more allocation; then the node and its subgraph are checked and
 *             stored into a root: the conservative scan of parked and running
 *             goroutine stacks must have kept them
 *   publish   store one of the goroutine's nodes into a shared exchange root
 *   read      load a node another goroutine published and check it (and its
 *             children) by the check word only, across a yield
 *
 * Heap pointers are written only through gc_store. The CMS test runs
 * TOC_TORTURE_SEEDS seeds (default 3; seed i is harness_seed() + i), each
 * with a fresh gc_init / runtime / gc_fini, alternating 4 and 2 workers; the
 * STW test runs one seed with half the operations (its cycles are all
 * pauses that verify the heap). TOC_TORTURE_OPS sets the operations per
 * goroutine (default 20,000); TOC_TORTURE_ONLY=cms or stw runs one test.
 * Each run prints its seed before it starts: TOC_TEST_SEED=<seed>
 * TOC_TORTURE_SEEDS=1 repeats every goroutine's sequence of operations (not
 * the interleaving, which the schedule decides). A watchdog thread aborts a
 * run in which no goroutine finished an operation for STALL_SECONDS.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "toc/gc.h"
#include "harness.h"
#include "gc/src/internal.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define US(x) ((int64_t)(x) * 1000)
#define MS(x) ((int64_t)(x) * 1000000)

#define NWORKERS 8              /* mutating goroutines */
#define NROOTS 64               /* node roots per goroutine */
#define NARRAYS 4               /* array roots per goroutine */
#define NEXCH 16                /* shared exchange roots */
#define VALIDATE_EVERY 200      /* operations between full validations */
#define DEFAULT_OPS 20000       /* operations per goroutine */
#define DEFAULT_SEEDS 3         /* CMS runs */
#define MAX_ARRAY 6000          /* elements: 48,000 bytes, a large object */
#define MIN_CYCLES 5            /* a run must overlap at least this many cycles */
#define STALL_SECONDS 60        /* no operation done for this long: report and abort */
#define ID_SHIFT 40             /* id = (goroutine + 1) << ID_SHIFT | counter */
#define COUNTER_MASK (((uint64_t)1 << ID_SHIFT) - 1)

/* A node of the graph. id and check never change after allocation; f is
 * written only by the owning goroutine, through gc_store. */
struct tnode {
	struct tnode *f[4];     /* edges, to nodes of the same owner */
	uint64_t id;            /* owner and counter */
	uint64_t check;         /* node_hash(id) */
};
GC_TYPE(tnode_type, struct tnode, f[0], f[1], f[2], f[3]);

/* What a node's fields must point to: target ids, 0 for NULL. */
struct shadow_node {
	uint64_t f[4];
};

/* What an array root's elements must point to. */
struct shadow_array {
	size_t n;               /* elements of the array in the root (0: none) */
	uint64_t *ids;          /* expected element ids, 0 for NULL */
};

enum op {
	OP_ALLOC,
	OP_FIELD,
	OP_CLEAR,
	OP_GARBAGE,
	OP_ARRAY,
	OP_ARRAY_SET,
	OP_LOCAL,
	OP_PUBLISH,
	OP_READ,
	OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
	"alloc", "field", "clear", "garbage", "array", "array-set", "local", "publish", "read",
};
/* How often each operation is chosen, out of 1000. */
static const int op_weights[OP_COUNT] = {300, 200, 60, 250, 10, 60, 50, 30, 40};

struct torture;

/* One mutating goroutine's state: malloc'd, outside the heap, so that the
 * only heap references it holds are in its registered root tables. */
struct worker {
	struct torture *t;
	int index;
	uint64_t rng;
	long op;                        /* operations done */
	enum op last_op;                /* for failure reports */
	uint64_t next;                  /* next counter; 1..next-1 are allocated */
	uint64_t cap;                   /* entries of shadow and bits of visited */
	struct shadow_node *shadow;     /* by counter */
	uint64_t *visited;              /* bitmap by counter, for one validation */
	struct tnode **stack;           /* validation DFS stack */
	size_t stack_cap;
	void **roots;                   /* NROOTS registered node roots */
	void **arrays;                  /* NARRAYS registered array roots */
	struct shadow_array arr[NARRAYS];
	bool failed;                    /* stop after the first failure */
	long validations;
	long max_reached;               /* most nodes one validation reached */
	long counts[OP_COUNT];
};

/* One run: a seed and a mode. The exchange table is a registered root. */
struct torture {
	uint64_t seed;
	long ops;
	int nworkers;
	struct worker *workers;
	void *exchange[NEXCH];          /* published nodes, any owner; atomic */
	_Atomic int stop;               /* workers done: the forcing goroutine ends */
	_Atomic long foreign_checked;   /* published nodes read and checked */
	_Atomic long progress;          /* operations done, all goroutines; read by the watchdog */
	struct sched_waitgroup wg;      /* the workers */
	struct sched_waitgroup forcer;  /* the forcing goroutine */
};

static uint64_t node_hash(uint64_t id)
{
	uint64_t z = id * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
	return z ^ (z >> 32);
}

static uint64_t rnd(struct worker *w)
{
	return harness_rand(&w->rng);
}

/* Records a failure with the goroutine, the operation and the seed. */
static bool wfail(struct worker *w, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool wfail(struct worker *w, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	int k = snprintf(msg, sizeof msg, "seed %#" PRIx64 " goroutine %d op %ld (%s): ",
			 w->t->seed, w->index, w->op, op_names[w->last_op]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	w->failed = true;
	return harness_check(false, msg, file, line);
}
#define WCHECK(w, cond, ...) ((cond) ? true : wfail((w), __FILE__, __LINE__, __VA_ARGS__))

/* --- checks ------------------------------------------------------------------ */

/* n must be a live node owned by w. */
static bool check_own(struct worker *w, const struct tnode *n)
{
	/* The second gc_base in the message shows whether the answer changed. */
	if (!WCHECK(w, gc_base(n) == n, "node %p is not a live heap object: gc_base gave another answer "
		    "(now %p)", (void *)n, gc_base(n)))
		return false;
	uint64_t first = *(const uint64_t *)n;
	if (!WCHECK(w, first != GC_POISON_WORD, "node %p holds the poison pattern", (void *)n))
		return false;
	uint64_t c = n->id & COUNTER_MASK;
	if (!WCHECK(w, (n->id >> ID_SHIFT) == (uint64_t)w->index + 1 && c >= 1 && c < w->next,
		    "node %p has id %#" PRIx64 ", not one of goroutine %d's (next %" PRIu64 ")",
		    (void *)n, n->id, w->index, w->next))
		return false;
	return WCHECK(w, n->check == node_hash(n->id), "node %p id %#" PRIx64 ": check %#" PRIx64
		      " should be %#" PRIx64, (void *)n, n->id, n->check, node_hash(n->id));
}

static bool visited(struct worker *w, const struct tnode *n)
{
	uint64_t c = n->id & COUNTER_MASK;
	return (w->visited[c / 64] >> (c % 64)) & 1;
}

static void push(struct worker *w, size_t *sp, struct tnode *n)
{
	uint64_t c = n->id & COUNTER_MASK;
	w->visited[c / 64] |= (uint64_t)1 << (c % 64);
	if (*sp == w->stack_cap) {
		w->stack_cap = w->stack_cap ? w->stack_cap * 2 : 1024;
		w->stack = realloc(w->stack, w->stack_cap * sizeof *w->stack);
		if (!w->stack)
			abort();
	}
	w->stack[(*sp)++] = n;
}

/* An edge: the pointer p found where the model expects id `want`. Pushes
 * the target when it was not reached yet. */
static bool check_edge(struct worker *w, size_t *sp, struct tnode *p, uint64_t want, const void *from,
		       long where)
{
	if (!p)
		return WCHECK(w, want == 0, "%p[%ld] is NULL, should point to id %#" PRIx64, from, where, want);
	if (!WCHECK(w, want != 0, "%p[%ld] points to %p, should be NULL", from, where, (void *)p))
		return false;
	if (!check_own(w, p))
		return false;
	if (!WCHECK(w, p->id == want, "%p[%ld] points to id %#" PRIx64 ", should be %#" PRIx64, from,
		    where, p->id, want))
		return false;
	if (!visited(w, p))
		push(w, sp, p);
	return true;
}

/* Walks from the sp nodes on the stack, checking every node reached. */
static bool walk(struct worker *w, size_t sp, long *reached)
{
	while (sp > 0) {
		struct tnode *n = w->stack[--sp];
		(*reached)++;
		const struct shadow_node *sh = &w->shadow[n->id & COUNTER_MASK];
		for (int k = 0; k < 4; k++)
			if (!check_edge(w, &sp, n->f[k], sh->f[k], n, k))
				return false;
	}
	return true;
}

/* Everything reachable from the goroutine's roots matches the model. */
static bool validate_all(struct worker *w)
{
	memset(w->visited, 0, (w->cap + 63) / 64 * sizeof(uint64_t));
	size_t sp = 0;
	for (int r = 0; r < NROOTS; r++) {
		struct tnode *n = w->roots[r];
		if (n && !visited(w, n)) {
			if (!check_own(w, n))
				return false;
			push(w, &sp, n);
		}
	}
	for (int a = 0; a < NARRAYS; a++) {
		void **arr = w->arrays[a];
		if (!WCHECK(w, (arr != NULL) == (w->arr[a].n != 0), "array root %d is %p, model has %zu elements",
			    a, (void *)arr, w->arr[a].n))
			return false;
		if (!arr)
			continue;
		if (!WCHECK(w, gc_base(arr) == arr && gc_base(arr + w->arr[a].n - 1) == arr,
			    "array %p (%zu elements) is not a live heap object", (void *)arr, w->arr[a].n))
			return false;
		for (size_t i = 0; i < w->arr[a].n; i++)
			if (!check_edge(w, &sp, arr[i], w->arr[a].ids[i], arr, (long)i))
				return false;
	}
	long reached = 0;
	bool ok = walk(w, sp, &reached);
	w->validations++;
	if (reached > w->max_reached)
		w->max_reached = reached;
	return ok;
}

/* The subgraph of one node matches the model. */
static bool validate_from(struct worker *w, struct tnode *n)
{
	memset(w->visited, 0, (w->cap + 63) / 64 * sizeof(uint64_t));
	if (!check_own(w, n))
		return false;
	size_t sp = 0;
	push(w, &sp, n);
	long reached = 0;
	return walk(w, sp, &reached);
}

/* A node another goroutine may own and mutate: only its identity is fixed. */
static bool check_foreign(struct worker *w, const struct tnode *n)
{
	if (!WCHECK(w, gc_base(n) == n, "published node %p is not a live heap object: gc_base gave another "
		    "answer (now %p)", (void *)n, gc_base(n)))
		return false;
	if (!WCHECK(w, *(const uint64_t *)n != GC_POISON_WORD, "published node %p holds the poison pattern",
		    (void *)n))
		return false;
	uint64_t owner = n->id >> ID_SHIFT;
	if (!WCHECK(w, owner >= 1 && owner <= (uint64_t)w->t->nworkers, "published node %p has id %#" PRIx64,
		    (void *)n, n->id))
		return false;
	return WCHECK(w, n->check == node_hash(n->id), "published node %p id %#" PRIx64 ": bad check %#" PRIx64,
		      (void *)n, n->id, n->check);
}

/* --- choosing ------------------------------------------------------------------ */

/* A random node reachable from w's roots, or NULL. */
static struct tnode *pick_node(struct worker *w)
{
	struct tnode *n = NULL;
	for (int tries = 0; tries < 4 && !n; tries++) {
		uint64_t r = rnd(w);
		if (r % 8 == 0) {
			int a = (int)((r >> 3) % NARRAYS);
			void **arr = w->arrays[a];
			if (arr)
				n = arr[(r >> 8) % w->arr[a].n];
		} else {
			n = w->roots[(r >> 3) % NROOTS];
		}
	}
	if (!n)
		return NULL;
	for (int steps = (int)(rnd(w) % 5); steps > 0; steps--) {
		struct tnode *c = n->f[rnd(w) % 4];
		if (c)
			n = c;
	}
	return n;
}

static uint64_t id_of(const struct tnode *n)
{
	return n ? n->id : 0;
}

/* Sets field k of n to v, in the heap and in the model. */
static void set_field(struct worker *w, struct tnode *n, int k, struct tnode *v)
{
	gc_store(n, &n->f[k], v);
	w->shadow[n->id & COUNTER_MASK].f[k] = id_of(v);
}

/* A new node whose fields point to random reachable nodes (some NULL). */
static struct tnode *new_node(struct worker *w)
{
	struct tnode *n = gc_alloc(&tnode_type);
	if (!WCHECK(w, n != NULL, "gc_alloc returned NULL"))
		return NULL;
	if (!WCHECK(w, n->f[0] == NULL && n->f[1] == NULL && n->f[2] == NULL && n->f[3] == NULL &&
			       n->id == 0 && n->check == 0,
		    "fresh node %p is not zeroed", (void *)n))
		return NULL;
	uint64_t c = w->next++;
	n->id = ((uint64_t)(w->index + 1) << ID_SHIFT) | c;
	n->check = node_hash(n->id);
	/* Orders id and check before any store that publishes n (readers of
	 * the exchange pair it with an acquire fence). */
	atomic_thread_fence(memory_order_release);
	memset(&w->shadow[c], 0, sizeof w->shadow[c]);
	for (int k = 0; k < 4; k++)
		if (rnd(w) % 3 != 0)
			set_field(w, n, k, pick_node(w));
	return n;
}

static void set_root(struct worker *w, int r, struct tnode *n)
{
	gc_store(NULL, &w->roots[r], n);
}

/* --- operations --------------------------------------------------------------------- */

static void op_alloc(struct worker *w)
{
	struct tnode *n = new_node(w);
	if (!n)
		return;
	struct tnode *p = rnd(w) % 10 < 3 ? pick_node(w) : NULL;
	if (p)
		set_field(w, p, (int)(rnd(w) % 4), n);
	else
		set_root(w, (int)(rnd(w) % NROOTS), n);
}

static void op_field(struct worker *w)
{
	struct tnode *p = pick_node(w);
	if (p)
		set_field(w, p, (int)(rnd(w) % 4), rnd(w) % 4 == 0 ? NULL : pick_node(w));
}

static void op_clear(struct worker *w)
{
	set_root(w, (int)(rnd(w) % NROOTS), NULL);
}

static void op_garbage(struct worker *w)
{
	uint64_t r = rnd(w);
	size_t n = r % 64 == 0 ? 40960 + (size_t)(r >> 8) % (160 * 1024) : 1 + (size_t)(r >> 8) % 4096;
	unsigned char *b = gc_alloc_bytes(n);
	if (!WCHECK(w, b != NULL, "gc_alloc_bytes(%zu) returned NULL", n))
		return;
	if (!WCHECK(w, b[0] == 0 && b[n - 1] == 0 && b[n / 2] == 0, "fresh %zu bytes at %p are not zeroed", n,
		    (void *)b))
		return;
	memset(b, (int)(r & 0xff) | 1, n < 64 ? n : 64);
	b[n - 1] = 0x5a;
}

static void op_array(struct worker *w)
{
	uint64_t r = rnd(w);
	size_t n;
	switch (r % 10) {
	case 0:
	case 1:
		n = 4097 + (size_t)(r >> 8) % (MAX_ARRAY - 4096); /* over 32 KiB: large */
		break;
	case 2:
	case 3:
	case 4:
		n = 65 + (size_t)(r >> 8) % 4032;
		break;
	default:
		n = 1 + (size_t)(r >> 8) % 64;
		break;
	}
	void **arr = gc_alloc_array(&gc_type_ptr, n);
	if (!WCHECK(w, arr != NULL && arr[0] == NULL && arr[n - 1] == NULL, "fresh array %p of %zu is not zeroed",
		    (void *)arr, n))
		return;
	uint64_t *ids = calloc(n, sizeof *ids);
	if (!ids)
		abort();
	int fill = (int)(rnd(w) % 33);
	for (int i = 0; i < fill; i++) {
		size_t e = rnd(w) % n;
		struct tnode *v = pick_node(w);
		gc_store(arr, &arr[e], v);
		ids[e] = id_of(v);
	}
	int a = (int)(rnd(w) % NARRAYS);
	gc_store(NULL, &w->arrays[a], arr);
	free(w->arr[a].ids);
	w->arr[a].ids = ids;
	w->arr[a].n = n;
}

static void op_array_set(struct worker *w)
{
	int a = (int)(rnd(w) % NARRAYS);
	void **arr = w->arrays[a];
	if (!arr)
		return;
	size_t e = rnd(w) % w->arr[a].n;
	struct tnode *v = rnd(w) % 4 == 0 ? NULL : pick_node(w);
	gc_store(arr, &arr[e], v);
	w->arr[a].ids[e] = id_of(v);
}

/* Allocation that keeps nothing: enough to start and finish cycles. */
static void churn(uint64_t *rng)
{
	for (int i = (int)(harness_rand(rng) % 32); i >= 0; i--) {
		unsigned char *b = gc_alloc_bytes(1 + harness_rand(rng) % 2048);
		b[0] = 1;
		if (harness_rand(rng) % 4 == 0)
			(void)gc_alloc(&tnode_type);
	}
}

static void op_local(struct worker *w)
{
	struct tnode *n = new_node(w);
	if (!n)
		return;
	/* Make n the only path to what one root held. */
	int r = (int)(rnd(w) % NROOTS);
	struct tnode *held = w->roots[r];
	if (held) {
		set_field(w, n, (int)(rnd(w) % 4), held);
		set_root(w, r, NULL);
	}
	held = NULL;
	switch (rnd(w) % 3) {
	case 0:
		sched_gosched();
		break;
	case 1:
		sched_sleep(US(rnd(w) % 300));
		break;
	default:
		churn(&w->rng);
		break;
	}
	if (!validate_from(w, n))
		return;
	set_root(w, (int)(rnd(w) % NROOTS), n);
	gc_keep_alive(n);
}

static void op_publish(struct worker *w)
{
	struct tnode *n = pick_node(w);
	if (n)
		gc_store(NULL, &w->t->exchange[rnd(w) % NEXCH], n);
}

/* What it finds depends on the schedule, so it draws once from the
 * goroutine's generator whatever happens: the goroutine's later choices
 * depend on the seed alone. */
static void op_read(struct worker *w)
{
	uint64_t rng = rnd(w);
	struct tnode *n = __atomic_load_n((struct tnode **)&w->t->exchange[harness_rand(&rng) % NEXCH],
					  __ATOMIC_RELAXED);
	if (!n)
		return;
	atomic_thread_fence(memory_order_acquire);
	if (!check_foreign(w, n))
		return;
	/* Only this stack may hold n now: its owner can drop it meanwhile. */
	if (harness_rand(&rng) % 2)
		sched_gosched();
	else
		churn(&rng);
	if (!check_foreign(w, n))
		return;
	struct tnode *c = __atomic_load_n(&n->f[harness_rand(&rng) % 4], __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_acquire);
	if (c && !check_foreign(w, c))
		return;
	atomic_fetch_add_explicit(&w->t->foreign_checked, 1, memory_order_relaxed);
	gc_keep_alive(n);
}

static void run_op(struct worker *w, enum op op)
{
	w->last_op = op;
	w->counts[op]++;
	switch (op) {
	case OP_ALLOC: op_alloc(w); break;
	case OP_FIELD: op_field(w); break;
	case OP_CLEAR: op_clear(w); break;
	case OP_GARBAGE: op_garbage(w); break;
	case OP_ARRAY: op_array(w); break;
	case OP_ARRAY_SET: op_array_set(w); break;
	case OP_LOCAL: op_local(w); break;
	case OP_PUBLISH: op_publish(w); break;
	case OP_READ: op_read(w); break;
	case OP_COUNT: break;
	}
}

static enum op choose_op(struct worker *w)
{
	int r = (int)(rnd(w) % 1000), sum = 0;
	for (int op = 0; op < OP_COUNT; op++) {
		sum += op_weights[op];
		if (r < sum)
			return (enum op)op;
	}
	return OP_ALLOC;
}

/* --- goroutines ---------------------------------------------------------------------- */

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct torture *t = w->t;
	uint64_t s = t->seed ^ ((uint64_t)(w->index + 1) * 0xd1b54a32d192ed03ull);
	w->rng = harness_rand(&s);
	w->next = 1;
	w->cap = (uint64_t)t->ops + 2;
	w->shadow = calloc(w->cap, sizeof *w->shadow);
	w->visited = calloc((w->cap + 63) / 64, sizeof(uint64_t));
	w->roots = calloc(NROOTS, sizeof(void *));
	w->arrays = calloc(NARRAYS, sizeof(void *));
	if (!w->shadow || !w->visited || !w->roots || !w->arrays)
		abort();
	gc_add_roots(w->roots, NROOTS);
	gc_add_roots(w->arrays, NARRAYS);
	for (w->op = 0; w->op < t->ops && !w->failed; w->op++) {
		run_op(w, choose_op(w));
		atomic_fetch_add_explicit(&t->progress, 1, memory_order_relaxed);
		if (w->op % VALIDATE_EVERY == VALIDATE_EVERY - 1 && !w->failed) {
			validate_all(w);
			if (harness_failures() > 0)
				break; /* another goroutine failed: keep its report on top */
		}
	}
	if (!w->failed)
		validate_all(w);
	gc_remove_roots(w->arrays);
	gc_remove_roots(w->roots);
	for (int a = 0; a < NARRAYS; a++)
		free(w->arr[a].ids);
	free(w->roots);
	free(w->arrays);
	free(w->shadow);
	free(w->visited);
	free(w->stack);
	sched_wg_done(&t->wg);
}

/* Forces a cycle every few milliseconds until the workers are done. */
static void forcer_main(void *arg)
{
	struct torture *t = arg;
	uint64_t s = t->seed ^ 0x6a09e667f3bcc909ull;
	while (!atomic_load(&t->stop)) {
		sched_sleep(MS(1 + harness_rand(&s) % 4));
		gc_collect();
	}
	sched_wg_done(&t->forcer);
}

static void torture_main(void *arg)
{
	struct torture *t = arg;
	gc_add_roots(t->exchange, NEXCH);
	sched_wg_add(&t->forcer, 1);
	if (!TCHECK(sched_go(forcer_main, t) != 0))
		sched_wg_done(&t->forcer);
	sched_wg_add(&t->wg, t->nworkers);
	for (int i = 0; i < t->nworkers; i++)
		if (!TCHECK(sched_go(worker_main, &t->workers[i]) != 0))
			sched_wg_done(&t->wg);
	sched_wg_wait(&t->wg);
	atomic_store(&t->stop, 1);
	sched_wg_wait(&t->forcer);
	gc_remove_roots(t->exchange);
}

/* --- the watchdog -------------------------------------------------------------------------- */

/* A thread outside the runtime: a run whose goroutines stop making progress
 * (a deadlock in the runtime) is reported with each goroutine's position and
 * aborted, rather than left to the CTest timeout. */
struct watchdog {
	struct torture *t;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;                      /* lock: the run returned */
};

static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	long last = -1;
	int still = 0;
	pthread_mutex_lock(&wd->lock);
	while (!wd->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&wd->cond, &wd->lock, &ts);
		long now = atomic_load(&wd->t->progress);
		still = now == last ? still + 1 : 0;
		last = now;
		if (!wd->done && still >= STALL_SECONDS) {
			fprintf(stderr, "torture: seed %#" PRIx64 ": no operation done for %d s (%ld in all):",
				wd->t->seed, STALL_SECONDS, now);
			for (int i = 0; i < wd->t->nworkers; i++) {
				const struct worker *w = &wd->t->workers[i];
				fprintf(stderr, " g%d op %ld (%s)", i, __atomic_load_n(&w->op, __ATOMIC_RELAXED),
					op_names[__atomic_load_n(&w->last_op, __ATOMIC_RELAXED)]);
			}
			fprintf(stderr, "\n");
			abort();
		}
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

/* --- the tests ---------------------------------------------------------------------------- */

/* A positive count from the environment, or def; -1 (and a message) on a bad value. */
static long env_count(const char *name, long def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	long v = strtol(s, &end, 0);
	if (*end || v <= 0) {
		fprintf(stderr, "%s=%s: must be a positive count\n", name, s);
		return -1;
	}
	return v;
}

/* One run: a fresh collector, NWORKERS goroutines doing ops operations each. */
static void run_torture(enum gc_mode mode, uint64_t seed, int procs, long ops)
{
	char err[256];
	struct gc_config cfg;
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&cfg, err, sizeof err), 0);
	cfg.mode = mode;
	cfg.gogc = 10;
	cfg.verify = 1;
	cfg.poison = 1;
	CU_ASSERT_EQUAL_FATAL(gc_init(&cfg), 0);

	struct torture *t = calloc(1, sizeof *t);
	struct worker *ws = calloc(NWORKERS, sizeof *ws);
	CU_ASSERT_FATAL(t && ws);
	t->seed = seed;
	t->ops = ops;
	t->nworkers = NWORKERS;
	t->workers = ws;
	for (int i = 0; i < NWORKERS; i++) {
		ws[i].t = t;
		ws[i].index = i;
	}
	const char *mode_name = mode == GC_MODE_CMS ? "cms" : "stw";
	printf("\n    %s seed %#" PRIx64 " procs %d, %d x %ld ops: ", mode_name, seed, procs, NWORKERS, ops);
	fflush(stdout);
	struct watchdog wd = {.t = t, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	pthread_t wd_thread;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&wd_thread, NULL, watchdog_main, &wd), 0);
	int64_t t0 = sched_nanotime();
	harness_run(procs, torture_main, t);
	double secs = (double)(sched_nanotime() - t0) / 1e9;
	pthread_mutex_lock(&wd.lock);
	wd.done = true;
	pthread_cond_signal(&wd.cond);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd_thread, NULL);
	int failures = harness_failures();
	struct gc_stats st;
	gc_read_stats(&st);
	gc_fini();

	long reached = 0, validations = 0, counts[OP_COUNT] = {0};
	for (int i = 0; i < NWORKERS; i++) {
		reached = ws[i].max_reached > reached ? ws[i].max_reached : reached;
		validations += ws[i].validations;
		for (int op = 0; op < OP_COUNT; op++)
			counts[op] += ws[i].counts[op];
	}
	printf("%.2f s, %" PRIu64 " cycles (%" PRIu64 " forced), %" PRIu64 " large objects, "
	       "%ld validations (up to %ld nodes), %ld foreign reads\n",
	       secs, st.cycles, st.forced_cycles, st.large_allocs, validations, reached,
	       (long)atomic_load(&t->foreign_checked));
	printf("     ");
	for (int op = 0; op < OP_COUNT; op++)
		printf(" %s %ld", op_names[op], counts[op]);
	printf("\n");
	fflush(stdout);
	if (failures)
		fprintf(stderr, "torture: %d failures; repeat with TOC_TEST_SEED=%#" PRIx64 " TOC_TORTURE_SEEDS=1\n",
			failures, seed);
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT(st.cycles >= MIN_CYCLES);
	free(ws);
	free(t);
}

/* TOC_TORTURE_ONLY=cms|stw runs one of the two tests. */
static bool mode_wanted(const char *mode)
{
	const char *only = getenv("TOC_TORTURE_ONLY");
	return !only || !*only || strcmp(only, mode) == 0;
}

static void test_torture_cms(void)
{
	if (!mode_wanted("cms"))
		return;
	long seeds = env_count("TOC_TORTURE_SEEDS", DEFAULT_SEEDS);
	long ops = env_count("TOC_TORTURE_OPS", DEFAULT_OPS);
	CU_ASSERT_FATAL(seeds > 0 && ops > 0);
	for (long i = 0; i < seeds; i++) {
		run_torture(GC_MODE_CMS, harness_seed() + (uint64_t)i, i % 2 == 0 ? 4 : 2, ops);
		if (CU_get_number_of_failures() > 0)
			break;
	}
}

static void test_torture_stw(void)
{
	if (!mode_wanted("stw"))
		return;
	long ops = env_count("TOC_TORTURE_OPS", DEFAULT_OPS);
	CU_ASSERT_FATAL(ops > 0);
	/* Every stw cycle verifies the whole heap inside its pause, and they
	 * come often: half the operations cover as many cycles as cms does. */
	run_torture(GC_MODE_STW, harness_seed(), 2, ops > 1 ? ops / 2 : 1);
}

int main(void)
{
	const struct harness_test tests[] = {
		{"torture_cms", test_torture_cms},
		{"torture_stw", test_torture_stw},
		{NULL, NULL},
	};
	return harness_main("gc_torture", tests);
}
