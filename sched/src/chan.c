/*
 * chan.c — channels and select, after Go's runtime/chan.go and select.go.
 *
 * A channel is a spinlock, a ring buffer of cap elements, and two queues of
 * waiting goroutines (sudogs, which live on the waiter's parked stack). A
 * sender that finds a waiting receiver copies straight into the receiver's
 * variable and readies it; a receiver that finds a waiting sender on a full
 * buffered channel takes the head and moves the sender's value into the
 * freed slot, so FIFO order holds.
 *
 * Select locks every channel involved in address order, polls the cases in
 * a random order, and otherwise enqueues one sudog per case and parks. Only
 * one case may win: a waker that dequeues a select sudog must first win the
 * CAS on g->select_done (the deadline timer competes the same way); a loser
 * skips that sudog. After waking, the selecting goroutine relocks everything
 * and removes its other sudogs.
 *
 * Locking: a channel lock is held only inside this file, never across a park
 * (the park commit releases it once the goroutine is off its stack), and
 * several are taken only in address order.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "toc/chan.h"

struct sched_sudog {
	struct sched_g *g;            /* the waiting goroutine */
	struct sched_sudog *next;     /* queue links; channel lock */
	struct sched_sudog *prev;
	void *elem;                   /* value to send / receive into (may be NULL) */
	struct sched_chan *c;         /* channel it waits on */
	int case_index;               /* select: which case */
	bool is_select;               /* must win g->select_done */
	bool success;                 /* set by the waker: true if a value moved, false if closed */
};

struct sched_waitq {
	struct sched_sudog *first;
	struct sched_sudog *last;
};

struct sched_chan {
	int lock;                     /* spinlock over everything below */
	bool closed;
	size_t elem_size;
	size_t cap;
	size_t count;                 /* values in buf */
	size_t sendx;                 /* next slot to write */
	size_t recvx;                 /* next slot to read */
	struct sched_waitq recvq;     /* blocked receivers */
	struct sched_waitq sendq;     /* blocked senders */
	struct sched_chan *reg_next, *reg_prev;   /* buffered channels of pointer-sized values; reg_lock */
	char buf[];                   /* cap * elem_size bytes */
};

/* The channels whose buffers may hold pointers, for a collector's roots. */
static int reg_lock;
static struct sched_chan *registry;

static bool registered(const struct sched_chan *c)
{
	return c->cap > 0 && c->elem_size >= sizeof(void *);
}

#define SCHED_CHAN_MAX_ELEM (64u * 1024u)

struct sched_chan *sched_chan_new(size_t elem_size, size_t capacity)
{
	if (elem_size > SCHED_CHAN_MAX_ELEM || (elem_size && capacity > (SIZE_MAX >> 1) / elem_size)) {
		errno = EINVAL;
		return NULL;
	}
	struct sched_chan *c = calloc(1, sizeof *c + elem_size * capacity);
	if (!c)
		return NULL;
	c->elem_size = elem_size;
	c->cap = capacity;
	if (registered(c)) {
		sched_spin_lock(&reg_lock);
		c->reg_next = registry;
		if (registry)
			registry->reg_prev = c;
		registry = c;
		sched_spin_unlock(&reg_lock);
	}
	return c;
}

void sched_chan_free(struct sched_chan *c)
{
	/* Once sched_run has returned, waiters still queued are goroutines it
	 * discarded: their sudogs are gone with their stacks. */
	if (c && (c->recvq.first || c->sendq.first) && sched_procs() != 0)
		sched_fatal("sched_chan_free: goroutines are blocked on the channel");
	if (c && registered(c)) {
		sched_spin_lock(&reg_lock);
		if (c->reg_prev)
			c->reg_prev->reg_next = c->reg_next;
		else
			registry = c->reg_next;
		if (c->reg_next)
			c->reg_next->reg_prev = c->reg_prev;
		sched_spin_unlock(&reg_lock);
	}
	free(c);
}

void sched_visit_chan_values(void (*fn)(const void *lo, const void *hi, void *arg), void *arg)
{
	sched_spin_lock(&reg_lock);
	for (struct sched_chan *c = registry; c; c = c->reg_next) {
		sched_spin_lock(&c->lock);
		size_t first = c->recvx, n = c->count;
		size_t a = first + n <= c->cap ? n : c->cap - first;   /* up to the end of the ring */
		if (a)
			fn(c->buf + first * c->elem_size, c->buf + (first + a) * c->elem_size, arg);
		if (n > a)
			fn(c->buf, c->buf + (n - a) * c->elem_size, arg);
		sched_spin_unlock(&c->lock);
	}
	sched_spin_unlock(&reg_lock);
}

size_t sched_chan_len(struct sched_chan *c)
{
	return __atomic_load_n(&c->count, __ATOMIC_RELAXED);
}

size_t sched_chan_cap(const struct sched_chan *c)
{
	return c->cap;
}

/* --- wait queues ------------------------------------------------------------- */

static void enqueue(struct sched_waitq *q, struct sched_sudog *sg)
{
	sg->next = NULL;
	sg->prev = q->last;
	if (q->last)
		q->last->next = sg;
	else
		q->first = sg;
	q->last = sg;
}

static void unlink(struct sched_waitq *q, struct sched_sudog *sg)
{
	if (sg->prev)
		sg->prev->next = sg->next;
	else if (q->first == sg)
		q->first = sg->next;
	else
		return; /* not queued (already taken by a waker) */
	if (sg->next)
		sg->next->prev = sg->prev;
	else
		q->last = sg->prev;
	sg->next = sg->prev = NULL;
}

/* Takes the first waiter that may be woken: a select waiter only if this
 * case wins its select. */
static struct sched_sudog *dequeue(struct sched_waitq *q)
{
	for (;;) {
		struct sched_sudog *sg = q->first;
		if (!sg)
			return NULL;
		unlink(q, sg);
		if (sg->is_select) {
			uint32_t zero = 0;
			if (!atomic_compare_exchange_strong(&sg->g->select_done, &zero, 1))
				continue; /* another case or the timer won */
		}
		return sg;
	}
}

static char *slot(struct sched_chan *c, size_t i)
{
	return c->buf + i * c->elem_size;
}

static void copy_out(void *dst, const void *src, size_t n)
{
	if (dst && n)
		memcpy(dst, src, n);
}

static void zero(void *dst, size_t n)
{
	if (dst && n)
		memset(dst, 0, n);
}

/* Wakes the goroutine of a dequeued sudog. Called with c unlocked. */
static void wake(struct sched_sudog *sg)
{
	struct sched_g *g = sg->g;
	g->param = sg;
	sched_ready(g);
}

/* --- the operations: c locked on entry and on return ----------------------------
 * Each returns true if it completed; *wakeup is then a sudog to wake once the
 * caller has unlocked (or NULL). */

static bool send_op(struct sched_chan *c, const void *elem, struct sched_sudog **wakeup)
{
	struct sched_sudog *sg = dequeue(&c->recvq);
	*wakeup = sg;
	if (sg) {
		copy_out(sg->elem, elem, c->elem_size);
		sg->success = true;
		return true;
	}
	if (c->count < c->cap) {
		copy_out(slot(c, c->sendx), elem, c->elem_size);
		c->sendx = c->sendx + 1 == c->cap ? 0 : c->sendx + 1;
		__atomic_store_n(&c->count, c->count + 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/* *ok is false when c is closed and drained. */
static bool recv_op(struct sched_chan *c, void *elem, bool *ok, struct sched_sudog **wakeup)
{
	struct sched_sudog *sg = dequeue(&c->sendq);
	*wakeup = sg;
	*ok = true;
	if (sg) {
		if (c->cap == 0) {
			copy_out(elem, sg->elem, c->elem_size);
		} else {
			/* Full buffer: take the head, the sender's value goes to the tail. */
			copy_out(elem, slot(c, c->recvx), c->elem_size);
			copy_out(slot(c, c->recvx), sg->elem, c->elem_size);
			c->recvx = c->recvx + 1 == c->cap ? 0 : c->recvx + 1;
			c->sendx = c->recvx;
		}
		sg->success = true;
		return true;
	}
	if (c->count > 0) {
		copy_out(elem, slot(c, c->recvx), c->elem_size);
		zero(slot(c, c->recvx), c->elem_size);
		c->recvx = c->recvx + 1 == c->cap ? 0 : c->recvx + 1;
		__atomic_store_n(&c->count, c->count - 1, __ATOMIC_RELAXED);
		return true;
	}
	if (c->closed) {
		zero(elem, c->elem_size);
		*ok = false;
		return true;
	}
	return false;
}

static void unlock_wake(struct sched_chan *c, struct sched_sudog *wakeup)
{
	sched_spin_unlock(&c->lock);
	if (wakeup)
		wake(wakeup);
}

static bool unlock_commit(struct sched_g *g, void *arg)
{
	(void)g;
	sched_spin_unlock(&((struct sched_chan *)arg)->lock);
	return true;
}

static void need_goroutine(const char *op)
{
	if (!sched_self())
		sched_fatal("%s would block outside a goroutine", op);
}

void sched_chan_send(struct sched_chan *c, const void *elem)
{
	if (!c)
		sched_fatal("send on a NULL channel blocks forever");
	sched_poll();
	if (sched_rt.hooks.send && c->elem_size)
		sched_rt.hooks.send(elem, c->elem_size);
	sched_spin_lock(&c->lock);
	if (c->closed)
		sched_fatal("send on closed channel");
	struct sched_sudog *wakeup;
	if (send_op(c, elem, &wakeup)) {
		unlock_wake(c, wakeup);
		return;
	}
	need_goroutine("sched_chan_send");
	struct sched_sudog sg = {.g = sched_self(), .elem = (void *)elem, .c = c};
	enqueue(&c->sendq, &sg);
	sched_park(unlock_commit, c, "chan send");
	if (!sg.success)
		sched_fatal("send on closed channel");
}

bool sched_chan_recv(struct sched_chan *c, void *elem)
{
	bool ok;
	if (!c)
		sched_fatal("receive from a NULL channel blocks forever");
	sched_poll();
	sched_spin_lock(&c->lock);
	struct sched_sudog *wakeup;
	if (recv_op(c, elem, &ok, &wakeup)) {
		unlock_wake(c, wakeup);
		return ok;
	}
	need_goroutine("sched_chan_recv");
	struct sched_sudog sg = {.g = sched_self(), .elem = elem, .c = c};
	enqueue(&c->recvq, &sg);
	sched_park(unlock_commit, c, "chan receive");
	if (!sg.success)
		zero(elem, c->elem_size);
	return sg.success;
}

enum sched_chan_result sched_chan_trysend(struct sched_chan *c, const void *elem)
{
	if (!c)
		return SCHED_CHAN_WOULDBLOCK;
	if (sched_rt.hooks.send && c->elem_size)
		sched_rt.hooks.send(elem, c->elem_size);
	sched_spin_lock(&c->lock);
	if (c->closed) {
		sched_spin_unlock(&c->lock);
		return SCHED_CHAN_CLOSED;
	}
	struct sched_sudog *wakeup;
	bool done = send_op(c, elem, &wakeup);
	unlock_wake(c, wakeup);
	return done ? SCHED_CHAN_OK : SCHED_CHAN_WOULDBLOCK;
}

enum sched_chan_result sched_chan_tryrecv(struct sched_chan *c, void *elem)
{
	bool ok;
	if (!c)
		return SCHED_CHAN_WOULDBLOCK;
	sched_spin_lock(&c->lock);
	struct sched_sudog *wakeup;
	bool done = recv_op(c, elem, &ok, &wakeup);
	unlock_wake(c, wakeup);
	if (!done)
		return SCHED_CHAN_WOULDBLOCK;
	return ok ? SCHED_CHAN_OK : SCHED_CHAN_CLOSED;
}

void sched_chan_close(struct sched_chan *c)
{
	if (!c)
		sched_fatal("close of a NULL channel");
	sched_spin_lock(&c->lock);
	if (c->closed)
		sched_fatal("close of closed channel");
	c->closed = true;
	struct sched_sudog *woken = NULL, *sg;
	while ((sg = dequeue(&c->recvq))) {
		zero(sg->elem, c->elem_size);
		sg->success = false;
		sg->next = woken;
		woken = sg;
	}
	while ((sg = dequeue(&c->sendq))) {
		sg->success = false;
		sg->next = woken;
		woken = sg;
	}
	sched_spin_unlock(&c->lock);
	while (woken) {
		sg = woken;
		woken = sg->next; /* read before wake: sg lives on the woken stack */
		wake(sg);
	}
}

/* --- select ---------------------------------------------------------------------- */

struct select_state {
	struct sched_chan *locked[SCHED_SELECT_MAX_CASES]; /* distinct channels, address order */
	int nlocked;
	struct sched_timer timer;     /* deadline; armed in the commit */
	_Atomic int timer_done;       /* the timer's callback has finished */
	bool has_timer;
	struct sched_g *owner;        /* the selecting goroutine */
};

static void sellock(struct select_state *s)
{
	for (int i = 0; i < s->nlocked; i++)
		sched_spin_lock(&s->locked[i]->lock);
}

static void selunlock(struct select_state *s)
{
	for (int i = s->nlocked; i-- > 0;)
		sched_spin_unlock(&s->locked[i]->lock);
}

static void select_timeout(struct sched_timer *t)
{
	struct select_state *s = t->arg;
	struct sched_g *g = s->owner;
	uint32_t zero = 0;
	if (atomic_compare_exchange_strong(&g->select_done, &zero, 1)) {
		g->param = NULL;
		sched_ready(g);
	}
	/* Last touch of s: the selecting goroutine may return once it sees this. */
	atomic_store_explicit(&s->timer_done, 1, memory_order_release);
}

static bool select_commit(struct sched_g *g, void *arg)
{
	(void)g;
	struct select_state *s = arg;
	/* Armed before the channels are unlocked: once they are, a waker may
	 * resume us, and we must find the timer armed or fired, never neither. */
	if (s->has_timer)
		sched_timer_start(&s->timer, s->timer.when);
	selunlock(s);
	return true;
}

static int select_impl(struct sched_select_case *cases, int n, bool block, int64_t deadline)
{
	if (n < 0 || n > SCHED_SELECT_MAX_CASES)
		sched_fatal("select with %d cases (at most %d)", n, SCHED_SELECT_MAX_CASES);
	sched_poll();
	struct sched_worker *w = sched_worker_self();
	struct select_state st;
	struct select_state *s = &st;
	int order[SCHED_SELECT_MAX_CASES], norder = 0;
	s->nlocked = 0;
	s->has_timer = false;

	/* Poll order: a random permutation of the cases with a channel. */
	for (int i = 0; i < n; i++) {
		if (!cases[i].chan)
			continue;
		int j = w ? (int)(sched_rand(w) % (uint64_t)(norder + 1)) : norder;
		order[norder] = order[j];
		order[j] = i;
		norder++;
	}
	/* Lock order: distinct channels sorted by address. */
	for (int k = 0; k < norder; k++) {
		struct sched_chan *c = cases[order[k]].chan;
		int j = 0;
		while (j < s->nlocked && s->locked[j] < c)
			j++;
		if (j < s->nlocked && s->locked[j] == c)
			continue;
		memmove(&s->locked[j + 1], &s->locked[j], (size_t)(s->nlocked - j) * sizeof c);
		s->locked[j] = c;
		s->nlocked++;
	}
	if (norder == 0 && !block && deadline == 0)
		return SCHED_SELECT_DEFAULT;

	sellock(s);
	for (int k = 0; k < norder; k++) {
		struct sched_select_case *cs = &cases[order[k]];
		struct sched_chan *c = cs->chan;
		struct sched_sudog *wakeup;
		bool done;
		if (cs->dir == SCHED_SELECT_RECV) {
			done = recv_op(c, cs->elem, &cs->ok, &wakeup);
		} else {
			if (c->closed) {
				selunlock(s);
				sched_fatal("send on closed channel (select)");
			}
			done = send_op(c, cs->elem, &wakeup);
		}
		if (done) {
			selunlock(s);
			if (wakeup)
				wake(wakeup);
			return order[k];
		}
	}
	if (!block) {
		selunlock(s);
		return SCHED_SELECT_DEFAULT;
	}
	need_goroutine("sched_select");

	/* Block: a sudog on every channel, then park. */
	struct sched_g *g = sched_self();
	struct sched_sudog sgs[SCHED_SELECT_MAX_CASES];
	atomic_store(&g->select_done, 0);
	g->param = NULL;
	for (int k = 0; k < norder; k++) {
		int i = order[k];
		struct sched_sudog *sg = &sgs[i];
		*sg = (struct sched_sudog){.g = g, .elem = cases[i].elem, .c = cases[i].chan,
					   .case_index = i, .is_select = true};
		enqueue(cases[i].dir == SCHED_SELECT_RECV ? &cases[i].chan->recvq : &cases[i].chan->sendq,
			sg);
	}
	if (deadline) {
		s->has_timer = true;
		s->timer = (struct sched_timer){.when = deadline, .fire = select_timeout, .arg = s,
						.heap_index = -1};
		s->owner = g;
		atomic_store(&s->timer_done, 0);
	}
	sched_park(select_commit, s, "select");

	/* The timer may be firing right now on another worker: wait it out, so
	 * it cannot touch this frame (or a later select) after we return. */
	if (s->has_timer && !sched_timer_stop(&s->timer))
		while (!atomic_load_explicit(&s->timer_done, memory_order_acquire))
			__builtin_ia32_pause();

	struct sched_sudog *won = g->param;
	sellock(s);
	for (int k = 0; k < norder; k++) {
		int i = order[k];
		if (&sgs[i] == won)
			continue;
		unlink(cases[i].dir == SCHED_SELECT_RECV ? &cases[i].chan->recvq : &cases[i].chan->sendq,
		       &sgs[i]);
	}
	selunlock(s);
	if (!won)
		return SCHED_SELECT_TIMEOUT;
	struct sched_select_case *cs = &cases[won->case_index];
	if (cs->dir == SCHED_SELECT_RECV) {
		cs->ok = won->success;
		if (!won->success)
			zero(cs->elem, cs->chan->elem_size);
	} else if (!won->success) {
		sched_fatal("send on closed channel (select)");
	}
	return won->case_index;
}

int sched_select(struct sched_select_case *cases, int n, bool has_default)
{
	return select_impl(cases, n, !has_default, 0);
}

int sched_select_until(struct sched_select_case *cases, int n, int64_t deadline)
{
	if (deadline <= 0)
		deadline = 1; /* already past: poll once, then time out */
	return select_impl(cases, n, true, deadline);
}
