/*
 * httpparse.c — HTTP/1.1 request framing (see httpparse.h).
 *
 * One pass over the bytes given, no state kept between calls: a caller that
 * got 0 reads more and calls again from the request's first byte. Every
 * index is checked against len before it is read.
 */
#include <stdint.h>
#include <string.h>

#include "httpparse.h"

const struct http_limits http_default_limits = {
	.max_line = 8192,
	.max_header_bytes = 16384,
	.max_headers = 64,
	.max_body = (size_t)1 << 20,
};

/* RFC 9110 tchar: the bytes of a method or a field name. */
static bool tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Does s[0, n) equal lit, ignoring ASCII case? */
static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/* Marks the "close" and "keep-alive" tokens of a Connection value. */
static void connection_tokens(const char *v, size_t n, bool *close, bool *keep)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (ieq(v + a, b - a, "close"))
			*close = true;
		else if (ieq(v + a, b - a, "keep-alive"))
			*keep = true;
		i = j + 1;
	}
}

/* Parses "HTTP/d.d" (exactly 8 bytes at v). Returns 0 with the minor
 * version set, or the status for what it is not. */
static int version(const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.')
		return 400;
	char major = v[5], mi = v[7];
	if (major < '0' || major > '9' || mi < '0' || mi > '9')
		return 400;
	if (major != '1')
		return 505;
	*minor = mi == '0' ? 0 : 1;   /* 1.x for x > 1: answered as 1.1 (RFC 9110 section 6.2) */
	return 0;
}

long http_parse(const char *buf, size_t len, const struct http_limits *lim, struct http_req *rq)
{
	memset(rq, 0, sizeof *rq);
	size_t p = 0;
	for (int empties = 0; p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n'; p += 2)
		if (++empties > 4)
			return -400;
	rq->skipped = p;

	/* The request line: method SP target SP version CRLF. */
	const char *lf = p < len ? memchr(buf + p, '\n', len - p) : NULL;
	if (!lf)
		return len - p > lim->max_line + 1 ? -414 : 0;
	size_t avail = (size_t)(lf - (buf + p));
	if (avail == 0 || buf[p + avail - 1] != '\r')
		return -400;
	size_t end = p + avail - 1;
	if (end - p > lim->max_line)
		return -414;
	size_t i = p;
	while (i < end && tchar((unsigned char)buf[i]))
		i++;
	if (i == p || i >= end || buf[i] != ' ')
		return -400;
	rq->method = buf + p;
	rq->method_len = i - p;
	size_t t = ++i;
	while (i < end && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f)
		i++;
	if (i == t || i >= end || buf[i] != ' ')
		return -400;
	rq->target = buf + t;
	rq->target_len = i - t;
	i++;
	int st = version(buf + i, end - i, &rq->minor);
	if (st)
		return -st;

	/* Header fields up to the empty line. */
	size_t h = end + 2, hstart = h;
	bool have_cl = false, te = false, close = false, keep = false;
	size_t cl = 0;
	for (;;) {
		const char *e = h < len ? memchr(buf + h, '\n', len - h) : NULL;
		if (!e)
			return len - hstart > lim->max_header_bytes ? -431 : 0;
		size_t next = (size_t)(e - buf) + 1;
		if (next - hstart > lim->max_header_bytes)
			return -431;
		size_t ll = next - 1 - h;   /* with the CR */
		if (ll == 0 || buf[h + ll - 1] != '\r')
			return -400;
		ll--;
		if (ll == 0) {
			h = next;
			break;
		}
		if (++rq->nheaders > lim->max_headers)
			return -431;
		size_t k = h, le = h + ll;
		while (k < le && tchar((unsigned char)buf[k]))
			k++;
		/* No name, no colon, space before the colon, or a folded line. */
		if (k == h || k >= le || buf[k] != ':')
			return -400;
		const char *name = buf + h;
		size_t nlen = k - h;
		size_t v = k + 1, ve = le;
		while (v < ve && (buf[v] == ' ' || buf[v] == '\t'))
			v++;
		while (ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		for (size_t x = v; x < ve; x++) {
			unsigned char c = (unsigned char)buf[x];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -400;
		}
		if (ieq(name, nlen, "content-length")) {
			if (v == ve)
				return -400;
			size_t n = 0;
			bool big = false;
			for (size_t x = v; x < ve; x++) {
				if (buf[x] < '0' || buf[x] > '9')
					return -400;
				if (n > lim->max_body || n > (SIZE_MAX - 9) / 10)
					big = true;   /* keep checking the digits; no overflow past this */
				else
					n = n * 10 + (size_t)(buf[x] - '0');
			}
			if (big || n > lim->max_body)
				return -413;
			if (have_cl && n != cl)
				return -400;
			have_cl = true;
			cl = n;
		} else if (ieq(name, nlen, "transfer-encoding")) {
			te = true;
		} else if (ieq(name, nlen, "connection")) {
			connection_tokens(buf + v, ve - v, &close, &keep);
		}
		h = next;
	}
	if (te)
		return have_cl ? -400 : -501;
	rq->head_len = h;
	rq->body_len = cl;
	rq->keep_alive = rq->minor == 1 ? !close : keep && !close;
	if (cl > len - h)
		return 0;
	return (long)(h + cl);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
