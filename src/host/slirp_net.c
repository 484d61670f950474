/* The libslirp backend: the --net parser, the Slirp instance with its
 * hostfwd rules, and the thread that runs slirp's poll loop and timers and
 * feeds it the guest's frames. See slirp_net.h. */
#define _GNU_SOURCE
#include "host/slirp_net.h"
#include "host/thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

/* Slirp's poll set grows with the guest's connections; this is the start. */
#define POLLFDS_INITIAL 32u
/* The longest poll(2) sleep: slirp's own timeouts come through fill and
 * the timers, this only bounds a missed one. */
#define POLL_MAX_MS 1000u

struct tx_frame {
	struct tx_frame *next;
	size_t len;
	uint8_t data[];
};

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;	/* -1: not armed */
};

struct slirp_net {
	Slirp *slirp;
	slirp_net_receive_fn receive;
	void *opaque;
	int wake_fd;		/* eventfd: frames queued, or stop */

	/* The backend thread's own (the caller's before start). */
	struct slirp_timer *timers;
	struct pollfd *pfds;
	unsigned npfds, pfds_cap;
	uint64_t rx_frames, guest_errors;

	/* Shared, under lock. */
	pthread_mutex_t lock;
	struct tx_frame *txq, *txq_tail;
	unsigned txq_len;
	bool stop;
	uint64_t tx_frames, tx_dropped;

	pthread_t thread;
	bool thread_running;
};

/* ---- The --net parser --------------------------------------------------- */

static int parse_fail(char *err, size_t errlen, const char *arg, const char *why)
{
	snprintf(err, errlen, "--net %s: %s", arg, why);
	return -EINVAL;
}

/* "[ADDR]:PORT" ending at end; an empty ADDR leaves *addr alone. */
static bool parse_endpoint(const char *s, const char *end, struct in_addr *addr, uint16_t *port)
{
	const char *colon = NULL;
	for (const char *p = s; p < end; p++)
		if (*p == ':')
			colon = p;
	if (!colon || colon + 1 == end)
		return false;
	if (colon > s) {
		char buf[INET_ADDRSTRLEN];
		if ((size_t)(colon - s) >= sizeof(buf))
			return false;
		memcpy(buf, s, (size_t)(colon - s));
		buf[colon - s] = 0;
		if (inet_pton(AF_INET, buf, addr) != 1)
			return false;
	}
	unsigned long v = 0;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" (or udp:). */
static bool parse_hostfwd(const char *s, struct slirp_net_fwd *fwd)
{
	memset(fwd, 0, sizeof(*fwd));
	fwd->host_addr.s_addr = htonl(INADDR_ANY);
	inet_pton(AF_INET, "10.0.2.15", &fwd->guest_addr);
	if (!strncmp(s, "tcp:", 4))
		fwd->udp = false;
	else if (!strncmp(s, "udp:", 4))
		fwd->udp = true;
	else
		return false;
	s += 4;
	const char *dash = strchr(s, '-');
	if (!dash)
		return false;
	return parse_endpoint(s, dash, &fwd->host_addr, &fwd->host_port) &&
	       parse_endpoint(dash + 1, dash + 1 + strlen(dash + 1), &fwd->guest_addr,
			      &fwd->guest_port);
}

int slirp_net_parse(const char *arg, struct slirp_net_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (!strcmp(arg, "none"))
		return 0;
	if (strncmp(arg, "user", 4) || (arg[4] && arg[4] != ','))
		return parse_fail(err, errlen, arg, "expected none or user[,hostfwd=...]");
	cfg->enabled = true;
	const char *p = arg + 4;
	while (*p == ',') {
		p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char opt[128];
		if (len >= sizeof(opt))
			return parse_fail(err, errlen, arg, "option too long");
		memcpy(opt, p, len);
		opt[len] = 0;
		if (strncmp(opt, "hostfwd=", 8))
			return parse_fail(err, errlen, arg, "unknown option (only hostfwd=)");
		if (cfg->nfwd == SLIRP_NET_MAX_FWD)
			return parse_fail(err, errlen, arg, "too many hostfwd rules (16 at most)");
		if (!parse_hostfwd(opt + 8, &cfg->fwd[cfg->nfwd]))
			return parse_fail(err, errlen, arg,
					  "bad hostfwd, expected tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
		cfg->nfwd++;
		p += len;
	}
	return 0;
}

/* ---- Slirp's callbacks, on the backend's thread ------------------------- */

static int64_t clock_ns(void *opaque)
{
	(void)opaque;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_net *s = opaque;
	__atomic_fetch_add(&s->rx_frames, 1, __ATOMIC_RELAXED);
	s->receive(s->opaque, buf, len);
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	struct slirp_net *s = opaque;
	(void)msg;
	__atomic_fetch_add(&s->guest_errors, 1, __ATOMIC_RELAXED);
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_net *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void timer_free(void *timer, void *opaque)
{
	struct slirp_net *s = opaque;
	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next)
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
}

static void timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	(void)opaque;
	((struct slirp_timer *)timer)->expire_ms = expire_time;
}

static void register_poll_fd(int fd, void *opaque)
{
	/* The poll set is rebuilt by slirp_pollfds_fill every round. */
	(void)fd;
	(void)opaque;
}

static void unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void slirp_notify(void *opaque)
{
	/* Called from within slirp on this very thread: the loop goes round
	 * and fills the poll set again anyway. */
	(void)opaque;
}

static const SlirpCb callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_ns,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = register_poll_fd,
	.unregister_poll_fd = unregister_poll_fd,
	.notify = slirp_notify,
	.timer_new_opaque = timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
	struct slirp_net *s = opaque;
	if (s->npfds == s->pfds_cap) {
		unsigned cap = s->pfds_cap * 2;
		struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));
		if (!p)
			return -1;	/* slirp skips the socket this round */
		s->pfds = p;
		s->pfds_cap = cap;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfds[s->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfds++;
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_net *s = opaque;
	if (idx < 0 || (unsigned)idx >= s->npfds)
		return 0;
	short rev = s->pfds[idx].revents;
	int events = 0;
	if (rev & POLLIN)
		events |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		events |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		events |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		events |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		events |= SLIRP_POLL_HUP;
	return events;
}

/* ---- The backend's thread ----------------------------------------------- */

/* Fires the due timers; returns ms until the next one (UINT32_MAX: none).
 * A timer's callback may re-arm or free timers, so the walk restarts after
 * each. */
static uint32_t run_timers(struct slirp_net *s)
{
	for (;;) {
		int64_t now = clock_ns(s) / 1000000;
		struct slirp_timer *due = NULL;
		int64_t next = -1;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->expire_ms < 0)
				continue;
			if (t->expire_ms <= now) {
				due = t;
				break;
			}
			if (next < 0 || t->expire_ms < next)
				next = t->expire_ms;
		}
		if (due) {
			due->expire_ms = -1;
			slirp_handle_timer(s->slirp, due->id, due->cb_opaque);
			continue;
		}
		if (next < 0)
			return UINT32_MAX;
		return next - now > UINT32_MAX ? UINT32_MAX : (uint32_t)(next - now);
	}
}

static void *net_thread(void *arg)
{
	struct slirp_net *s = arg;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool stop = s->stop;
		struct tx_frame *list = s->txq;
		s->txq = s->txq_tail = NULL;
		s->txq_len = 0;
		pthread_mutex_unlock(&s->lock);
		while (list) {
			struct tx_frame *f = list;
			list = f->next;
			if (!stop)
				slirp_input(s->slirp, f->data, (int)f->len);
			free(f);
		}
		if (stop)
			break;
		uint32_t timeout = run_timers(s);
		if (timeout > POLL_MAX_MS)
			timeout = POLL_MAX_MS;
		s->npfds = 0;
		add_poll(s->wake_fd, SLIRP_POLL_IN, s);
		slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
		int ret = poll(s->pfds, s->npfds, (int)timeout);
		if (ret < 0 && errno == EINTR)
			ret = 0;
		slirp_pollfds_poll(s->slirp, ret < 0, get_revents, s);
		if (ret > 0 && (s->pfds[0].revents & POLLIN)) {
			uint64_t count;
			if (read(s->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				break;
		}
	}
	return NULL;
}

/* ---- Entry points ------------------------------------------------------- */

void slirp_net_transmit(struct slirp_net *s, const uint8_t *frame, size_t len)
{
	struct tx_frame *f = len <= SLIRP_NET_MAX_FRAME ? malloc(sizeof(*f) + len) : NULL;
	bool wake = false;

	if (f) {
		f->next = NULL;
		f->len = len;
		memcpy(f->data, frame, len);
	}
	pthread_mutex_lock(&s->lock);
	if (!f || s->txq_len >= SLIRP_NET_TX_QUEUE) {
		s->tx_dropped++;
	} else {
		if (s->txq_tail)
			s->txq_tail->next = f;
		else
			s->txq = f;
		s->txq_tail = f;
		s->txq_len++;
		s->tx_frames++;
		wake = s->txq_len == 1;	/* later ones find the thread woken */
		f = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(f);
	if (wake) {
		uint64_t one = 1;
		if (write(s->wake_fd, &one, sizeof(one)) < 0)
			perror("btvm: slirp wake-up");
	}
}

struct slirp_net_stats slirp_net_get_stats(struct slirp_net *s)
{
	struct slirp_net_stats st = { 0 };
	if (!s)
		return st;
	pthread_mutex_lock(&s->lock);
	st.tx_frames = s->tx_frames;
	st.tx_dropped = s->tx_dropped;
	pthread_mutex_unlock(&s->lock);
	/* The thread's own counters, read racily: statistics only. */
	st.rx_frames = __atomic_load_n(&s->rx_frames, __ATOMIC_RELAXED);
	st.guest_errors = __atomic_load_n(&s->guest_errors, __ATOMIC_RELAXED);
	return st;
}

int slirp_net_open(struct slirp_net **out, const struct slirp_net_config *cfg,
		   slirp_net_receive_fn receive, void *opaque, char *err, size_t errlen)
{
	struct slirp_net *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "--net: out of memory");
		return -ENOMEM;
	}
	s->receive = receive;
	s->opaque = opaque;
	s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->pfds_cap = POLLFDS_INITIAL;
	s->pfds = calloc(s->pfds_cap, sizeof(*s->pfds));
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->pfds || s->wake_fd < 0) {
		ret = s->pfds ? -errno : -ENOMEM;
		snprintf(err, errlen, "--net: cannot set up the network thread: %s", strerror(-ret));
		slirp_net_close(s);
		return ret;
	}
	SlirpConfig sc = {
		.version = 4,
		.in_enabled = true,
		.if_mtu = 1500,
		.if_mru = 1500,
	};
	inet_pton(AF_INET, "10.0.2.0", &sc.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &sc.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &sc.vhost);
	inet_pton(AF_INET, "10.0.2.15", &sc.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &sc.vnameserver);
	s->slirp = slirp_new(&sc, &callbacks, s);
	if (!s->slirp) {
		snprintf(err, errlen, "--net: cannot start user-mode networking (libslirp)");
		slirp_net_close(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cfg->nfwd; i++) {
		const struct slirp_net_fwd *f = &cfg->fwd[i];
		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) < 0) {
			int e = errno ? errno : EADDRINUSE;
			char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			inet_ntop(AF_INET, &f->guest_addr, guest, sizeof(guest));
			snprintf(err, errlen, "--net hostfwd=%s:%s:%u-%s:%u: cannot use the host port: %s",
				 f->udp ? "udp" : "tcp", host, f->host_port, guest, f->guest_port,
				 strerror(e));
			slirp_net_close(s);
			return -e;
		}
	}
	*out = s;
	return 0;
}

int slirp_net_start(struct slirp_net *s)
{
	if (s->thread_running)
		return -EINVAL;
	int err = host_thread_create(&s->thread, net_thread, s);
	if (err)
		return err;
	s->thread_running = true;
	return 0;
}

void slirp_net_close(struct slirp_net *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		uint64_t one = 1;
		if (write(s->wake_fd, &one, sizeof(one)) < 0)
			perror("btvm: slirp wake-up");
		pthread_join(s->thread, NULL);
		s->thread_running = false;
	}
	if (s->slirp)
		slirp_cleanup(s->slirp);	/* frees its timers through timer_free */
	while (s->timers)
		timer_free(s->timers, s);
	for (struct tx_frame *f = s->txq, *next; f; f = next) {
		next = f->next;
		free(f);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->pfds);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
