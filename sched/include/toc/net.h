/*
 * net.h — sockets on the epoll poller. A goroutine that would block parks;
 * its worker runs other goroutines. Descriptors are made non-blocking and
 * registered once (edge-triggered) on first use.
 *
 * Deadlines are sched_nanotime() values; 0 means none. A timed-out call
 * returns -1 with errno ETIMEDOUT. Other errors are the system calls'.
 */
#ifndef SCHED_NET_H
#define SCHED_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A TCP listener on host:port ("127.0.0.1", 0 picks a port). Returns the fd or -1. */
int sched_net_listen_tcp(const char *host, int port, int backlog);
/* The port a socket is bound to, or -1. */
int sched_net_local_port(int fd);

int sched_net_accept(int lfd, struct sockaddr *addr, socklen_t *len, int64_t deadline);
/* Connects a new TCP socket to host:port; returns the fd or -1. */
int sched_net_dial_tcp(const char *host, int port, int64_t deadline);
/* Reads up to n bytes; 0 at end of stream. */
ssize_t sched_net_read(int fd, void *buf, size_t n, int64_t deadline);
/* Writes all n bytes (or fails); returns n or -1. */
ssize_t sched_net_write(int fd, const void *buf, size_t n, int64_t deadline);
/* Makes fd (any pollable descriptor, e.g. one end of a socketpair) usable here. */
int sched_net_adopt(int fd);
/* Wakes goroutines blocked on fd (they get EBADF) and closes it. */
int sched_net_close(int fd);

#endif /* SCHED_NET_H */
