/* The monitor's Unix socket: accepting clients, reading their lines on
 * one thread, writing replies from any thread, and the socket file's life
 * (monitor_socket.h). */
#define _GNU_SOURCE
#include "host/monitor_socket.h"
#include "host/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536u

struct client {
	int fd;             /* -1: the slot is free */
	char *buf;          /* bytes of a line not ended yet */
	size_t len;
	bool overlong;      /* the current line is past LINE_MAX_BYTES: dropped */
};

struct monitor_socket {
	char *path;
	int listen_fd;
	int wake[2];
	pthread_t thread;
	bool thread_running;
	struct monitor_socket_ops ops;
	/* Guards the fds of clients against closing during a send. */
	pthread_mutex_t lock;
	struct client clients[MONITOR_SOCKET_MAX_CLIENTS];
};

static void client_drop(struct monitor_socket *s, struct client *c)
{
	pthread_mutex_lock(&s->lock);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&s->lock);
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->overlong = false;
}

static void accept_client(struct monitor_socket *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	unsigned slot = 0;
	while (slot < MONITOR_SOCKET_MAX_CLIENTS && s->clients[slot].fd >= 0)
		slot++;
	if (slot == MONITOR_SOCKET_MAX_CLIENTS) {
		static const char full[] = "{\"error\": {\"class\": \"GenericError\", "
					   "\"desc\": \"too many monitor clients\"}}\n";
		if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* It is being turned away anyway. */
		}
		close(fd);
		return;
	}
	/* A client that stops reading must not hold up the vCPU's replies. */
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&s->lock);
	s->clients[slot].fd = fd;
	pthread_mutex_unlock(&s->lock);
	if (s->ops.greeting)
		monitor_socket_send(s, slot + 1, s->ops.greeting);
}

/* Reads what a client sent and hands on each complete line; false when it
 * has gone. */
static bool client_read(struct monitor_socket *s, unsigned slot)
{
	struct client *c = &s->clients[slot];
	char chunk[4096];
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		char ch = chunk[i];
		if (ch == '\n') {
			if (!c->overlong) {
				if (c->len && c->buf[c->len - 1] == '\r')
					c->len--;
				char *line = c->buf ? c->buf : (char[1]){ 0 };
				line[c->len] = '\0';
				s->ops.line(s->ops.opaque, slot + 1, line);
			} else {
				monitor_socket_send(s, slot + 1,
						    "{\"error\": {\"class\": \"GenericError\", "
						    "\"desc\": \"line too long\"}}\n");
			}
			c->len = 0;
			c->overlong = false;
			continue;
		}
		if (c->overlong)
			continue;
		if (c->len + 1 >= LINE_MAX_BYTES) {
			c->overlong = true;
			continue;
		}
		if (!c->buf) {
			c->buf = malloc(LINE_MAX_BYTES);
			if (!c->buf)
				return false;
		}
		c->buf[c->len++] = ch;
	}
	return true;
}

static void *socket_main(void *arg)
{
	struct monitor_socket *s = arg;
	for (;;) {
		struct pollfd fds[2 + MONITOR_SOCKET_MAX_CLIENTS];
		unsigned slot_of[2 + MONITOR_SOCKET_MAX_CLIENTS];
		unsigned n = 0;
		fds[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++) {
			if (s->clients[i].fd < 0)
				continue;
			slot_of[n] = i;
			fds[n++] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
		}
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents & POLLIN)
			accept_client(s);
		for (unsigned i = 2; i < n; i++) {
			if (!fds[i].revents)
				continue;
			if (!client_read(s, slot_of[i]))
				client_drop(s, &s->clients[slot_of[i]]);
		}
	}
	return NULL;
}

/* Whether something answers on the socket at addr. */
static bool socket_alive(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool alive = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return alive;
}

int monitor_socket_open(struct monitor_socket **out, const char *path,
			const struct monitor_socket_ops *ops, char *err, size_t err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;
	*out = NULL;
	if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "monitor socket path '%s' is empty or too long (at most %zu bytes)",
			 path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_len, "monitor socket %s: a file that is not a socket is there",
				 path);
			return -EEXIST;
		}
		if (socket_alive(&addr)) {
			snprintf(err, err_len, "monitor socket %s is in use by another program", path);
			return -EADDRINUSE;
		}
		unlink(path);   /* left by a btvm that did not end cleanly */
	}
	struct monitor_socket *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->ops = *ops;
	s->wake[0] = s->wake[1] = -1;
	s->listen_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->path = strdup(path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!s->path || s->listen_fd < 0) {
		ret = s->path ? -errno : -ENOMEM;
		goto fail;
	}
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(s->listen_fd, 4)) {
		ret = -errno;
		goto fail;
	}
	if (pipe2(s->wake, O_CLOEXEC)) {
		ret = -errno;
		goto fail_unlink;
	}
	ret = host_thread_create(&s->thread, socket_main, s);
	if (ret)
		goto fail_unlink;
	s->thread_running = true;
	*out = s;
	return 0;

fail_unlink:
	unlink(path);
fail:
	snprintf(err, err_len, "cannot listen on the monitor socket %s: %s", path, strerror(-ret));
	s->thread_running = false;
	monitor_socket_close(s);
	return ret;
}

static void send_all(struct monitor_socket *s, struct client *c, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Gone, or not reading: the socket thread sees the
			 * shutdown and drops it. */
			shutdown(c->fd, SHUT_RDWR);
			return;
		}
		text += n;
		len -= (size_t)n;
	}
	(void)s;
}

void monitor_socket_send(struct monitor_socket *s, unsigned client, const char *text)
{
	size_t len = strlen(text);
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++) {
		struct client *c = &s->clients[i];
		if (c->fd >= 0 && (!client || client == i + 1))
			send_all(s, c, text, len);
	}
	pthread_mutex_unlock(&s->lock);
}

void monitor_socket_close(struct monitor_socket *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		while (write(s->wake[1], "", 1) < 0 && errno == EINTR)
			;
		pthread_join(s->thread, NULL);
		unlink(s->path);
	}
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_drop(s, &s->clients[i]);
	for (int i = 0; i < 2; i++)
		if (s->wake[i] >= 0)
			close(s->wake[i]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}
