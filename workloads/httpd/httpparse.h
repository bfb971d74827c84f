/*
 * httpparse.h — HTTP/1.1 request framing for the servers (httpd): where a
 * request in a connection's bytes ends, whether the connection stays open,
 * and what makes it an error. Hostile input is normal input: every limit
 * has a status, every malformed byte sequence is a 400, and the parser
 * reads nothing past the bytes it is given.
 *
 *   struct http_req rq;
 *   long n = http_parse(buf, len, &http_default_limits, &rq);
 *   if (n > 0)  ... rq describes buf[0, n); the next request starts at buf + n
 *   if (n == 0) ... read more (the limits were checked on what is there)
 *   if (n < 0)  ... answer status -n and close
 *
 * Strict on purpose (request smuggling lives in leniency): lines end in
 * CRLF; no obsolete line folding; no control bytes in names or values;
 * Content-Length is digits, and repeated ones must agree;
 * Transfer-Encoding is not implemented (501), and with Content-Length it is
 * a 400. Up to four empty lines before a request line are skipped (RFC 9112
 * section 2.2 asks servers to ignore at least one).
 */
#ifndef HTTPPARSE_H
#define HTTPPARSE_H

#include <stdbool.h>
#include <stddef.h>

struct http_limits {
	size_t max_line;          /* request line, bytes without CRLF (414 past it) */
	size_t max_header_bytes;  /* header section after the request line (431) */
	size_t max_headers;       /* header fields (431) */
	size_t max_body;          /* Content-Length (413) */
};
extern const struct http_limits http_default_limits;   /* 8K line, 16K headers, 64 fields, 1M body */

struct http_req {
	const char *method, *target;   /* into the caller's buffer, not NUL-terminated */
	size_t method_len, target_len;
	int minor;                     /* HTTP/1.minor: 0 or 1 */
	size_t head_len;               /* bytes up to and including the empty line */
	size_t body_len;               /* Content-Length, 0 without one */
	size_t skipped;                /* empty lines skipped before the request line, bytes */
	bool keep_alive;               /* 1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
	size_t nheaders;
};

/* > 0: a whole request, this many bytes (head and body); 0: incomplete and
 * within the limits so far; < 0: minus the status to answer (400, 413,
 * 414, 431, 501, 505), after which the connection is closed. */
long http_parse(const char *buf, size_t len, const struct http_limits *lim, struct http_req *rq);

/* The reason phrase of a status this parser or the server sends. */
const char *http_reason(int status);

#endif /* HTTPPARSE_H */
