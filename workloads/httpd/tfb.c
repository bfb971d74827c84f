/*
 * tfb.c — the TechEmpower Framework Benchmarks' test types over an
 * in-memory database in the heap (httpd --suite=tfb; tfb.h).
 *
 * The database (struct tx_tfb_db) hangs from a root slot of the caller:
 * the World table, an array of TFB_WORLD_ROWS + 1 row pointers indexed by
 * id, and the Fortune table, the 12 standard rows. A row object in the
 * World table is never written once it is there; an update allocates a new
 * row object and stores it into the table's slot through the heap's write
 * barrier (with toc's transaction layer: a publication of an object of the
 * request's window), and the old object becomes garbage.
 *
 * What each test type does, as TFB's requirements ask:
 *   /json         a message object made per request, serialized:
 *                 {"message":"Hello, World!"}
 *   /db           one random row, read into a row object of the request:
 *                 {"id":N,"randomNumber":M}
 *   /queries?queries=N   N rows, each read on its own, as a JSON array; N
 *                 clamped to 1 .. 500, 1 when missing or not an integer
 *   /fortunes     the 12 rows read into a list of fortune objects, one
 *                 more added (id 0, "Additional fortune added at request
 *                 time."), sorted by message (bytewise), an HTML table with
 *                 the messages escaped, text/html; charset=utf-8
 *   /updates?queries=N   N random rows, each read and given a new random
 *                 number (never its old one) and written back; the new rows
 *                 as /queries answers them
 * Every response has Server, Date, Content-Type and Content-Length.
 *
 * Concurrency: reads are lock-free (an acquire load of the row's slot: a
 * row object is whole before its slot points to it). Writes take the
 * row's lock, a sched_mutex per row, around reading the row's current
 * number and storing the new row object, so two updates of one row are a
 * read-modify-write each and neither is lost between its read and its
 * write. The new row is allocated before the lock (an allocation may
 * park for the collector), so a holder never waits for anything.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "toc/sync.h"
#include "httpparse.h"
#include "tfb.h"

/* The Fortune table, row id i + 1 at index i (TFB's standard data). */
static const char *const fortune_messages[] = {
	"fortune: No such file or directory",
	"A computer scientist is someone who fixes things that aren't broken.",
	"After enough decimal places, nobody gives a damn.",
	"A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
	"A computer program does what you tell it to do, not what you want it to do.",
	"Emacs is a nice operating system, but I prefer UNIX. \xe2\x80\x94 Tom Christaensen",
	"Any program that runs right is obsolete.",
	"A list is only as strong as its weakest link. \xe2\x80\x94 Donald Knuth",
	"Feature: A bug with seniority.",
	"Computers make very fast, very accurate mistakes.",
	"<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
	"\xe3\x83\x95\xe3\x83\xac\xe3\x83\xbc\xe3\x83\xa0\xe3\x83\xaf\xe3\x83\xbc\xe3\x82\xaf\xe3\x81\xae"
	"\xe3\x83\x99\xe3\x83\xb3\xe3\x83\x81\xe3\x83\x9e\xe3\x83\xbc\xe3\x82\xaf",
};
#define TFB_NFORTUNES (sizeof fortune_messages / sizeof fortune_messages[0])

static const char added_fortune[] = "Additional fortune added at request time.";

/* Set by tfb_db_build; read-only afterwards. */
static const struct txb_heap *heap;

/* One lock per World row, index id (row_locks[0] unused). */
static struct sched_mutex row_locks[TFB_WORLD_ROWS + 1];

/* --- random numbers (splitmix64; go-httpd's tfb.go has the same) ------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in 1 .. n (n < 2^32). */
static int64_t rng_in(uint64_t *s, int64_t n)
{
	return (int64_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32) + 1;
}

uint64_t tfb_rng_seed(uint64_t seed)
{
	return rng_next(&seed);
}

/* --- the database ---------------------------------------------------------------------------------- */

void tfb_db_build(struct tx_tfb_db **root, uint64_t seed)
{
	heap = txb_heap_in_use();
	struct tx_tfb_db *db = heap->alloc(TXB_TFB_DB);
	struct tx_world **world = heap->ptrs(TFB_WORLD_ROWS + 1);
	txb_store_ptr(db, &db->world, world);
	db->nworld = TFB_WORLD_ROWS;
	uint64_t rng = seed;
	for (int64_t id = 1; id <= TFB_WORLD_ROWS; id++) {
		struct tx_world *w = heap->bytes(sizeof *w);
		w->id = id;
		w->random_number = rng_in(&rng, TFB_RANDOM_MAX);
		txb_store_ptr(world, &world[id], w);
	}
	struct tx_fortune **fortunes = heap->ptrs(TFB_NFORTUNES);
	txb_store_ptr(db, &db->fortunes, fortunes);
	db->nfortunes = (int64_t)TFB_NFORTUNES;
	for (size_t i = 0; i < TFB_NFORTUNES; i++) {
		struct tx_fortune *f = heap->alloc(TXB_FORTUNE);
		struct tx_str *m = txb_str_new(fortune_messages[i], strlen(fortune_messages[i]));
		txb_store_ptr(f, &f->message, m);
		f->id = (int64_t)i + 1;
		txb_store_ptr(fortunes, &fortunes[i], f);
	}
	txb_store_ptr(NULL, root, db);
}

/* Row id read into a row object of the request (the query and the ORM's
 * object). Allocated first: no old row is held across the allocation. */
static struct tx_world *world_read(struct tx_tfb_db *db, int64_t id)
{
	struct tx_world *w = heap->bytes(sizeof *w);
	const struct tx_world *row = __atomic_load_n(&db->world[id], __ATOMIC_ACQUIRE);
	*w = *row;
	return w;
}

/* Row id replaced by a row with a new random number, returned. */
static struct tx_world *world_update(struct tx_tfb_db *db, int64_t id, uint64_t *rng)
{
	struct tx_world *w = heap->bytes(sizeof *w);
	int64_t step = rng_in(rng, TFB_RANDOM_MAX - 1);   /* 1 .. 9999: never the old number */
	sched_mutex_lock(&row_locks[id]);
	const struct tx_world *row = __atomic_load_n(&db->world[id], __ATOMIC_ACQUIRE);
	w->id = id;
	w->random_number = (row->random_number - 1 + step) % TFB_RANDOM_MAX + 1;
	txb_store_ptr(db->world, &db->world[id], w);
	sched_mutex_unlock(&row_locks[id]);
	return w;
}

/* --- rendering ------------------------------------------------------------------------------------- */

static void sb_world(struct tx_sb *sb, const struct tx_world *w)
{
	txb_sb_puts(sb, "{\"id\":");
	txb_sb_int(sb, w->id);
	txb_sb_puts(sb, ",\"randomNumber\":");
	txb_sb_int(sb, w->random_number);
	txb_sb_put(sb, "}", 1);
}

static void sb_world_list(struct tx_sb *sb, struct tx_world *const *list, int64_t n)
{
	txb_sb_put(sb, "[", 1);
	for (int64_t i = 0; i < n; i++) {
		if (i)
			txb_sb_put(sb, ",", 1);
		sb_world(sb, list[i]);
	}
	txb_sb_put(sb, "]", 1);
}

/* s as a JSON string: quotes, backslashes and control bytes escaped. */
static void sb_json_str(struct tx_sb *sb, const struct tx_str *s)
{
	static const char hex[] = "0123456789abcdef";
	txb_sb_put(sb, "\"", 1);
	uint64_t from = 0;
	for (uint64_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->b[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		txb_sb_put(sb, s->b + from, i - from);
		char e[6] = {'\\', (char)c, 0, 0, 0, 0};
		size_t en = 2;
		if (c < 0x20) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			en = 6;
		}
		txb_sb_put(sb, e, en);
		from = i + 1;
	}
	txb_sb_put(sb, s->b + from, s->len - from);
	txb_sb_put(sb, "\"", 1);
}

/* s as HTML text: & < > " ' as Go's html.EscapeString writes them. */
static void sb_html(struct tx_sb *sb, const struct tx_str *s)
{
	uint64_t from = 0;
	for (uint64_t i = 0; i < s->len; i++) {
		const char *e;
		switch (s->b[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&#34;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		txb_sb_put(sb, s->b + from, i - from);
		txb_sb_puts(sb, e);
		from = i + 1;
	}
	txb_sb_put(sb, s->b + from, s->len - from);
}

/* --- the test types -------------------------------------------------------------------------------- */

/* The queries parameter of a query string (q, n bytes, after the '?'):
 * 1 .. TFB_MAX_QUERIES; 1 when missing, empty, not an integer or below 1. */
static int64_t queries_param(const char *q, size_t n)
{
	const char *p = q, *end = q + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		if (amp - p >= 8 && memcmp(p, "queries=", 8) == 0) {
			const char *d = p + 8;
			bool neg = d < amp && *d == '-';
			if (d < amp && (*d == '-' || *d == '+'))
				d++;
			if (d == amp)
				return 1;
			int64_t v = 0;
			for (; d < amp; d++) {
				if (*d < '0' || *d > '9')
					return 1;
				if (v <= TFB_MAX_QUERIES)   /* saturates: any longer number is too large */
					v = v * 10 + (*d - '0');
			}
			return neg || v < 1 ? 1 : v > TFB_MAX_QUERIES ? TFB_MAX_QUERIES : v;
		}
		p = amp + 1;
	}
	return 1;
}

/* A test type: fills body, the query string given (q, n bytes). */
typedef void tfb_test_fn(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body);

static void test_json(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body)
{
	(void)db, (void)q, (void)n, (void)rng;
	static const char hello[] = "Hello, World!";
	struct tx_str *message = txb_str_new(hello, sizeof hello - 1);
	txb_sb_puts(body, "{\"message\":");
	sb_json_str(body, message);
	txb_sb_put(body, "}", 1);
}

static void test_db(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body)
{
	(void)q, (void)n;
	sb_world(body, world_read(db, rng_in(rng, TFB_WORLD_ROWS)));
}

static void test_queries(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body)
{
	int64_t count = queries_param(q, n);
	struct tx_world **list = heap->ptrs((size_t)count);
	for (int64_t i = 0; i < count; i++) {
		struct tx_world *w = world_read(db, rng_in(rng, TFB_WORLD_ROWS));
		txb_store_ptr(list, &list[i], w);
	}
	sb_world_list(body, list, count);
}

static void test_updates(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body)
{
	int64_t count = queries_param(q, n);
	struct tx_world **list = heap->ptrs((size_t)count);
	for (int64_t i = 0; i < count; i++) {
		struct tx_world *w = world_update(db, rng_in(rng, TFB_WORLD_ROWS), rng);
		txb_store_ptr(list, &list[i], w);
	}
	sb_world_list(body, list, count);
}

static bool message_less(const struct tx_str *a, const struct tx_str *b)
{
	int c = memcmp(a->b, b->b, a->len < b->len ? a->len : b->len);
	return c < 0 || (c == 0 && a->len < b->len);
}

static void test_fortunes(struct tx_tfb_db *db, const char *q, size_t n, uint64_t *rng, struct tx_sb *body)
{
	(void)q, (void)n, (void)rng;
	/* The one query: every row, copied into fortune objects of the request. */
	int64_t rows = db->nfortunes;
	struct tx_fortune **list = heap->ptrs((size_t)rows + 1);
	for (int64_t i = 0; i < rows; i++) {
		struct tx_fortune *f = heap->alloc(TXB_FORTUNE);
		const struct tx_fortune *row = db->fortunes[i];
		f->id = row->id;
		txb_store_ptr(f, &f->message, row->message);
		txb_store_ptr(list, &list[i], f);
	}
	struct tx_fortune *added = heap->alloc(TXB_FORTUNE);
	struct tx_str *m = txb_str_new(added_fortune, sizeof added_fortune - 1);
	txb_store_ptr(added, &added->message, m);
	txb_store_ptr(list, &list[rows], added);
	/* Insertion sort, every move through the barrier (13 rows). */
	for (int64_t i = 1; i <= rows; i++) {
		struct tx_fortune *x = list[i];
		int64_t j = i;
		for (; j > 0 && message_less(x->message, list[j - 1]->message); j--)
			txb_store_ptr(list, &list[j], list[j - 1]);
		txb_store_ptr(list, &list[j], x);
	}
	txb_sb_puts(body, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
			  "<tr><th>id</th><th>message</th></tr>");
	for (int64_t i = 0; i <= rows; i++) {
		txb_sb_puts(body, "<tr><td>");
		txb_sb_int(body, list[i]->id);
		txb_sb_puts(body, "</td><td>");
		sb_html(body, list[i]->message);
		txb_sb_puts(body, "</td></tr>");
	}
	txb_sb_puts(body, "</table></body></html>");
}

static const struct {
	const char *path;
	tfb_test_fn *fn;
	const char *content_type;
} routes[] = {
	{"/json", test_json, "application/json"},
	{"/db", test_db, "application/json"},
	{"/queries", test_queries, "application/json"},
	{"/fortunes", test_fortunes, "text/html; charset=utf-8"},
	{"/updates", test_updates, "application/json"},
};

void tfb_respond(struct tx_tfb_db *db, const char *method, size_t method_len, const char *target,
		 size_t target_len, const char *date, uint64_t *rng, struct tx_sb *out)
{
	const char *qm = memchr(target, '?', target_len);
	size_t path_len = qm ? (size_t)(qm - target) : target_len;
	const char *q = qm ? qm + 1 : target + target_len;
	size_t qn = (size_t)(target + target_len - q);
	struct tx_sb body;
	txb_sb_init(&body, 256);
	int status = 404;
	const char *type = "text/plain; charset=utf-8";
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strlen(routes[i].path) != path_len || memcmp(routes[i].path, target, path_len) != 0)
			continue;
		if (method_len != 3 || memcmp(method, "GET", 3) != 0) {
			status = 405;
			break;
		}
		status = 200;
		type = routes[i].content_type;
		routes[i].fn(db, q, qn, rng, &body);
		break;
	}
	if (status != 200) {
		txb_sb_puts(&body, http_reason(status));
		txb_sb_put(&body, "\n", 1);
	}
	char head[256];
	int hn = snprintf(head, sizeof head,
			  "HTTP/1.1 %d %s\r\nServer: " TFB_SERVER "\r\nDate: %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %llu\r\n%s\r\n",
			  status, http_reason(status), date, type, (unsigned long long)body.len,
			  status == 405 ? "Allow: GET\r\n" : "");
	txb_sb_init(out, (uint64_t)hn + body.len);
	txb_sb_put(out, head, (size_t)hn);
	txb_sb_put(out, body.b, body.len);
}
