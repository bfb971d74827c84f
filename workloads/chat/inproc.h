/*
 * inproc.h — chat's in-process transport (--transport=inproc): a
 * connection's two ends joined by two byte streams in memory instead of a
 * socketpair, so a run is not bounded by the descriptor limit.
 *
 * End 2i is connection i's server end, 2i+1 its client end. The calls
 * behave as chat needs the socket calls to: a read blocks (parks the
 * goroutine) until bytes arrive, returns 0 once the peer closed and every
 * byte was read, and -1 with EBADF once its own end is closed (a reader
 * blocked at that moment is woken); a write blocks while the stream holds
 * its bound, and fails with EPIPE once the peer's end is closed. One reader
 * and one writer per stream at a time, as chat uses them.
 */
#ifndef CHAT_INPROC_H
#define CHAT_INPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for conns connections, each stream holding up to depth writes. */
int inproc_init(int64_t conns, size_t depth);
/* Makes connection i's pair; 0, or -1 (ENOMEM). */
int inproc_connect(int64_t i);
ssize_t inproc_read(int64_t end, void *buf, size_t n);
ssize_t inproc_write(int64_t end, const void *buf, size_t n);
/* Closes an end: the peer reads end of stream, its writes fail; the pair is
 * freed when both ends are closed. */
void inproc_close(int64_t end);

#endif
