/*
 * fuzz_httpparse.c — libFuzzer target for the servers' request framing
 * (workloads/httpd/httpparse.c). Aborts when the parser breaks its contract: a
 * result that is not a known status, 0 or a length within the input; a
 * complete request whose parts lie outside it; a re-parse of exactly that
 * length that disagrees; or a parse under tighter limits that accepts what
 * the default limits refused for size. ASan and UBSan catch the rest.
 *
 * Built with clang by tests/CMakeLists.txt (ctest fuzz_httpparse, a brief
 * run in tests/run); by hand:
 *   build/sanitize/tests/fuzz_httpparse -runs=5000000 tests/fuzz_corpus/httpparse
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workloads/httpd/httpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *buf, size_t len, const struct http_limits *lim)
{
	struct http_req rq;
	long n = http_parse(buf, len, lim, &rq);
	if (n < 0) {
		if (n != -400 && n != -413 && n != -414 && n != -431 && n != -501 && n != -505)
			abort();
		return;
	}
	if (n == 0)
		return;
	if ((size_t)n > len || rq.head_len + rq.body_len != (size_t)n || rq.body_len > lim->max_body)
		abort();
	if (rq.method < buf || rq.method + rq.method_len > buf + rq.head_len || !rq.method_len)
		abort();
	if (rq.target < buf || rq.target + rq.target_len > buf + rq.head_len || !rq.target_len)
		abort();
	if (rq.nheaders > lim->max_headers || (rq.minor != 0 && rq.minor != 1))
		abort();
	struct http_req again;
	if (http_parse(buf, (size_t)n, lim, &again) != n)
		abort();
	/* A complete request's proper prefix is incomplete, not an error. */
	if (http_parse(buf, (size_t)n - 1, lim, &again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check(buf, size, &http_default_limits);
	const struct http_limits tight = {.max_line = 16, .max_header_bytes = 40, .max_headers = 2, .max_body = 8};
	check(buf, size, &tight);
	free(buf);
	return 0;
}
