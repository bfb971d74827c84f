/*
 * txbench_handler.c — the request handler every txbench mode runs, compiled
 * once over the heap its backend selects (txbench_heap.h).
 *
 * What a request does, as a web service would, allocating as it goes:
 *   1. copy the request bytes into a heap buffer ("read from the socket");
 *   2. parse the request line, the query string into a map and the headers
 *      into a map (lower-cased names);
 *   3. parse the JSON body into a tree of values;
 *   4. find the record the path names in the shared store (an open-addressing
 *      hash map over string keys) and, for a put, build a new record from
 *      the body and replace the old one (a publication);
 *   5. with --churn-kb, build an entry of that many KiB (a chain of links,
 *      each a copy of part of the request) and publish it into the
 *      store's churn ring, a bounded cache whose oldest entry it evicts;
 *      with --publish-bytes-pct, an entry sized so that it is that share
 *      of what the request allocates, entry included;
 *   6. with --downstream, wait for a backend's answer, parked
 *      (txbench_downstream.c), everything above still live;
 *   7. build a JSON response, an intermediate string per item and a
 *      growing buffer, frame it as an HTTP/1.1 response, and "write" it:
 *      the response's FNV-1a hash is the request's checksum.
 * Everything but the store's records and the ring's entries dies with the
 * request; an entry dies when it is evicted, so garbage reaches the
 * collector at a set rate however the requests end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toc/gc.h"
#include "txbench_heap.h"

const size_t txb_kind_size[TXB_NKINDS] = {
	[TXB_KV] = sizeof(struct tx_kv),   [TXB_MAP] = sizeof(struct tx_map), [TXB_JV] = sizeof(struct tx_jv),
	[TXB_REQ] = sizeof(struct tx_req), [TXB_REC] = sizeof(struct tx_rec), [TXB_STORE] = sizeof(struct tx_store),
	[TXB_BLOB] = sizeof(struct tx_blob),
	[TXB_FORTUNE] = sizeof(struct tx_fortune), [TXB_TFB_DB] = sizeof(struct tx_tfb_db),
};

/* Set by txb_use_heap before any request runs; read-only afterwards. */
static const struct txb_heap *heap;
static bool barrier;                  /* heap->barrier, kept in its own word */

void txb_use_heap(const struct txb_heap *h)
{
	heap = h;
	barrier = h->barrier;
}

/* *slot = val, slot a pointer field of obj (obj NULL: a root): through
 * toc's write barrier where the heap has one (its fast path inline, as a
 * handler compiled for toc alone would have it), else a plain store. The
 * test is on a flag fixed before the first request, so it predicts
 * perfectly. */
static inline void store_ptr(void *obj, void *slot, void *val)
{
	if (barrier)
		gc_store(obj, slot, val);
	else
		*(void **)slot = val;
}

/* What the running request puts in a shared slot for p, an object of kind
 * k it allocated: p, or the heap's copy of it. */
static void *publish_copy(enum txb_kind k, void *p)
{
	return heap->publish ? heap->publish(k, p) : p;
}

/* Puts val into *slot, a slot of the shared array arr: through the barrier,
 * which publishes val and what it reaches, or else swapped in atomically.
 * Returns what the slot held. */
static void *shared_replace(void *arr, void *slot, void *val)
{
	if (!barrier)
		return __atomic_exchange_n((void **)slot, val, __ATOMIC_SEQ_CST);
	void *old = __atomic_load_n((void **)slot, __ATOMIC_ACQUIRE);
	gc_store(arr, slot, val);
	return old;
}

enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

/* --- strings and maps -------------------------------------------------------------------------- */

static struct tx_str *str_new(const char *p, size_t n)
{
	struct tx_str *s = heap->bytes(sizeof(struct tx_str) + n + 1);
	s->len = n;
	memcpy(s->b, p, n);
	s->b[n] = 0;
	return s;
}

static bool str_eq(const struct tx_str *s, const char *p, size_t n)
{
	return s && s->len == n && memcmp(s->b, p, n) == 0;
}

static struct tx_map *map_new(uint64_t nb)
{
	struct tx_map *m = heap->alloc(TXB_MAP);
	struct tx_kv **b = heap->ptrs(nb);
	store_ptr(m, &m->b, b);
	m->nb = nb;
	return m;
}

static void map_put(struct tx_map *m, struct tx_str *k, struct tx_str *v)
{
	struct tx_kv *kv = heap->alloc(TXB_KV);
	uint64_t h = txb_fnv(TXB_FNV_INIT, k->b, k->len);
	store_ptr(kv, &kv->k, k);
	store_ptr(kv, &kv->v, v);
	kv->hash = h;
	uint64_t i = h & (m->nb - 1);
	store_ptr(kv, &kv->next, m->b[i]);
	store_ptr(m->b, &m->b[i], kv);
	m->n++;
}

static struct tx_str *map_get(const struct tx_map *m, const char *k)
{
	size_t n = strlen(k);
	uint64_t h = txb_fnv(TXB_FNV_INIT, k, n);
	for (struct tx_kv *kv = m->b[h & (m->nb - 1)]; kv; kv = kv->next)
		if (kv->hash == h && str_eq(kv->k, k, n))
			return kv->v;
	return NULL;
}

/* --- the response builder ---------------------------------------------------------------------- */

static void sb_init(struct tx_sb *sb, uint64_t cap)
{
	sb->b = heap->bytes(cap);
	sb->len = 0;
	sb->cap = cap;
}

/* Grows by doubling into a fresh buffer, as a slice append does. sb lives
 * on the stack, so its pointer field needs no barrier. */
static void sb_put(struct tx_sb *sb, const char *p, size_t n)
{
	if (sb->len + n > sb->cap) {
		uint64_t cap = sb->cap * 2;
		while (cap < sb->len + n)
			cap *= 2;
		char *b = heap->bytes(cap);
		memcpy(b, sb->b, sb->len);
		sb->b = b;
		sb->cap = cap;
	}
	memcpy(sb->b + sb->len, p, n);
	sb->len += n;
}

static void sb_puts(struct tx_sb *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

static void sb_str(struct tx_sb *sb, const struct tx_str *s)
{
	sb_put(sb, "\"", 1);
	if (s)
		sb_put(sb, s->b, s->len);
	sb_put(sb, "\"", 1);
}

static void sb_int(struct tx_sb *sb, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%lld", (long long)v);
	sb_put(sb, t, (size_t)n);
}

/* --- JSON ------------------------------------------------------------------------------------- */

struct jp {
	const char *p, *end;
	bool bad;
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static struct tx_str *jp_string(struct jp *j)
{
	if (j->p >= j->end || *j->p != '"') {
		j->bad = true;
		return NULL;
	}
	const char *s = ++j->p;
	while (j->p < j->end && *j->p != '"')
		j->p += *j->p == '\\' ? 2 : 1;
	if (j->p >= j->end) {
		j->bad = true;
		return NULL;
	}
	struct tx_str *r = str_new(s, (size_t)(j->p - s));
	j->p++;
	return r;
}

static struct tx_jv *jp_value(struct jp *j, int depth);

/* The values (and keys, for an object) of a container, into arrays that
 * grow by doubling. */
static struct tx_jv *jp_container(struct jp *j, int depth, bool obj)
{
	struct tx_jv *v = heap->alloc(TXB_JV);
	v->kind = obj ? JV_OBJ : JV_ARR;
	uint32_t cap = 4, n = 0;
	struct tx_jv **items = heap->ptrs(cap);
	struct tx_str **keys = obj ? heap->ptrs(cap) : NULL;
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		goto done;
	}
	for (;;) {
		struct tx_str *k = NULL;
		if (obj) {
			jp_ws(j);
			k = jp_string(j);
			jp_ws(j);
			if (j->bad || j->p >= j->end || *j->p != ':') {
				j->bad = true;
				return v;
			}
			j->p++;
		}
		struct tx_jv *x = jp_value(j, depth + 1);
		if (j->bad)
			return v;
		if (n == cap) {
			cap *= 2;
			struct tx_jv **ni = heap->ptrs(cap);
			for (uint32_t i = 0; i < n; i++)
				store_ptr(ni, &ni[i], items[i]);
			items = ni;
			if (obj) {
				struct tx_str **nk = heap->ptrs(cap);
				for (uint32_t i = 0; i < n; i++)
					store_ptr(nk, &nk[i], keys[i]);
				keys = nk;
			}
		}
		store_ptr(items, &items[n], x);
		if (obj)
			store_ptr(keys, &keys[n], k);
		n++;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			break;
		}
		j->bad = true;
		return v;
	}
done:
	store_ptr(v, &v->items, items);
	if (obj)
		store_ptr(v, &v->keys, keys);
	v->n = n;
	return v;
}

static struct tx_jv *jp_value(struct jp *j, int depth)
{
	jp_ws(j);
	if (j->p >= j->end || depth > 32) {
		j->bad = true;
		return NULL;
	}
	char c = *j->p;
	if (c == '{' || c == '[')
		return jp_container(j, depth, c == '{');
	struct tx_jv *v = heap->alloc(TXB_JV);
	if (c == '"') {
		v->kind = JV_STR;
		struct tx_str *s = jp_string(j);
		store_ptr(v, &v->s, s);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		v->kind = JV_NUM;
		bool neg = c == '-';
		if (neg)
			j->p++;
		int64_t x = 0;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			x = x * 10 + (*j->p++ - '0');
		v->num = neg ? -x : x;
	} else if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
		v->kind = JV_BOOL;
		v->num = 1;
		j->p += 4;
	} else if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
		v->kind = JV_BOOL;
		j->p += 5;
	} else if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
		j->p += 4;
	} else {
		j->bad = true;
	}
	return v;
}

static struct tx_jv *jv_get(const struct tx_jv *o, const char *k)
{
	if (!o || o->kind != JV_OBJ)
		return NULL;
	size_t n = strlen(k);
	for (uint32_t i = 0; i < o->n; i++)
		if (str_eq(o->keys[i], k, n))
			return o->items[i];
	return NULL;
}

static int64_t jv_num(const struct tx_jv *v)
{
	return v && v->kind == JV_NUM ? v->num : 0;
}

static struct tx_str *jv_str(const struct tx_jv *v)
{
	return v && v->kind == JV_STR ? v->s : NULL;
}

/* --- the shared store ----------------------------------------------------------------------------- */

static void ring_build(struct tx_store *st, const struct txb_options *o);

static struct tx_rec *rec_make(uint64_t key)
{
	struct txb_recgen g;
	txb_record_gen(key, &g);
	char k[24];
	int kn = snprintf(k, sizeof k, "k%llu", (unsigned long long)key);
	struct tx_rec *r = heap->alloc(TXB_REC);
	struct tx_str *s = str_new(k, (size_t)kn);
	store_ptr(r, &r->key, s);
	s = str_new(g.name, strlen(g.name));
	store_ptr(r, &r->name, s);
	s = str_new(g.email, strlen(g.email));
	store_ptr(r, &r->email, s);
	s = str_new(g.profile, (size_t)g.profile_len);
	store_ptr(r, &r->profile, s);
	struct tx_str **tags = heap->ptrs((size_t)g.ntags);
	for (int i = 0; i < g.ntags; i++) {
		s = str_new(g.tags[i], strlen(g.tags[i]));
		store_ptr(tags, &tags[i], s);
	}
	store_ptr(r, &r->tags, tags);
	r->ntags = g.ntags;
	r->id = (int64_t)key;
	return r;
}

void txb_store_build(const struct txb_options *o, struct tx_store **root)
{
	struct tx_store *st = heap->alloc(TXB_STORE);
	store_ptr(NULL, root, st);
	uint64_t ns = 1;
	while (ns < o->nkeys * 2)
		ns *= 2;
	struct tx_rec **slots = heap->ptrs(ns);
	store_ptr(st, &st->slots, slots);
	st->nslots = ns;
	st->nkeys = o->nkeys;
	for (uint64_t k = 0; k < o->nkeys; k++) {
		struct tx_rec *r = rec_make(k);
		uint64_t i = txb_fnv(TXB_FNV_INIT, r->key->b, r->key->len) & (ns - 1);
		while (slots[i])
			i = (i + 1) & (ns - 1);
		store_ptr(slots, &slots[i], r);
		if ((k + 1) % 1000000 == 0)
			bench_progress("store: %llu of %llu records", (unsigned long long)(k + 1),
				       (unsigned long long)o->nkeys);
	}
	if (o->churn_kb || o->publish_bytes_pct)
		ring_build(st, o);
}

/* The slot holding key's record, or -1. */
static int64_t store_find(const struct tx_store *st, const struct tx_str *key)
{
	uint64_t i = txb_fnv(TXB_FNV_INIT, key->b, key->len) & (st->nslots - 1);
	for (uint64_t probes = 0; probes < st->nslots; probes++) {
		struct tx_rec *r = __atomic_load_n(&st->slots[i], __ATOMIC_ACQUIRE);
		if (!r)
			return -1;
		if (str_eq(r->key, key->b, key->len))
			return (int64_t)i;
		i = (i + 1) & (st->nslots - 1);
	}
	return -1;
}

/* A record built from a put's "record" object. */
static struct tx_rec *rec_from_json(const struct tx_jv *j, struct tx_str *key, int64_t id)
{
	struct tx_rec *r = heap->alloc(TXB_REC);
	store_ptr(r, &r->key, key);
	struct tx_str *s = jv_str(jv_get(j, "name"));
	store_ptr(r, &r->name, s);
	s = jv_str(jv_get(j, "email"));
	store_ptr(r, &r->email, s);
	s = jv_str(jv_get(j, "profile"));
	store_ptr(r, &r->profile, s);
	struct tx_jv *t = jv_get(j, "tags");
	uint32_t n = t && t->kind == JV_ARR ? t->n : 0;
	struct tx_str **tags = heap->ptrs(n ? n : 1);
	for (uint32_t i = 0; i < n; i++) {
		s = jv_str(t->items[i]);
		store_ptr(tags, &tags[i], s);
	}
	store_ptr(r, &r->tags, tags);
	r->ntags = n;
	r->id = id;
	return r;
}

/* --- the churn ring ---------------------------------------------------------------------------------- */

/* The links of the entry a request publishes with --publish-bytes-pct=pct:
 * its own allocation estimated from its body's items and whether it is a put
 * (x100, put_pct the share of puts, for a typical request), times pct /
 * (100 - pct), rounded to whole links. */
static uint64_t pubshare_blobs(uint64_t pct, uint64_t nitems, uint64_t put_pct)
{
	uint64_t own = 100 * (TXB_PUBSHARE_BASE + TXB_PUBSHARE_PER_ITEM * nitems) + TXB_PUBSHARE_PER_PUT * put_pct;
	return (own * pct / (100 - pct) + 50 * TXB_BLOB_BYTES) / (100 * TXB_BLOB_BYTES);
}

/* The ring holds as many entries as churn_mb MiB do, at least one: entries of
 * churn_kb KiB (links of TXB_BLOB_BYTES, rounded up), or with
 * --publish-bytes-pct the entry of a request with the mean items and
 * puts. */
static void ring_build(struct tx_store *st, const struct txb_options *o)
{
	uint64_t entry;
	if (o->churn_kb) {
		st->churn_blobs = ((uint64_t)o->churn_kb * 1024 + TXB_BLOB_BYTES - 1) / TXB_BLOB_BYTES;
		entry = st->churn_blobs;
	} else {
		st->pubshare_pct = (uint64_t)o->publish_bytes_pct;
		entry = pubshare_blobs(st->pubshare_pct, (uint64_t)o->items, (uint64_t)o->publish_pct);
	}
	st->ring_slots = (uint64_t)o->churn_mb * 1048576 / ((entry ? entry : 1) * TXB_BLOB_BYTES);
	if (!st->ring_slots)
		st->ring_slots = 1;
	struct tx_blob **ring = heap->ptrs(st->ring_slots);
	store_ptr(st, &st->ring, ring);
}

static uint64_t blob_check(const struct tx_str *d)
{
	return txb_fnv(txb_fnv(TXB_FNV_INIT, d->b, 16), d->b + d->len - 16, 16);
}

/* A churn entry: nblobs links, link i holding TXB_BLOB_DATA bytes of raw
 * from offset 977 i (mod its length), wrapping to its start; *sum gets the
 * sum of the links' checks. */
static struct tx_blob *churn_entry(uint64_t nblobs, const struct tx_str *raw, uint64_t *sum)
{
	struct tx_blob *head = NULL;
	*sum = 0;
	for (uint64_t i = 0; i < nblobs; i++) {
		struct tx_str *d = heap->bytes(sizeof *d + TXB_BLOB_DATA + 1);
		d->len = TXB_BLOB_DATA;
		size_t off = (size_t)(i * 977 % raw->len);
		for (size_t n = 0; n < TXB_BLOB_DATA;) {
			size_t k = raw->len - off < TXB_BLOB_DATA - n ? raw->len - off : TXB_BLOB_DATA - n;
			memcpy(d->b + n, raw->b + off, k);
			n += k;
			off = 0;
		}
		d->b[TXB_BLOB_DATA] = 0;
		struct tx_blob *b = heap->alloc(TXB_BLOB);
		store_ptr(b, &b->data, d);
		store_ptr(b, &b->next, head);
		b->check = blob_check(d);
		*sum += b->check;
		head = b;
	}
	return head;
}

/* Publishes a churn entry of nblobs links built from raw into the ring's
 * next slot and checks the first link of the entry it evicts; returns the
 * sum of the new entry's checks. */
static uint64_t churn_publish(struct tx_store *st, const struct tx_str *raw, uint64_t nblobs)
{
	uint64_t sum;
	struct tx_blob *e = publish_copy(TXB_BLOB, churn_entry(nblobs, raw, &sum));
	uint64_t i = atomic_fetch_add_explicit(&st->ring_next, 1, memory_order_relaxed) % st->ring_slots;
	struct tx_blob *old = shared_replace(st->ring, &st->ring[i], e);
	if (old && old->check != blob_check(old->data))
		bench_fatal(1, "churn ring: the entry evicted from slot %llu changed while it was published",
			    (unsigned long long)i);
	if (old && heap->retire)
		heap->retire(TXB_BLOB, old);
	return sum;
}

/* --- the handler ------------------------------------------------------------------------------------ */

/* Parses "a=1&b=2" into m. */
static void parse_query(struct tx_map *m, const char *p, const char *end)
{
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		if (eq) {
			struct tx_str *k = str_new(p, (size_t)(eq - p));
			struct tx_str *v = str_new(eq + 1, (size_t)(amp - eq - 1));
			map_put(m, k, v);
		}
		p = amp + 1;
	}
}

/* Parses the request in raw; false if it is malformed. */
static bool parse_request(struct tx_req *q)
{
	const char *p = q->raw->b, *end = p + q->raw->len;
	const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol)
		return false;
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2)
		return false;
	struct tx_str *s = str_new(p, (size_t)(sp1 - p));
	store_ptr(q, &q->method, s);
	const char *target = sp1 + 1, *qm = memchr(target, '?', (size_t)(sp2 - target));
	const char *path_end = qm ? qm : sp2;
	s = str_new(target, (size_t)(path_end - target));
	store_ptr(q, &q->path, s);
	struct tx_map *m = map_new(8);
	store_ptr(q, &q->query, m);
	if (qm)
		parse_query(m, qm + 1, sp2);
	static const char prefix[] = "/api/items/";
	if (q->path->len <= sizeof prefix - 1 || memcmp(q->path->b, prefix, sizeof prefix - 1) != 0)
		return false;
	s = str_new(q->path->b + sizeof prefix - 1, q->path->len - (sizeof prefix - 1));
	store_ptr(q, &q->key, s);

	m = map_new(16);
	store_ptr(q, &q->headers, m);
	p = eol + 2;
	for (;;) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return false;
		if (eol == p)
			break;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return false;
		struct tx_str *k = str_new(p, (size_t)(colon - p));
		for (uint64_t i = 0; i < k->len; i++)
			if (k->b[i] >= 'A' && k->b[i] <= 'Z')
				k->b[i] = (char)(k->b[i] + 32);
		const char *v = colon + 1;
		while (v < eol && *v == ' ')
			v++;
		struct tx_str *val = str_new(v, (size_t)(eol - v));
		map_put(m, k, val);
		p = eol + 2;
	}
	p += 2;
	struct tx_str *cl = map_get(m, "content-length");
	long long n = cl ? atoll(cl->b) : 0;
	if (n < 0 || n > end - p)
		return false;
	struct jp j = {p, p + n, false};
	struct tx_jv *body = jp_value(&j, 0);
	store_ptr(q, &q->body, body);
	return !j.bad;
}

static void sb_rec(struct tx_sb *sb, const struct tx_rec *r)
{
	sb_puts(sb, "{\"id\":");
	sb_int(sb, r->id);
	sb_puts(sb, ",\"name\":");
	sb_str(sb, r->name);
	sb_puts(sb, ",\"email\":");
	sb_str(sb, r->email);
	sb_puts(sb, ",\"tags\":[");
	for (int64_t i = 0; i < r->ntags; i++) {
		if (i)
			sb_put(sb, ",", 1);
		sb_str(sb, r->tags[i]);
	}
	sb_puts(sb, "],\"profile_len\":");
	sb_int(sb, r->profile ? (int64_t)r->profile->len : 0);
	sb_puts(sb, ",\"profile_sum\":");
	uint64_t sum = 0;
	for (uint64_t i = 0; r->profile && i < r->profile->len; i++)
		sum += (unsigned char)r->profile->b[i];
	sb_int(sb, (int64_t)sum);
	sb_put(sb, "}", 1);
}

void txb_respond(struct tx_store *st, const char *text, size_t len, struct tx_sb *out)
{
	struct tx_req *q = heap->alloc(TXB_REQ);
	struct tx_str *raw = str_new(text, len);
	store_ptr(q, &q->raw, raw);
	struct tx_sb sb;
	sb_init(&sb, 256);
	int status = 200;
	if (!parse_request(q)) {
		status = 400;
		sb_puts(&sb, "{\"status\":400}");
		goto respond;
	}
	int64_t slot = store_find(st, q->key);
	struct tx_str *op = jv_str(jv_get(q->body, "op"));
	struct tx_rec *rec = slot >= 0 ? __atomic_load_n(&st->slots[slot], __ATOMIC_ACQUIRE) : NULL;
	if (rec && str_eq(op, "put", 3)) {
		struct tx_rec *nr = publish_copy(TXB_REC, rec_from_json(jv_get(q->body, "record"), q->key, rec->id));
		struct tx_rec *old = shared_replace(st->slots, &st->slots[slot], nr);
		if (heap->retire)
			heap->retire(TXB_REC, old);
		rec = nr;
	}
	if (txb_downstream_call)   /* --downstream: parked here, the request's objects live */
		txb_downstream_call(q->key->b, q->key->len);
	sb_puts(&sb, "{\"status\":");
	sb_int(&sb, rec ? 200 : 404);
	sb_puts(&sb, ",\"method\":");
	sb_str(&sb, q->method);
	sb_puts(&sb, ",\"key\":");
	sb_str(&sb, q->key);
	sb_puts(&sb, ",\"op\":");
	sb_str(&sb, op);
	sb_puts(&sb, ",\"user\":");
	sb_int(&sb, jv_num(jv_get(q->body, "user")));
	sb_puts(&sb, ",\"limit\":");
	struct tx_str *limit = map_get(q->query, "limit");
	sb_int(&sb, limit ? atoll(limit->b) : -1);
	sb_puts(&sb, ",\"headers\":");
	sb_int(&sb, (int64_t)q->headers->n);
	if (rec) {
		sb_puts(&sb, ",\"record\":");
		sb_rec(&sb, rec);
	}
	sb_puts(&sb, ",\"items\":[");
	struct tx_jv *items = jv_get(q->body, "items");
	int64_t total = 0;
	for (uint32_t i = 0; items && items->kind == JV_ARR && i < items->n; i++) {
		struct tx_jv *it = items->items[i];
		int64_t qty = jv_num(jv_get(it, "qty")), price = jv_num(jv_get(it, "price"));
		total += qty * price;
		struct tx_str *name = jv_str(jv_get(it, "name"));
		char line[160];
		int n = snprintf(line, sizeof line, "%s{\"id\":%lld,\"name\":\"%s\",\"total\":%lld}", i ? "," : "",
				 (long long)jv_num(jv_get(it, "id")), name ? name->b : "",
				 (long long)(qty * price));
		struct tx_str *ls = str_new(line, (size_t)n);   /* an encoder's intermediate string */
		sb_put(&sb, ls->b, ls->len);
	}
	sb_puts(&sb, "],\"total\":");
	sb_int(&sb, total);
	struct tx_jv *tags = jv_get(q->body, "tags");
	sb_puts(&sb, ",\"tags\":");
	sb_int(&sb, tags && tags->kind == JV_ARR ? tags->n : 0);
	if (st->ring_slots) {
		uint64_t nitems = items && items->kind == JV_ARR ? items->n : 0, put = rec && str_eq(op, "put", 3);
		uint64_t nblobs = st->churn_blobs ? st->churn_blobs : pubshare_blobs(st->pubshare_pct, nitems, 100 * put);
		char hex[24];
		int n = snprintf(hex, sizeof hex, "\"%016llx\"", (unsigned long long)churn_publish(st, q->raw, nblobs));
		sb_puts(&sb, ",\"churn\":");
		sb_put(&sb, hex, (size_t)n);
	}
	sb_put(&sb, "}", 1);
respond:;
	struct tx_str *rid = q->headers ? map_get(q->headers, "x-request-id") : NULL;
	char head[192];
	int hn = snprintf(head, sizeof head,
			  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %llu\r\n"
			  "X-Request-Id: %s\r\n\r\n",
			  status, status == 200 ? "OK" : "Bad Request", (unsigned long long)sb.len,
			  rid ? rid->b : "-");
	sb_init(out, (uint64_t)hn + sb.len);
	sb_put(out, head, (size_t)hn);
	sb_put(out, sb.b, sb.len);
}

uint64_t txb_handle(struct tx_store *st, const char *text, size_t len)
{
	struct tx_sb out;
	txb_respond(st, text, len, &out);
	return txb_fnv(TXB_FNV_INIT, out.b, out.len);
}

/* --- for other handlers on the same heap (httpd/tfb.c) ----------------------------------------------
 * Calls, not inline: the handler above keeps its own helpers inline. */

const struct txb_heap *txb_heap_in_use(void)
{
	return heap;
}

void txb_store_ptr(void *obj, void *slot, void *val)
{
	store_ptr(obj, slot, val);
}

struct tx_str *txb_str_new(const char *p, size_t n)
{
	return str_new(p, n);
}

void txb_sb_init(struct tx_sb *sb, uint64_t cap)
{
	sb_init(sb, cap);
}

void txb_sb_put(struct tx_sb *sb, const char *p, size_t n)
{
	sb_put(sb, p, n);
}

void txb_sb_puts(struct tx_sb *sb, const char *s)
{
	sb_puts(sb, s);
}

void txb_sb_int(struct tx_sb *sb, int64_t v)
{
	sb_int(sb, v);
}
