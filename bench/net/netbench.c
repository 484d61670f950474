/* netbench: TCP throughput and round-trip latency for bench/net/run.sh.
 * One static i386 program that the runner runs on the host and inside the
 * guest (in its initramfs), so both ends of every test are the same code.
 *
 *	netbench sink ADDR:PORT            accept one connection, read to
 *	                                   EOF, answer with the byte count
 *	netbench send HOST:PORT MIB        send MIB MiB, half-close, wait
 *	                                   for the count
 *	netbench echo ADDR:PORT COUNT SIZE accept one connection, send back
 *	                                   COUNT messages of SIZE bytes
 *	netbench ping HOST:PORT COUNT SIZE COUNT round trips of SIZE bytes
 *
 * A server prints "NETBENCH-LISTEN <port>" once it listens (PORT 0 picks
 * a free one), which is what the runner waits for before it starts the
 * other end. Each side prints one result line, timed with
 * clock_gettime(CLOCK_MONOTONIC) on its own machine:
 *
 *	SINK <bytes> bytes <seconds> s <Mbit/s> Mbit/s   first byte to EOF
 *	SEND <bytes> bytes <seconds> s <Mbit/s> Mbit/s   connect to the count
 *	ECHO <count> msgs <seconds> s <us> us/rt   first message in to the
 *	                                           last out, over COUNT - 1
 *	PING <count> msgs <median> us median <mean> us mean <min> us min <max> us max
 *
 * The runner uses the host's side of each test (its clock is the real
 * one); the guest's lines are a cross-check. The data is checked: the
 * count must be what was sent, every echoed message must come back as
 * it went out. TCP_NODELAY on every socket; everything gives up after
 * --timeout seconds (default 300: a benchmark must not hang).
 * Exit status: 0 done, 1 a network error or wrong data, 2 bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)
#define MAX_MSG 65536u
#define MAX_COUNT 10000000u

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: netbench [--timeout SEC] sink ADDR:PORT | send HOST:PORT MIB |\n"
			"       echo ADDR:PORT COUNT SIZE | ping HOST:PORT COUNT SIZE\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long min, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "netbench: bad number '%s' (%lu to %lu)\n", s, min, max);
		exit(2);
	}
	return v;
}

/* "A.B.C.D:PORT" */
static struct sockaddr_in endpoint(const char *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		usage();
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "netbench: bad address '%s'\n", host);
		exit(2);
	}
	sa.sin_port = htons((uint16_t)number(colon + 1, 0, 65535));
	return sa;
}

static void nodelay(int fd)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

/* Listens on ADDR:PORT, says so, and returns the one connection. */
static int accept_one(const char *where)
{
	struct sockaddr_in sa = endpoint(where);
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(where);
	if (listen(fd, 1) || getsockname(fd, (struct sockaddr *)&sa, &len))
		die("listen");
	printf("NETBENCH-LISTEN %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		die("accept");
	close(fd);
	nodelay(c);
	return c;
}

static int connect_to(const char *where)
{
	struct sockaddr_in sa = endpoint(where);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(where);
	nodelay(fd);
	return fd;
}

/* Reads exactly len bytes; false at EOF before the first. */
static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0) {
			if (got)
				fprintf(stderr, "netbench: connection closed in a message\n"), exit(1);
			return 0;
		}
		got += (size_t)n;
	}
	return 1;
}

static void write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		put += (size_t)n;
	}
}

static double mbits(uint64_t bytes, double s)
{
	return s > 0 ? (double)bytes * 8 / s / 1e6 : 0;
}

static int do_sink(const char *where)
{
	static char buf[CHUNK];
	int c = accept_one(where);
	uint64_t total = 0;
	double t0 = 0;
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (!total)
			t0 = now();
		total += (uint64_t)n;
	}
	double s = total ? now() - t0 : 0;
	uint64_t le = total;	/* both ends are i386: the count as it is */
	write_full(c, &le, sizeof(le));
	close(c);
	printf("SINK %llu bytes %.6f s %.1f Mbit/s\n", (unsigned long long)total, s, mbits(total, s));
	return 0;
}

static int do_send(const char *where, unsigned long mib)
{
	static char buf[CHUNK];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	uint64_t total = (uint64_t)mib << 20, echoed;
	double t0 = now();
	int fd = connect_to(where);
	for (uint64_t sent = 0; sent < total; sent += sizeof(buf))
		write_full(fd, buf, sizeof(buf));
	if (shutdown(fd, SHUT_WR))
		die("shutdown");
	if (!read_full(fd, &echoed, sizeof(echoed))) {
		fprintf(stderr, "netbench: no byte count from the sink\n");
		return 1;
	}
	double s = now() - t0;
	close(fd);
	if (echoed != total) {
		fprintf(stderr, "netbench: the sink got %llu bytes of %llu\n",
			(unsigned long long)echoed, (unsigned long long)total);
		return 1;
	}
	printf("SEND %llu bytes %.6f s %.1f Mbit/s\n", (unsigned long long)total, s, mbits(total, s));
	return 0;
}

static int do_echo(const char *where, unsigned long count, unsigned long size)
{
	static char buf[MAX_MSG];
	int c = accept_one(where);
	double t0 = 0;
	for (unsigned long i = 0; i < count; i++) {
		if (!read_full(c, buf, size)) {
			fprintf(stderr, "netbench: the peer stopped after %lu messages of %lu\n", i, count);
			return 1;
		}
		if (!i)
			t0 = now();
		write_full(c, buf, size);
	}
	double s = now() - t0;
	close(c);
	printf("ECHO %lu msgs %.6f s %.1f us/rt\n", count, s, count > 1 ? s / (double)(count - 1) * 1e6 : 0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int do_ping(const char *where, unsigned long count, unsigned long size)
{
	static char out[MAX_MSG], in[MAX_MSG];
	double *rt = malloc(count * sizeof(*rt));
	if (!rt)
		die("malloc");
	int fd = connect_to(where);
	double sum = 0;
	for (unsigned long i = 0; i < count; i++) {
		for (unsigned long j = 0; j < size; j++)
			out[j] = (char)(i + j * 3);
		double t0 = now();
		write_full(fd, out, size);
		if (!read_full(fd, in, size) || memcmp(in, out, size)) {
			fprintf(stderr, "netbench: round trip %lu did not come back as sent\n", i);
			return 1;
		}
		rt[i] = (now() - t0) * 1e6;
		sum += rt[i];
	}
	close(fd);
	qsort(rt, count, sizeof(*rt), cmp_double);
	printf("PING %lu msgs %.1f us median %.1f us mean %.1f us min %.1f us max\n", count,
	       rt[count / 2], sum / (double)count, rt[0], rt[count - 1]);
	free(rt);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long timeout = 300;
	int i = 1;
	if (argc > 2 && !strcmp(argv[1], "--timeout")) {
		timeout = number(argv[2], 1, 86400);
		i = 3;
	}
	if (argc - i < 2)
		usage();
	/* SIGALRM's default action ends the process: nothing hangs for good. */
	alarm((unsigned)timeout);
	signal(SIGPIPE, SIG_IGN);	/* a closed peer is write's EPIPE */
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argv[i], *where = argv[i + 1];
	int left = argc - i - 2;
	char **rest = argv + i + 2;
	if (!strcmp(mode, "sink") && left == 0)
		return do_sink(where);
	if (!strcmp(mode, "send") && left == 1)
		return do_send(where, number(rest[0], 1, 1u << 20));
	if (!strcmp(mode, "echo") && left == 2)
		return do_echo(where, number(rest[0], 1, MAX_COUNT), number(rest[1], 1, MAX_MSG));
	if (!strcmp(mode, "ping") && left == 2)
		return do_ping(where, number(rest[0], 1, MAX_COUNT), number(rest[1], 1, MAX_MSG));
	usage();
	return 2;
}
