/* gdb's remote protocol over TCP: the listener, the one client, the
 * packet framing and acknowledgments (gdb_socket.h). */
#define _GNU_SOURCE
#include "host/gdb_socket.h"
#include "host/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define INTERRUPT_BYTE 0x03

enum rx_state { RX_IDLE, RX_DATA, RX_SUM1, RX_SUM2 };

struct gdb_socket {
	int listen_fd;
	int wake[2];
	pthread_t thread;
	bool thread_running;
	struct gdb_socket_ops ops;
	/* Guards client_fd, no_ack and last against the thread's changes
	 * during a send, and keeps a packet and an ack from interleaving. */
	pthread_mutex_t lock;
	int client_fd;
	bool no_ack;
	char *last;             /* the last packet sent, framed, for a '-' */
	size_t last_len;
	/* The packet being received (the reader thread's alone). */
	enum rx_state rx;
	char *buf;              /* raw payload, escapes still in */
	size_t len;
	bool overlong;
	uint8_t sum;
	unsigned sum_digits;
};

int gdb_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Caller holds the lock. A client that does not take it is cut off: its
 * reader then sees the end of the connection. */
static void send_locked(struct gdb_socket *s, const char *data, size_t len)
{
	if (s->client_fd < 0)
		return;
	while (len) {
		ssize_t n = send(s->client_fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			shutdown(s->client_fd, SHUT_RDWR);
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

static void send_ack(struct gdb_socket *s, char ack)
{
	pthread_mutex_lock(&s->lock);
	if (!s->no_ack)
		send_locked(s, &ack, 1);
	pthread_mutex_unlock(&s->lock);
}

void gdb_socket_send(struct gdb_socket *s, const char *payload, size_t len)
{
	/* '$', '#', '}' and '*' (run-length) are escaped as '}' c ^ 0x20. */
	char *frame = malloc(len * 2 + 5);   /* $, #, two digits, snprintf's 0 */
	if (!frame)
		return;
	size_t n = 0;
	uint8_t sum = 0;
	frame[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		char c = payload[i];
		if (c == '$' || c == '#' || c == '}' || c == '*') {
			frame[n++] = '}';
			sum = (uint8_t)(sum + '}');
			c ^= 0x20;
		}
		frame[n++] = c;
		sum = (uint8_t)(sum + (uint8_t)c);
	}
	snprintf(frame + n, 4, "#%02x", sum);
	n += 3;
	pthread_mutex_lock(&s->lock);
	send_locked(s, frame, n);
	free(s->last);
	s->last = frame;
	s->last_len = n;
	pthread_mutex_unlock(&s->lock);
}

void gdb_socket_no_ack(struct gdb_socket *s)
{
	pthread_mutex_lock(&s->lock);
	s->no_ack = true;
	pthread_mutex_unlock(&s->lock);
}

/* A whole packet came: checked, acknowledged, unescaped, handed on. */
static void packet_done(struct gdb_socket *s)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < s->len; i++)
		sum = (uint8_t)(sum + (uint8_t)s->buf[i]);
	if (s->overlong || sum != s->sum) {
		/* gdb sends it again. */
		send_ack(s, '-');
		return;
	}
	send_ack(s, '+');
	size_t out = 0;
	for (size_t i = 0; i < s->len; i++) {
		char c = s->buf[i];
		if (c == '}' && i + 1 < s->len)
			c = (char)(s->buf[++i] ^ 0x20);
		s->buf[out++] = c;
	}
	s->buf[out] = '\0';
	s->ops.packet(s->ops.opaque, s->buf, out);
}

static void rx_byte(struct gdb_socket *s, char c)
{
	switch (s->rx) {
	case RX_IDLE:
		if (c == '$') {
			s->rx = RX_DATA;
			s->len = 0;
			s->overlong = false;
		} else if (c == INTERRUPT_BYTE) {
			s->ops.interrupt(s->ops.opaque);
		} else if (c == '-') {
			pthread_mutex_lock(&s->lock);
			if (s->last && !s->no_ack)
				send_locked(s, s->last, s->last_len);
			pthread_mutex_unlock(&s->lock);
		}
		/* '+' and anything else between packets: nothing to do. */
		break;
	case RX_DATA:
		if (c == '#') {
			s->rx = RX_SUM1;
			s->sum = 0;
			s->sum_digits = 0;
		} else if (c == '$') {
			s->len = 0;   /* a packet cut short: the new one counts */
			s->overlong = false;
		} else if (s->len < GDB_PACKET_MAX) {
			s->buf[s->len++] = c;
		} else {
			s->overlong = true;
		}
		break;
	case RX_SUM1:
	case RX_SUM2: {
		int d = gdb_hex_value(c);
		if (d < 0) {
			s->rx = RX_IDLE;
			send_ack(s, '-');
			break;
		}
		s->sum = (uint8_t)(s->sum << 4 | d);
		if (s->rx == RX_SUM1) {
			s->rx = RX_SUM2;
			break;
		}
		s->rx = RX_IDLE;
		packet_done(s);
		break;
	}
	}
}

static void drop_client(struct gdb_socket *s)
{
	pthread_mutex_lock(&s->lock);
	close(s->client_fd);
	s->client_fd = -1;
	free(s->last);
	s->last = NULL;
	pthread_mutex_unlock(&s->lock);
	s->ops.disconnected(s->ops.opaque);
}

static void accept_client(struct gdb_socket *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (s->client_fd >= 0) {
		/* One debugger at a time: the newcomer is turned away. */
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&s->lock);
	s->client_fd = fd;
	s->no_ack = false;
	pthread_mutex_unlock(&s->lock);
	s->rx = RX_IDLE;
	s->ops.connected(s->ops.opaque);
}

static void *socket_thread(void *arg)
{
	struct gdb_socket *s = arg;
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = s->wake[0], .events = POLLIN },
			{ .fd = s->listen_fd, .events = POLLIN },
			{ .fd = s->client_fd, .events = POLLIN },
		};
		if (poll(pfd, s->client_fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			accept_client(s);
		if (s->client_fd >= 0 && pfd[2].revents) {
			char chunk[4096];
			ssize_t n = recv(s->client_fd, chunk, sizeof(chunk), 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				drop_client(s);
				continue;
			}
			for (ssize_t i = 0; i < n; i++)
				rx_byte(s, chunk[i]);
		}
	}
	return NULL;
}

int gdb_socket_open(struct gdb_socket **out, const char *host, uint16_t port,
		    const struct gdb_socket_ops *ops, char *err, size_t err_len)
{
	const char *name = host && *host ? host : "127.0.0.1";
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char portstr[8];
	int ret;
	*out = NULL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(name, portstr, &hints, &ai);
	if (gai) {
		snprintf(err, err_len, "--gdb: cannot resolve '%s': %s", name, gai_strerror(gai));
		return -EINVAL;
	}
	struct gdb_socket *s = calloc(1, sizeof(*s));
	char *buf = malloc(GDB_PACKET_MAX + 1);
	if (!s || !buf) {
		free(s);
		free(buf);
		freeaddrinfo(ai);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->buf = buf;
	s->ops = *ops;
	s->client_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "--gdb: cannot make a socket: %s", strerror(errno));
		goto fail;
	}
	int one = 1;
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s->listen_fd, 1) < 0) {
		ret = -errno;
		snprintf(err, err_len, "--gdb: cannot listen on %s port %u: %s", name, port,
			 strerror(errno));
		goto fail;
	}
	if (pipe2(s->wake, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(err, err_len, "--gdb: %s", strerror(errno));
		goto fail;
	}
	ret = host_thread_create(&s->thread, socket_thread, s);
	if (ret) {
		snprintf(err, err_len, "--gdb: cannot start its thread: %s", strerror(-ret));
		goto fail;
	}
	s->thread_running = true;
	freeaddrinfo(ai);
	*out = s;
	return 0;
fail:
	freeaddrinfo(ai);
	gdb_socket_close(s);
	return ret;
}

void gdb_socket_close(struct gdb_socket *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		char c = 0;
		if (write(s->wake[1], &c, 1) < 0) {
			/* A full pipe wakes the thread as well. */
		}
		pthread_join(s->thread, NULL);
	}
	if (s->client_fd >= 0)
		close(s->client_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	for (int i = 0; i < 2; i++)
		if (s->wake[i] >= 0)
			close(s->wake[i]);
	pthread_mutex_destroy(&s->lock);
	free(s->last);
	free(s->buf);
	free(s);
}
