/*
 * test_hooks.c — the interface the collector layers use: spawn, exit, park
 * and resume hooks fire once per event, on the right goroutine, and a value
 * the spawn hook puts in the child's slot is what the child sees.
 */
#include <stdatomic.h>

#include "harness.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

static _Atomic long spawns, exits, parks, resumes, spawns_with_parent;
static _Atomic long hook_on_wrong_g;

static void on_spawn(struct sched_g *parent, struct sched_g *child)
{
	atomic_fetch_add(&spawns, 1);
	if (parent) {
		atomic_fetch_add(&spawns_with_parent, 1);
		if (parent != sched_self())
			atomic_fetch_add(&hook_on_wrong_g, 1);
	}
	/* The child inherits a tag derived from its id. */
	*sched_g_slot(child) = (void *)(uintptr_t)(sched_g_id(child) * 3 + 1);
}

static void on_exit_hook(struct sched_g *g)
{
	atomic_fetch_add(&exits, 1);
	if (g != sched_self())
		atomic_fetch_add(&hook_on_wrong_g, 1);
}

static void on_park(struct sched_g *g)
{
	atomic_fetch_add(&parks, 1);
	if (g != sched_self())
		atomic_fetch_add(&hook_on_wrong_g, 1);
}

static void on_resume(struct sched_g *g)
{
	atomic_fetch_add(&resumes, 1);
	if (g != sched_self())
		atomic_fetch_add(&hook_on_wrong_g, 1);
}

static struct sched_waitgroup wg;
static struct sched_chan *ch;

static void child(void *unused)
{
	(void)unused;
	struct sched_g *g = sched_self();
	TCHECK(*sched_g_slot(g) == (void *)(uintptr_t)(sched_g_id(g) * 3 + 1));
	int v;
	TCHECK(sched_chan_recv(ch, &v)); /* parks until main sends */
	sched_wg_done(&wg);
}

#define CHILDREN 100

static void body(void *unused)
{
	(void)unused;
	ch = sched_chan_new(sizeof(int), 0);
	sched_wg_add(&wg, CHILDREN);
	for (int i = 0; i < CHILDREN; i++)
		sched_go(child, NULL);
	for (int i = 0; i < CHILDREN; i++)
		sched_chan_send(ch, &i);
	sched_wg_wait(&wg);
	sched_chan_free(ch);
}

static void test_hooks_fire(void)
{
	struct sched_hooks h = {.spawn = on_spawn, .exit = on_exit_hook, .park = on_park,
				.resume = on_resume};
	sched_set_hooks(&h);
	harness_run(2, body, NULL);
	sched_set_hooks(NULL);
	/* The main goroutine is spawned from a thread, the children from main. */
	CU_ASSERT_EQUAL(atomic_load(&spawns), CHILDREN + 1);
	CU_ASSERT_EQUAL(atomic_load(&spawns_with_parent), CHILDREN);
	/* Exits: every child and main; the runtime waits for main's return only,
	 * so main's own exit may race the shutdown: accept both. */
	long e = atomic_load(&exits);
	CU_ASSERT(e == CHILDREN || e == CHILDREN + 1);
	/* resume: once per start, and after every park that returned (only
	 * main's last park, if any, may be cut short by the shutdown). */
	CU_ASSERT(atomic_load(&parks) >= 1);
	CU_ASSERT(atomic_load(&resumes) >= CHILDREN + 1 + atomic_load(&parks) - 1);
	CU_ASSERT_EQUAL(atomic_load(&hook_on_wrong_g), 0);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"spawn/exit/park/resume hooks and the slot", test_hooks_fire},
		{NULL, NULL},
	};
	return harness_main("hooks", tests);
}
