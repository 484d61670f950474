/* The monitor's Unix socket: accepting clients, reading their lines on
 * one thread, each client's backlog of replies its socket has not taken
 * (written by that thread as the client reads), and the socket file's
 * life (monitor_socket.h). */
#define _GNU_SOURCE
#include "host/monitor_socket.h"
#include "host/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536u
#define BACKLOG_MIN_CAP 4096u

struct client {
	int fd;             /* -1: the slot is free */
	uint64_t id;
	/* Under the lock: the slot is to be freed by the socket thread (its
	 * backlog overflowed, or its socket failed). */
	bool closing;
	/* Under the lock: bytes sent that its socket has not taken yet. */
	char *out;
	size_t out_len, out_cap;
	/* The socket thread's only. */
	char *buf;          /* bytes of a line not ended yet */
	size_t len;
	bool overlong;      /* the current line is past LINE_MAX_BYTES: dropped */
};

struct monitor_socket {
	char *path;
	int listen_fd;
	int wake[2];        /* a byte in it: the socket thread looks again */
	atomic_bool stopping;
	pthread_t thread;
	bool thread_running;
	struct monitor_socket_ops ops;
	/* Guards the clients' fds, ids and backlogs: any thread sends. */
	pthread_mutex_t lock;
	uint64_t next_id;   /* the socket thread's */
	struct client clients[MONITOR_SOCKET_MAX_CLIENTS];
};

static void wake_thread(struct monitor_socket *s)
{
	/* The pipe is non-blocking: a full one wakes the thread anyway. */
	while (write(s->wake[1], "", 1) < 0 && errno == EINTR)
		;
}

/* Frees the slot; gone: tell the monitor, which then forgets the client. */
static void client_drop(struct monitor_socket *s, struct client *c, bool gone)
{
	pthread_mutex_lock(&s->lock);
	uint64_t id = c->id;
	close(c->fd);
	c->fd = -1;
	c->closing = false;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	pthread_mutex_unlock(&s->lock);
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->overlong = false;
	if (gone && s->ops.gone)
		s->ops.gone(s->ops.opaque, id);
}

/* Lock held: the client is to go; the socket thread frees its slot. */
static void client_doom(struct monitor_socket *s, struct client *c)
{
	c->closing = true;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	wake_thread(s);
}

/* Lock held: writes what the socket takes of the backlog without waiting.
 * Returns whether the backlog is empty now. */
static bool client_flush(struct monitor_socket *s, struct client *c)
{
	size_t done = 0;
	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_doom(s, c);
			return false;
		}
		done += (size_t)n;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	return c->out_len == 0;
}

/* Lock held: text after what the client was sent before. */
static void client_queue(struct monitor_socket *s, struct client *c, const char *text, size_t len)
{
	if (c->closing || !len)
		return;
	bool was_empty = c->out_len == 0;
	if (c->out_len + len > MONITOR_SOCKET_BACKLOG_MAX) {
		/* It does not read what it asked for. */
		client_doom(s, c);
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : BACKLOG_MIN_CAP;
		while (cap < c->out_len + len)
			cap *= 2;
		char *out = realloc(c->out, cap);
		if (!out) {
			client_doom(s, c);
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
	if (was_empty && !client_flush(s, c) && !c->closing)
		wake_thread(s);   /* to wait for room in its socket */
}

static struct client *client_find(struct monitor_socket *s, uint64_t id)
{
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].id == id)
			return &s->clients[i];
	return NULL;
}

static void accept_client(struct monitor_socket *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
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
	pthread_mutex_lock(&s->lock);
	s->clients[slot].fd = fd;
	s->clients[slot].id = ++s->next_id;
	pthread_mutex_unlock(&s->lock);
	if (s->ops.greeting)
		monitor_socket_send(s, s->clients[slot].id, s->ops.greeting,
				    strlen(s->ops.greeting));
}

/* Reads what a client sent and hands on each complete line; false when it
 * has gone or is to go. */
static bool client_read(struct monitor_socket *s, unsigned slot)
{
	struct client *c = &s->clients[slot];
	char chunk[4096];
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
	if (n == 0)
		return false;
	if (!c->buf) {
		c->buf = malloc(LINE_MAX_BYTES);
		if (!c->buf)
			return false;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = chunk[i];
		if (ch == '\n') {
			bool overlong = c->overlong;
			size_t len = c->len;
			c->len = 0;
			c->overlong = false;
			if (overlong) {
				static const char too_long[] = "{\"error\": {\"class\": \"GenericError\", "
							       "\"desc\": \"line too long\"}}\n";
				monitor_socket_send(s, c->id, too_long, sizeof(too_long) - 1);
				continue;
			}
			if (len && c->buf[len - 1] == '\r')
				len--;
			c->buf[len] = '\0';
			if (!s->ops.line(s->ops.opaque, c->id, c->buf, len))
				return false;
			continue;
		}
		if (c->overlong)
			continue;
		if (c->len + 1 >= LINE_MAX_BYTES) {
			c->overlong = true;
			continue;
		}
		c->buf[c->len++] = ch;
	}
	return true;
}

static void *socket_main(void *arg)
{
	struct monitor_socket *s = arg;
	while (!atomic_load(&s->stopping)) {
		struct pollfd fds[2 + MONITOR_SOCKET_MAX_CLIENTS];
		unsigned slot_of[2 + MONITOR_SOCKET_MAX_CLIENTS];
		uint64_t id_of[2 + MONITOR_SOCKET_MAX_CLIENTS];
		unsigned n = 0;
		for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++) {
			struct client *c = &s->clients[i];
			pthread_mutex_lock(&s->lock);
			bool closing = c->fd >= 0 && c->closing;
			pthread_mutex_unlock(&s->lock);
			if (closing)
				client_drop(s, c, true);
		}
		fds[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		pthread_mutex_lock(&s->lock);
		for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++) {
			const struct client *c = &s->clients[i];
			if (c->fd < 0)
				continue;
			slot_of[n] = i;
			id_of[n] = c->id;
			fds[n++] = (struct pollfd){ .fd = c->fd,
						    .events = POLLIN | (c->out_len ? POLLOUT : 0) };
		}
		pthread_mutex_unlock(&s->lock);
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			char drain[64];
			while (read(s->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		if (fds[1].revents & POLLIN)
			accept_client(s);
		for (unsigned i = 2; i < n; i++) {
			struct client *c = &s->clients[slot_of[i]];
			if (!fds[i].revents || c->fd < 0 || c->id != id_of[i])
				continue;
			if (fds[i].revents & POLLOUT) {
				pthread_mutex_lock(&s->lock);
				bool drained = c->out_len && !c->closing && client_flush(s, c);
				pthread_mutex_unlock(&s->lock);
				if (drained && s->ops.drained)
					s->ops.drained(s->ops.opaque, c->id);
			}
			if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && !client_read(s, slot_of[i]))
				client_drop(s, c, true);
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
	atomic_init(&s->stopping, false);
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->path = strdup(path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!s->path || s->listen_fd < 0) {
		ret = s->path ? -errno : -ENOMEM;
		goto fail;
	}
	/* Whoever can connect controls the machine (and writes files as
	 * this user through savevm): the socket is this user's alone. The
	 * umask covers the window between bind and chmod; a file another
	 * thread makes meanwhile is only the more private for it. */
	mode_t old_umask = umask(077);
	int bound = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (bound) {
		ret = -errno;
		goto fail;
	}
	if (chmod(path, 0600) || listen(s->listen_fd, 4)) {
		ret = -errno;
		goto fail_unlink;
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
		ret = -errno;
		goto fail_unlink;
	}
	/* Before the thread starts: its callbacks may find s through *out
	 * (the monitor's m->sock) as soon as a client connects. */
	*out = s;
	s->thread_running = true;
	ret = host_thread_create(&s->thread, socket_main, s);
	if (ret) {
		*out = NULL;
		s->thread_running = false;
		goto fail_unlink;
	}
	return 0;

fail_unlink:
	unlink(path);
fail:
	snprintf(err, err_len, "cannot listen on the monitor socket %s: %s", path, strerror(-ret));
	s->thread_running = false;
	monitor_socket_close(s);
	return ret;
}

void monitor_socket_send(struct monitor_socket *s, uint64_t client, const char *text, size_t len)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	struct client *c = client_find(s, client);
	if (c)
		client_queue(s, c, text, len);
	pthread_mutex_unlock(&s->lock);
}

void monitor_socket_broadcast(struct monitor_socket *s, const char *text, size_t len)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_queue(s, &s->clients[i], text, len);
	pthread_mutex_unlock(&s->lock);
}

bool monitor_socket_backlogged(struct monitor_socket *s, uint64_t client)
{
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	const struct client *c = client_find(s, client);
	bool backlogged = c && c->out_len;
	pthread_mutex_unlock(&s->lock);
	return backlogged;
}

void monitor_socket_close(struct monitor_socket *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		atomic_store(&s->stopping, true);
		wake_thread(s);
		pthread_join(s->thread, NULL);
		unlink(s->path);
	}
	for (unsigned i = 0; i < MONITOR_SOCKET_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_drop(s, &s->clients[i], false);
	for (int i = 0; i < 2; i++)
		if (s->wake[i] >= 0)
			close(s->wake[i]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}
