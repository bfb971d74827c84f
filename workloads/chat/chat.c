/*
 * chat — a chat server on toc's runtime, modelled on a large chat system
 * (hundreds of thousands of long-lived connections per host, rooms, every
 * message fanned out to its room), client and server in one process.
 *
 * Each connection is a socketpair (--transport=socket), or two in-memory
 * streams (--transport=inproc, inproc.c: no descriptors, so 100,000s of
 * connections fit under the descriptor limit). Server side: a connection object in the
 * heap (a finalizer closes its descriptor when the object dies), a reader
 * goroutine and a writer goroutine with an outbound queue (a channel).
 * Client side: a reader goroutine that timestamps what arrives. Senders
 * (--senders goroutines, each owning a slice of the clients) write
 * messages at --rate in all (0: as fast as they can).
 *
 * Every message the server reads is a transaction: parse the frame (a JSON
 * object: room, from, ts, text) into heap objects, build the outbound frame
 * once, and offer it to every other member's queue (a channel send: the
 * frame is published). What the parse allocated dies at toc_end. A full
 * queue is sent to after toc_end, so the reader waits (backpressure to the
 * senders) outside its window; with --drop the delivery is lost instead,
 * as a slow consumer's would be cut.
 *
 * Reported: messages/s, deliveries/s and drops, delivery latency (send to
 * the client's read) percentiles, the collector's pauses, RSS per
 * connection (RSS growth while the connections were set up, over their
 * number), TOC statistics; at the end every connection is dropped and the
 * finalizers must close every server descriptor.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "toc/gc.h"
#include "toc/chan.h"
#include "toc/knob.h"
#include "toc/net.h"
#include "toc/sched.h"
#include "toc/sync.h"
#include "toc/toc.h"
#include "inproc.h"
#include "txbench.h"
#include "txbench_gc.h"

#define MS 1000000ll
#define INPROC_DEPTH 16   /* writes an in-process stream holds before its writer waits */
#define FRAME_MAX 65536

static struct {
	int64_t conns, rooms, senders, rate, size, queue, collect_ms;
	double duration;
	bool json, drop;
	bool inproc;   /* --transport=inproc */
	int mode;   /* TXB_TOC, TXB_CMS, TXB_STW */
	int procs;
} cfg;
static struct gc_config gc_cfg;

/* --- heap objects ---------------------------------------------------------------------------------- */

/* A server-side connection. out is a malloc'd channel (not a heap pointer);
 * fd is the server end: a descriptor, or an in-process end (inproc.h). */
struct conn {
	int64_t id, fd, room;
	struct sched_chan *out;
};
GC_TYPE_NOPTR(conn_gct, struct conn);

struct room {
	struct conn **members;
	int64_t n;
};
GC_TYPE(room_gct, struct room, members);

/* The parse's objects: one per field of the message. */
struct str {
	uint64_t len;
	char b[];
};
struct field {
	struct str *key, *sval;
	int64_t ival;
	struct field *next;
};
GC_TYPE(field_gct, struct field, key, sval, next);

struct msg {
	int64_t room, from, ts;
	struct str *text;
};
GC_TYPE(msg_gct, struct msg, text);

static struct room **rooms;   /* a registered root: the rooms array */

/* --- statistics ------------------------------------------------------------------------------------- */

struct counters {
	uint64_t msgs, deliveries, dropped, received;
	struct txb_hist latency;
} __attribute__((aligned(64)));
static struct counters *per_worker;
static _Atomic int timing;            /* messages count only inside the timed part */
static _Atomic uint64_t finalized, write_errors;
static struct sched_waitgroup senders_done, readers_done, writers_done;

static struct counters *here(void)
{
	return &per_worker[sched_worker_index()];
}

/* --- the transport: a connection's end is a descriptor or an in-process end ------------------------- */

static ssize_t end_read(int64_t end, void *buf, size_t n)
{
	return cfg.inproc ? inproc_read(end, buf, n) : sched_net_read((int)end, buf, n, 0);
}

static ssize_t end_write(int64_t end, const void *buf, size_t n)
{
	return cfg.inproc ? inproc_write(end, buf, n) : sched_net_write((int)end, buf, n, 0);
}

static void end_close(int64_t end)
{
	if (cfg.inproc)
		inproc_close(end);
	else
		sched_net_close((int)end);
}

/* --- the server ------------------------------------------------------------------------------------- */

static void on_finalize(void *obj, void *arg)
{
	(void)arg;
	struct conn *c = obj;
	end_close(c->fd);
	sched_chan_free(c->out);
	atomic_fetch_add(&finalized, 1);
}

static struct str *str_new(const char *p, size_t n)
{
	struct str *s = gc_alloc_raw(sizeof *s + n + 1);
	s->len = n;
	memcpy(s->b, p, n);
	s->b[n] = 0;
	return s;
}

/* Parses a flat JSON object of string and integer values into a list of
 * fields (heap objects); NULL if malformed. */
static struct field *parse_fields(const char *p, const char *end)
{
	struct field *head = NULL;
	if (p >= end || *p++ != '{')
		return NULL;
	while (p < end && *p != '}') {
		if (*p == ',')
			p++;
		if (p >= end || *p++ != '"')
			return NULL;
		const char *k = p;
		while (p < end && *p != '"')
			p++;
		if (p + 1 >= end || p[1] != ':')
			return NULL;
		struct field *f = gc_alloc(&field_gct);
		struct str *key = str_new(k, (size_t)(p - k));
		gc_store(f, &f->key, key);
		p += 2;
		if (p < end && *p == '"') {
			const char *v = ++p;
			while (p < end && *p != '"')
				p++;
			if (p >= end)
				return NULL;
			struct str *sv = str_new(v, (size_t)(p - v));
			gc_store(f, &f->sval, sv);
			p++;
		} else {
			char *e;
			f->ival = strtoll(p, &e, 10);
			if (e == p || e > end)
				return NULL;
			p = e;
		}
		gc_store(f, &f->next, head);
		head = f;
	}
	return p < end ? head : NULL;
}

static struct field *field(struct field *f, const char *key)
{
	for (; f; f = f->next)
		if (f->key->len == strlen(key) && memcmp(f->key->b, key, f->key->len) == 0)
			return f;
	return NULL;
}

/* One message: parse, build the outbound frame once, offer it to the room
 * without waiting. Returns the frame; the members whose queues were full
 * are left in wait[] (*nwait of them) for the caller to send to after the
 * transaction, so a window never stays open across a wait. */
static __attribute__((noinline)) char *fan_out(struct conn *self, const char *p, size_t n, struct conn **wait,
					      int64_t *nwait)
{
	*nwait = 0;
	struct field *fs = parse_fields(p, p + n);
	struct field *room = field(fs, "room"), *from = field(fs, "from"), *ts = field(fs, "ts"),
		     *text = field(fs, "text");
	if (!room || !from || !ts || !text || !text->sval || room->ival < 0 || room->ival >= cfg.rooms)
		return NULL;
	struct msg *m = gc_alloc(&msg_gct);
	m->room = room->ival;
	m->from = from->ival;
	m->ts = ts->ival;
	gc_store(m, &m->text, text->sval);
	size_t cap = m->text->len + 96;
	char *frame = gc_alloc_raw(cap);
	int len = snprintf(frame + 4, cap - 4, "{\"room\":%lld,\"from\":%lld,\"ts\":%lld,\"text\":\"%s\"}",
			   (long long)m->room, (long long)m->from, (long long)m->ts, m->text->b);
	uint32_t l = (uint32_t)len;
	memcpy(frame, &l, 4);
	struct room *r = rooms[m->room];
	struct counters *k;
	uint64_t sent = 0, dropped = 0;
	for (int64_t i = 0; i < r->n; i++) {
		struct conn *c = r->members[i];
		if (c == self)
			continue;
		if (sched_chan_trysend(c->out, &frame) == SCHED_CHAN_OK)
			sent++;
		else if (cfg.drop)
			dropped++;
		else
			wait[(*nwait)++] = c;   /* sent after the transaction (a heap pointer in malloc'd memory: */
	}                                       /* the rooms keep the connections alive meanwhile) */
	k = here();
	if (atomic_load_explicit(&timing, memory_order_relaxed)) {
		k->msgs++;
		k->deliveries += sent + (uint64_t)*nwait;
		k->dropped += dropped;
	}
	return frame;
}

static void server_reader(void *arg)
{
	struct conn *self = arg;
	char buf[2048];
	size_t len = 0;
	int64_t room_size = (cfg.conns + cfg.rooms - 1) / cfg.rooms;
	struct conn **wait = malloc((size_t)room_size * sizeof *wait);
	if (!wait)
		bench_fatal(1, "out of memory for a reader");
	for (;;) {
		ssize_t r = end_read(self->fd, buf + len, sizeof buf - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		size_t p = 0;
		while (len - p >= 4) {
			uint32_t n;
			memcpy(&n, buf + p, 4);
			if (n > sizeof buf - 4) {
				len = p = 0;   /* a frame we cannot hold: drop the stream's rest */
				break;
			}
			if (len - p - 4 < n)
				break;
			int64_t nwait;
			toc_begin();
			char *frame = fan_out(self, buf + p + 4, n, wait, &nwait);
			toc_end();   /* the frame is published: sent, or held here for the full queues */
			for (int64_t i = 0; i < nwait; i++)
				sched_chan_send(wait[i]->out, &frame);   /* backpressure to the senders */
			frame = NULL;
			p += 4 + n;
		}
		memmove(buf, buf + p, len - p);
		len -= p;
	}
	free(wait);
	sched_wg_done(&readers_done);
}

static void server_writer(void *arg)
{
	struct conn *self = arg;
	char *frame;
	bool broken = false;   /* after a failed write, drain the queue until it closes */
	while (sched_chan_recv(self->out, &frame)) {
		uint32_t n;
		memcpy(&n, frame, 4);
		if (!broken && end_write(self->fd, frame, 4 + (size_t)n) < 0) {
			if (atomic_load(&timing))
				atomic_fetch_add(&write_errors, 1);
			broken = true;
		}
	}
	frame = NULL;
	sched_wg_done(&writers_done);
}

/* --- the clients -------------------------------------------------------------------------------------- */

struct client {
	int64_t fd;   /* the client end */
};
static struct client *clients;

static void client_reader(void *arg)
{
	struct client *cl = arg;
	char buf[2048];
	size_t len = 0;
	for (;;) {
		ssize_t r = end_read(cl->fd, buf + len, sizeof buf - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		size_t p = 0;
		int64_t now = sched_nanotime();
		while (len - p >= 4) {
			uint32_t n;
			memcpy(&n, buf + p, 4);
			if (n > sizeof buf - 4 || len - p - 4 < n)
				break;
			const char *ts = memmem(buf + p + 4, n, "\"ts\":", 5);
			if (ts && atomic_load_explicit(&timing, memory_order_relaxed)) {
				struct counters *k = here();
				k->received++;
				int64_t sent = strtoll(ts + 5, NULL, 10);
				txb_hist_add(&k->latency, (uint64_t)(now > sent ? now - sent : 0));
			}
			p += 4 + n;
		}
		memmove(buf, buf + p, len - p);
		len -= p;
	}
	sched_wg_done(&readers_done);
}

struct sender_arg {
	int64_t index;
	int64_t deadline;
	uint64_t seed;
};

static void sender(void *argp)
{
	struct sender_arg *a = argp;
	char frame[FRAME_MAX];
	char text[FRAME_MAX / 2];
	memset(text, 'a' + (int)(a->index % 26), (size_t)cfg.size);
	text[cfg.size] = 0;
	uint64_t rng = a->seed;
	int64_t interval = cfg.rate ? (int64_t)(1e9 * (double)cfg.senders / (double)cfg.rate) : 0;
	int64_t next = sched_nanotime();
	int64_t mine = (cfg.conns - a->index + cfg.senders - 1) / cfg.senders;   /* clients index, index+S, ... */
	while (sched_nanotime() < a->deadline && mine > 0) {
		if (interval) {
			next += interval;
			int64_t now = sched_nanotime();
			if (next > now)
				sched_sleep(next - now);
		}
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		int64_t c = a->index + (int64_t)((rng >> 33) % (uint64_t)mine) * cfg.senders;
		int n = snprintf(frame + 4, sizeof frame - 4, "{\"room\":%lld,\"from\":%lld,\"ts\":%lld,\"text\":\"%s\"}",
				 (long long)(c % cfg.rooms), (long long)c, (long long)sched_nanotime(), text);
		uint32_t l = (uint32_t)n;
		memcpy(frame, &l, 4);
		if (end_write(clients[c].fd, frame, 4 + (size_t)n) < 0)
			atomic_fetch_add(&write_errors, 1);
	}
	sched_wg_done(&senders_done);
}

/* --- the run ------------------------------------------------------------------------------------------- */

static double rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1024.0;
}

/* A connection: the pair, the heap object with its finalizer, three goroutines. */
static __attribute__((noinline)) void connect_one(int64_t i)
{
	int64_t sv[2] = {2 * i, 2 * i + 1};   /* in-process ends */
	if (cfg.inproc) {
		if (inproc_connect(i))
			bench_fatal(1, "out of memory for connection %lld's streams", (long long)i);
	} else {
		int fds[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
			bench_fatal(1, "socketpair for connection %lld: %s", (long long)i, strerror(errno));
		if (sched_net_adopt(fds[0]) || sched_net_adopt(fds[1]))
			bench_fatal(1, "cannot register connection %lld with the poller: %s", (long long)i,
				    strerror(sched_errno()));
		sv[0] = fds[0];
		sv[1] = fds[1];
	}
	struct conn *c = gc_alloc(&conn_gct);
	c->id = i;
	c->fd = sv[0];
	c->room = i % cfg.rooms;
	c->out = sched_chan_new(sizeof(char *), (size_t)cfg.queue);
	if (!c->out)
		bench_fatal(1, "out of memory for connection %lld's queue", (long long)i);
	if (gc_set_finalizer(c, on_finalize, NULL))
		bench_fatal(1, "gc_set_finalizer failed");
	struct room *r = rooms[c->room];
	gc_store(r->members, &r->members[r->n], c);
	r->n++;
	clients[i].fd = sv[1];
	sched_wg_add(&readers_done, 2);
	sched_wg_add(&writers_done, 1);
	if (!sched_go(server_reader, c) || !sched_go(server_writer, c) || !sched_go(client_reader, &clients[i]))
		bench_fatal(1, "cannot start connection %lld's goroutines: %s (TOC_MAX_GOROUTINES?)", (long long)i,
			    strerror(sched_errno()));
}

/* Drops every connection, after the senders stopped: the client ends
 * closed (client readers get EBADF, server readers end of stream once they
 * have fanned out what they read; writers whose writes now fail drain their
 * queues), then the queues closed (writers end), the rooms let go; the
 * finalizers close the server ends. */
static __attribute__((noinline)) void teardown(void)
{
	sched_wg_wait(&senders_done);
	for (int64_t i = 0; i < cfg.conns; i++)
		end_close(clients[i].fd);
	sched_wg_wait(&readers_done);
	for (int64_t i = 0; i < cfg.rooms; i++) {
		struct room *r = rooms[i];
		for (int64_t k = 0; k < r->n; k++)
			sched_chan_close(r->members[k]->out);
	}
	sched_wg_wait(&writers_done);
	gc_store(NULL, (void **)&rooms, NULL);
}

/* In a frame of its own: no stale copy of a room pointer stays in
 * chat_main's frame to keep a room's connections alive after teardown. */
static __attribute__((noinline)) void make_rooms(int64_t per_room)
{
	struct room **rs = gc_alloc_array(&gc_type_ptr, (size_t)cfg.rooms);
	gc_store(NULL, (void **)&rooms, rs);
	for (int64_t i = 0; i < cfg.rooms; i++) {
		struct room *r = gc_alloc(&room_gct);
		struct conn **m = gc_alloc_array(&gc_type_ptr, (size_t)per_room);
		gc_store(r, &r->members, m);
		gc_store(rooms, &rooms[i], r);
	}
}

static struct txb_result res;
static double ttsp_max_us;   /* the longest wait for the workers to stop, whole run */
#define PAUSES_KEPT 4096
static uint64_t pauses_ns[PAUSES_KEPT];   /* the timed part's pauses (the last PAUSES_KEPT) */
static size_t npauses;
static double setup_rss_kib, setup_seconds;

static void chat_main(void *unused)
{
	(void)unused;
	gc_add_roots((void **)&rooms, 1);
	int nw = sched_procs();
	per_worker = calloc((size_t)nw, sizeof *per_worker);
	clients = calloc((size_t)cfg.conns, sizeof *clients);
	if (!per_worker || !clients || (cfg.inproc && inproc_init(cfg.conns, INPROC_DEPTH)))
		bench_fatal(1, "out of memory for %lld connections", (long long)cfg.conns);
	int64_t per_room = (cfg.conns + cfg.rooms - 1) / cfg.rooms;
	make_rooms(per_room);
	gc_collect();
	double rss0 = rss_kib();
	int64_t t0 = sched_nanotime();
	for (int64_t i = 0; i < cfg.conns; i++) {
		connect_one(i);
		if ((i + 1) % 20000 == 0)
			bench_progress("connections: %lld of %lld", (long long)(i + 1), (long long)cfg.conns);
	}
	toc_end();   /* what setup allocated is published: the rooms hold it */
	gc_collect();
	sched_sleep(100 * MS);   /* every goroutine parked on its socket */
	setup_seconds = (double)(sched_nanotime() - t0) / 1e9;
	setup_rss_kib = rss_kib() - rss0;
	bench_progress("%lld connections in %.1f s, %lld rooms of %lld, RSS +%.0f MiB; sending for %.1f s",
		       (long long)cfg.conns, setup_seconds, (long long)cfg.rooms, (long long)per_room,
		       setup_rss_kib / 1024, cfg.duration);

	struct txb_gc_snap before, after;
	txb_gc_snap(&before, true);
	atomic_store(&timing, 1);
	int64_t deadline = before.ns + (int64_t)(cfg.duration * 1e9);
	struct sender_arg *sa = calloc((size_t)cfg.senders, sizeof *sa);
	if (!sa)
		bench_fatal(1, "out of memory");
	sched_wg_add(&senders_done, cfg.senders);
	for (int64_t s = 0; s < cfg.senders; s++) {
		sa[s] = (struct sender_arg){s, deadline, 0x9e3779b97f4a7c15ull * (uint64_t)(s + 1)};
		if (!sched_go(sender, &sa[s]))
			bench_fatal(1, "cannot start sender %lld", (long long)s);
	}
	int64_t report = before.ns;
	while (sched_nanotime() < deadline) {
		if (cfg.collect_ms) {
			sched_sleep(cfg.collect_ms * MS);
			gc_collect();   /* --collect-every: cycles at a known pace, for the pause figures */
		} else {
			sched_sleep(200 * MS);
		}
		if (sched_nanotime() - report >= 1000 * MS) {
			report = sched_nanotime();
			bench_progress("%.1f s", (double)(report - before.ns) / 1e9);
		}
	}
	sched_sleep(50 * MS);   /* the senders notice the deadline */
	atomic_store(&timing, 0);
	txb_gc_snap(&after, false);
	txb_gc_figures(&res, &before, &after);
	ttsp_max_us = (double)after.gc.stw_ttsp_max_ns / 1e3;
	{
		uint64_t n = after.gc.stw_count - before.gc.stw_count;
		size_t got = gc_read_pauses(pauses_ns, PAUSES_KEPT);
		npauses = n < got ? (size_t)n : got;
		memmove(pauses_ns, pauses_ns + (got - npauses), npauses * sizeof *pauses_ns);
	}

	teardown();
	for (int i = 0; i < 20 && atomic_load(&finalized) < (uint64_t)cfg.conns; i++) {
		gc_collect();
		sched_sleep(20 * MS);
	}
	free(sa);
	gc_remove_roots((void **)&rooms);
}

static void print_result(void)
{
	struct counters sum = {0};
	int nw = cfg.procs;
	for (int i = 0; i < nw; i++) {
		sum.msgs += per_worker[i].msgs;
		sum.deliveries += per_worker[i].deliveries;
		sum.dropped += per_worker[i].dropped;
		sum.received += per_worker[i].received;
		txb_hist_merge(&sum.latency, &per_worker[i].latency);
	}
	double s = res.seconds;
	double rss_per_conn = setup_rss_kib / (double)cfg.conns;
	static const char *const names[] = {"toc", "cms", "stw"};
	FILE *f = stdout;
	if (cfg.json) {
		fprintf(f,
			"{\"mode\":\"%s\",\"transport\":\"%s\",\"connections\":%lld,\"rooms\":%lld,\"senders\":%lld,\"rate\":%lld,"
			"\"size\":%lld,\"procs\":%d,\"seconds\":%.4f,\"setup_seconds\":%.2f,\"messages\":%llu,"
			"\"msgs_per_sec\":%.1f,\"deliveries\":%llu,\"deliveries_per_sec\":%.1f,\"dropped\":%llu,"
			"\"received\":%llu,\"delivery_p50_us\":%.1f,\"delivery_p99_us\":%.1f,\"delivery_p999_us\":%.1f,"
			"\"gc_cycles\":%llu,\"gc_cpu_seconds\":%.4f,\"gc_cpu_fraction\":%.4f,\"stw_max_us\":%.1f,"
			"\"stw_p99_us\":%.1f,\"stw_ttsp_max_us\":%.1f,\"peak_rss_mb\":%.1f,\"rss_per_conn_kib\":%.2f,\"goroutines\":%lld,"
			"\"finalized_conns\":%llu,\"write_errors\":%llu,\"toc_reclaimed_fraction\":%.4f,"
			"\"published_fraction\":%.4f,\"forfeit_fraction\":%.4f",
			names[cfg.mode], cfg.inproc ? "inproc" : "socket", (long long)cfg.conns, (long long)cfg.rooms, (long long)cfg.senders,
			(long long)cfg.rate, (long long)cfg.size, res.procs, s, setup_seconds,
			(unsigned long long)sum.msgs, (double)sum.msgs / s, (unsigned long long)sum.deliveries,
			(double)sum.deliveries / s, (unsigned long long)sum.dropped, (unsigned long long)sum.received,
			txb_hist_quantile_us(&sum.latency, 0.5), txb_hist_quantile_us(&sum.latency, 0.99),
			txb_hist_quantile_us(&sum.latency, 0.999), (unsigned long long)res.gc_cycles,
			res.gc_cpu_seconds, res.gc_cpu_fraction, res.stw_max_us, res.stw_p99_us, ttsp_max_us, res.peak_rss_mb,
			rss_per_conn, (long long)(3 * cfg.conns + cfg.senders), (unsigned long long)finalized,
			(unsigned long long)write_errors, res.toc_reclaimed_fraction, res.published_fraction,
			res.forfeit_fraction);
		char cpu[1024];
		bench_cpu_figures_json(cpu, sizeof cpu, &res.cpu);
		fprintf(f, ",%s", cpu);
		fputs(",\"pauses_us\":[", f);
		for (size_t i = 0; i < npauses; i++)
			fprintf(f, "%s%.1f", i ? "," : "", (double)pauses_ns[i] / 1e3);
		fputc(']', f);
		if (res.has_toc)
			fprintf(f, ",\"toc\":{%s}", res.toc_stats);
		fputs("}\n", f);
	} else {
		printf("mode %s, %lld %s connections in %lld rooms, %lld senders, %d procs\n", names[cfg.mode],
		       (long long)cfg.conns, cfg.inproc ? "in-process" : "socket", (long long)cfg.rooms, (long long)cfg.senders, res.procs);
		printf("%llu messages in %.2f s: %.0f/s; %.0f deliveries/s, %llu dropped\n",
		       (unsigned long long)sum.msgs, s, (double)sum.msgs / s, (double)sum.deliveries / s,
		       (unsigned long long)sum.dropped);
		printf("delivery latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n",
		       txb_hist_quantile_us(&sum.latency, 0.5), txb_hist_quantile_us(&sum.latency, 0.99),
		       txb_hist_quantile_us(&sum.latency, 0.999));
		printf("gc: %llu cycles, %.1f%% CPU, pauses max %.0f us, p99 %.0f us\n",
		       (unsigned long long)res.gc_cycles, 100 * res.gc_cpu_fraction, res.stw_max_us, res.stw_p99_us);
		printf("RSS %.2f KiB per connection, peak %.0f MiB; %llu of %lld connections finalized\n",
		       rss_per_conn, res.peak_rss_mb, (unsigned long long)finalized, (long long)cfg.conns);
	}
}

/* --- flags ------------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: chat [flags]\n"
	      "A chat server and its clients in one process (see the comment in chat.c).\n\n"
	      "  --mode=M            toc | cms | stw (default: TOC_MODE, else cms)\n"
	      "  --connections=N     long-lived connections (default 1000)\n"
	      "  --transport=T       socket (a socketpair per connection; the default) or inproc\n"
	      "                      (two in-memory streams: no descriptors)\n"
	      "  --rooms=R           rooms; connection i is in room i mod R (default N/50)\n"
	      "  --senders=S         sending goroutines (default 64)\n"
	      "  --rate=M            messages per second in all (default 0: as fast as possible)\n"
	      "  --size=B            message text bytes (default 128, at most 16384)\n"
	      "  --queue=Q           a connection's outbound queue (default 64)\n"
	      "  --drop              a full queue drops the delivery (a slow consumer's); default:\n"
	      "                      the server's reader waits after the transaction (backpressure)\n"
	      "  --duration=S        seconds of sending (default 5)\n"
	      "  --collect-every=MS  also force a cycle every MS milliseconds while sending\n"
	      "                      (pause figures at a known pace; default 0: the pacer alone)\n"
	      "  --procs=N           worker threads (default: TOC_PROCS, else CPUs online)\n"
	      "  --gogc=P, --memlimit=BYTES   the pacer, as TOC_GOGC and TOC_MEMLIMIT\n"
	      "  --json              one JSON object on stdout: mode, connections, msgs_per_sec,\n"
	      "                      deliveries_per_sec, dropped, delivery_p50/p99/p999_us,\n"
	      "                      gc_cycles, gc_cpu_fraction, stw_max_us, stw_p99_us,\n"
	      "                      peak_rss_mb, rss_per_conn_kib, finalized_conns, pauses_us\n"
	      "                      (the timed part's pauses, up to 4096), toc figures,\n"
	      "                      and the CPU split:\n" BENCH_CPU_FIGURES_HELP
	      "  --help              this text\n\n"
	      "With sockets it needs 2N+256 descriptors: the soft limit is raised to that, and\n"
	      "the hard one too when the process may (root); otherwise it stops and says so.\n",
	      f);
}

static void parse(int argc, char **argv)
{
	enum { F_MODE = 256, F_CONNS, F_ROOMS, F_SENDERS, F_RATE, F_SIZE, F_QUEUE, F_DUR, F_PROCS, F_GOGC,
	       F_MEMLIMIT, F_JSON, F_HELP, F_DROP, F_COLLECT, F_TRANSPORT };
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, F_MODE},         {"connections", required_argument, NULL, F_CONNS},
		{"rooms", required_argument, NULL, F_ROOMS},       {"senders", required_argument, NULL, F_SENDERS},
		{"rate", required_argument, NULL, F_RATE},         {"size", required_argument, NULL, F_SIZE},
		{"queue", required_argument, NULL, F_QUEUE},       {"duration", required_argument, NULL, F_DUR},
		{"procs", required_argument, NULL, F_PROCS},       {"gogc", required_argument, NULL, F_GOGC},
		{"memlimit", required_argument, NULL, F_MEMLIMIT}, {"json", no_argument, NULL, F_JSON},
		{"help", no_argument, NULL, F_HELP},               {"drop", no_argument, NULL, F_DROP},
		{"collect-every", required_argument, NULL, F_COLLECT},
		{"transport", required_argument, NULL, F_TRANSPORT},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	struct sched_config scfg = {0};
	cfg.mode = txb_config_from_env(&gc_cfg, &scfg);
	cfg.conns = 1000;
	cfg.senders = 64;
	cfg.size = 128;
	cfg.queue = 64;
	cfg.duration = 5;
	int64_t procs = scfg.procs;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *flag = NULL;
		int64_t min = 1, max = 0, *dst = NULL;
		switch (c) {
		case F_MODE: {
			static const char *const names[] = {"toc", "cms", "stw"};
			cfg.mode = bench_lookup("--mode", optarg, names, 3);
			continue;
		}
		case F_CONNS: flag = "--connections"; dst = &cfg.conns; min = 2; max = 1000000; break;
		case F_ROOMS: flag = "--rooms"; dst = &cfg.rooms; max = 1000000; break;
		case F_SENDERS: flag = "--senders"; dst = &cfg.senders; max = 100000; break;
		case F_RATE: flag = "--rate"; dst = &cfg.rate; min = 0; max = 100000000; break;
		case F_SIZE: flag = "--size"; dst = &cfg.size; max = 16384; break;
		case F_QUEUE: flag = "--queue"; dst = &cfg.queue; max = 65536; break;
		case F_COLLECT: flag = "--collect-every"; dst = &cfg.collect_ms; min = 0; max = 3600000; break;
		case F_PROCS: flag = "--procs"; dst = &procs; max = SCHED_MAX_PROCS; break;
		case F_DUR: cfg.duration = bench_seconds("--duration", optarg); continue;
		case F_GOGC: bench_gc_flag(&gc_cfg, "gogc", "--gogc", optarg); continue;
		case F_MEMLIMIT: bench_gc_flag(&gc_cfg, "memlimit", "--memlimit", optarg); continue;
		case F_JSON: cfg.json = true; continue;
		case F_DROP: cfg.drop = true; continue;
		case F_TRANSPORT: {
			static const char *const transports[] = {"socket", "inproc"};
			cfg.inproc = bench_lookup("--transport", optarg, transports, 2) == 1;
			continue;
		}
		case F_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
		if (sched_knob_int(flag, optarg, min, max, dst, err, sizeof err))
			bench_fatal(2, "%s", err);
	}
	if (optind < argc)
		bench_fatal(2, "unexpected argument \"%s\" (flags are --name=value; --help lists them)", argv[optind]);
	if (!cfg.rooms)
		cfg.rooms = cfg.conns / 50 > 0 ? cfg.conns / 50 : 1;
	if (cfg.rooms > cfg.conns)
		bench_fatal(2, "--rooms=%lld: more rooms than --connections=%lld", (long long)cfg.rooms,
			    (long long)cfg.conns);
	if (cfg.senders > cfg.conns)
		cfg.senders = cfg.conns;
	if (!procs)
		procs = bench_cpus();
	cfg.procs = (int)procs;
}

/* Two descriptors per connection and some to spare. */
static void raise_fd_limit(void)
{
	rlim_t need = (rlim_t)(2 * cfg.conns + 256);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		bench_fatal(1, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return;
	struct rlimit want = {need, rl.rlim_max >= need ? rl.rlim_max : need};
	if (setrlimit(RLIMIT_NOFILE, &want))
		bench_fatal(1,
			    "--connections=%lld needs %llu descriptors; the limit is %llu (hard %llu) and raising it "
			    "failed: %s (raise it with ulimit -n / ulimit -Hn, or run as root; the system's "
			    "ceiling is /proc/sys/fs/nr_open)",
			    (long long)cfg.conns, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, strerror(errno));
}

int main(int argc, char **argv)
{
	bench_prog = "chat";
	parse(argc, argv);
	if (!cfg.inproc)
		raise_fd_limit();
	gc_cfg.mode = cfg.mode == TXB_STW ? GC_MODE_STW : GC_MODE_CMS;
	gc_cfg.toc = cfg.mode == TXB_TOC;
	struct sched_config scfg = {.procs = cfg.procs};
	size_t need = 3 * (size_t)cfg.conns + (size_t)cfg.senders + 1024;
	scfg.max_goroutines = need > SCHED_DEFAULT_MAX_GOROUTINES ? need : SCHED_DEFAULT_MAX_GOROUTINES;
	if (gc_run(&gc_cfg, &scfg, chat_main, NULL))
		return 1;
	print_result();
	if (finalized != (uint64_t)cfg.conns)
		bench_fatal(1, "%llu of %lld connection objects were finalized after they were dropped",
			    (unsigned long long)finalized, (long long)cfg.conns);
	return 0;
}
