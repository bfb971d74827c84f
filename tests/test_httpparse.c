/*
 * test_httpparse.c — the servers' HTTP/1.1 request framing: whole,
 * pipelined and partial requests, keep-alive rules, every limit with its
 * status, malformed input, and a seeded run of random mutations of a good
 * request checked against the parser's own contract (the fuzz target,
 * tests/fuzz_httpparse.c, runs the same checks under libFuzzer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "workloads/httpd/httpparse.h"

static long parse(const char *s, struct http_req *rq)
{
	return http_parse(s, strlen(s), &http_default_limits, rq);
}

static long status_of(const char *s)
{
	struct http_req rq;
	return parse(s, &rq);
}

static void test_whole(void)
{
	struct http_req rq;
	const char *get = "GET /users/42?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
	CU_ASSERT_EQUAL(parse(get, &rq), (long)strlen(get));
	CU_ASSERT(rq.method_len == 3 && memcmp(rq.method, "GET", 3) == 0);
	CU_ASSERT(rq.target_len == 13 && memcmp(rq.target, "/users/42?x=1", 13) == 0);
	CU_ASSERT(rq.minor == 1 && rq.keep_alive && rq.body_len == 0 && rq.nheaders == 1);
	CU_ASSERT_EQUAL(rq.head_len, strlen(get));

	const char *post = "POST /k HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:5\r\n\r\nhello";
	CU_ASSERT_EQUAL(parse(post, &rq), (long)strlen(post));
	CU_ASSERT(rq.body_len == 5 && rq.head_len == strlen(post) - 5);

	/* Pipelined: the first request ends where the second begins. */
	char two[256];
	snprintf(two, sizeof two, "%s%s", post, get);
	long n = parse(two, &rq);
	CU_ASSERT_EQUAL(n, (long)strlen(post));
	CU_ASSERT_EQUAL(parse(two + n, &rq), (long)strlen(get));

	/* Empty lines before a request line are skipped (up to four). */
	const char *lead = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	CU_ASSERT_EQUAL(parse(lead, &rq), (long)strlen(lead));
	CU_ASSERT_EQUAL(rq.skipped, 4);
	CU_ASSERT_EQUAL(status_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), -400);
}

static void test_partial(void)
{
	const char *post = "PUT /k HTTP/1.1\r\nContent-Length: 10\r\nX: y\r\n\r\n0123456789";
	size_t len = strlen(post);
	struct http_req rq;
	/* Every proper prefix is incomplete, never an error. */
	for (size_t i = 0; i < len; i++)
		CU_ASSERT_EQUAL(http_parse(post, i, &http_default_limits, &rq), 0);
	CU_ASSERT_EQUAL(http_parse(post, len, &http_default_limits, &rq), (long)len);
}

static void test_keep_alive(void)
{
	struct http_req rq;
	parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &rq);
	CU_ASSERT(!rq.keep_alive);
	parse("GET / HTTP/1.1\r\nConnection: foo, CLOSE \r\n\r\n", &rq);
	CU_ASSERT(!rq.keep_alive);
	parse("GET / HTTP/1.0\r\n\r\n", &rq);
	CU_ASSERT(!rq.keep_alive && rq.minor == 0);
	parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &rq);
	CU_ASSERT(rq.keep_alive);
	parse("GET / HTTP/1.9\r\n\r\n", &rq);
	CU_ASSERT(rq.minor == 1 && rq.keep_alive);
}

static void test_limits(void)
{
	struct http_limits lim = {.max_line = 32, .max_header_bytes = 64, .max_headers = 3, .max_body = 100};
	struct http_req rq;
	char buf[512];
	/* Request line: at the limit, past it (complete or still arriving). */
	snprintf(buf, sizeof buf, "GET /%s HTTP/1.1\r\n\r\n", "aaaaaaaaaaaaaaaaaa");   /* 32 bytes */
	CU_ASSERT(http_parse(buf, strlen(buf), &lim, &rq) > 0);
	snprintf(buf, sizeof buf, "GET /%s HTTP/1.1\r\n\r\n", "aaaaaaaaaaaaaaaaaaa");
	CU_ASSERT_EQUAL(http_parse(buf, strlen(buf), &lim, &rq), -414);
	memset(buf, 'A', 40);
	CU_ASSERT_EQUAL(http_parse(buf, 40, &lim, &rq), -414);
	CU_ASSERT_EQUAL(http_parse(buf, 33, &lim, &rq), 0);
	/* Header count and header bytes. */
	const char *four = "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n";
	CU_ASSERT_EQUAL(http_parse(four, strlen(four), &lim, &rq), -431);
	snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nx: %s\r\n\r\n",
		 "0123456789012345678901234567890123456789012345678901234567890");
	CU_ASSERT_EQUAL(http_parse(buf, strlen(buf), &lim, &rq), -431);
	CU_ASSERT_EQUAL(http_parse(buf, strlen(buf) - 3, &lim, &rq), -431);   /* before its line ends */
	/* Body. */
	const char *big = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
	CU_ASSERT_EQUAL(http_parse(big, strlen(big), &lim, &rq), -413);
	CU_ASSERT_EQUAL(status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n"), -413);
}

static void test_malformed(void)
{
	static const struct {
		const char *req;
		long want;
	} cases[] = {
		{"GET / HTTP/1.1\n\n", -400},                              /* bare LF */
		{"GET  / HTTP/1.1\r\n\r\n", -400},                         /* two spaces */
		{"GET / HTTP/1.1 \r\n\r\n", -400},                         /* trailing space */
		{" GET / HTTP/1.1\r\n\r\n", -400},
		{"G(T / HTTP/1.1\r\n\r\n", -400},                          /* not a token */
		{"GET /a\x01 HTTP/1.1\r\n\r\n", -400},                     /* control in the target */
		{"GET / HTTX/1.1\r\n\r\n", -400},
		{"GET / HTTP/2.0\r\n\r\n", -505},
		{"GET / HTTP/1.10\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost a\r\n\r\n", -400},                /* no colon */
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400},              /* space before the colon */
		{"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", -400},            /* obsolete folding */
		{"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", -400},               /* lone CR */
		{"GET / HTTP/1.1\r\nA: b\r\n\n", -400},
		{"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400},
		{"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400},
		{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", -400},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", -400},
		{"GET /\xff HTTP/1.1\r\n\r\n", -400},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long got = status_of(cases[i].req);
		if (got != cases[i].want)
			printf("  case %zu: got %ld, want %ld\n", i, got, cases[i].want);
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	/* Obs-text in a value is allowed. */
	CU_ASSERT(status_of("GET / HTTP/1.1\r\nA: caf\xc3\xa9\r\n\r\n") > 0);
}

/* The parser's contract on any input: the result is a known status, 0 or
 * a length within the input that a re-parse of exactly that much agrees
 * with, and a complete request's parts lie inside it. */
static void check_contract(const char *buf, size_t len)
{
	struct http_req rq;
	long n = http_parse(buf, len, &http_default_limits, &rq);
	if (n < 0) {
		CU_ASSERT(n == -400 || n == -413 || n == -414 || n == -431 || n == -501 || n == -505);
		return;
	}
	if (n == 0)
		return;
	CU_ASSERT((size_t)n <= len);
	CU_ASSERT(rq.head_len + rq.body_len == (size_t)n);
	CU_ASSERT(rq.method >= buf && rq.method + rq.method_len <= buf + rq.head_len);
	CU_ASSERT(rq.target >= buf && rq.target + rq.target_len <= buf + rq.head_len);
	struct http_req again;
	CU_ASSERT_EQUAL(http_parse(buf, (size_t)n, &http_default_limits, &again), n);
}

static void test_mutations(void)
{
	static const char good[] = "POST /users/7?q=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
				   "Connection: keep-alive\r\n\r\n{\"a\":[1,2]} GET / HTTP/1.1\r\n\r\n";
	static const char alphabet[] = "\r\n :\t0123456789aZ/\x7f\x00\xff-";
	uint64_t rng = harness_seed();
	char buf[256];
	for (int iter = 0; iter < 200000; iter++) {
		size_t len = sizeof good - 1;
		memcpy(buf, good, len);
		int edits = 1 + (int)(harness_rand(&rng) % 4);
		for (int e = 0; e < edits; e++) {
			size_t at = harness_rand(&rng) % len;
			switch (harness_rand(&rng) % 3) {
			case 0: buf[at] = alphabet[harness_rand(&rng) % (sizeof alphabet - 1)]; break;
			case 1: len = at + 1; break;   /* truncate */
			default:
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = alphabet[harness_rand(&rng) % (sizeof alphabet - 1)];
					len++;
				}
			}
		}
		check_contract(buf, len);
	}
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"whole and pipelined requests", test_whole},
		{"every prefix is incomplete", test_partial},
		{"keep-alive rules", test_keep_alive},
		{"limits and their statuses", test_limits},
		{"malformed requests", test_malformed},
		{"seeded mutations keep the contract", test_mutations},
		{NULL, NULL},
	};
	return harness_main("httpparse", tests);
}
