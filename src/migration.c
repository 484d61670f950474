/* Live migration (migration.h). The stream, all numbers little-endian:
 * the magic "BTVMMIG1", then records of a u32 kind and a u64 length:
 *   CONFIG  a snapshot without memory, for the machine's configuration;
 *   PAGES   up to PAGES_PER_RECORD pages: u32 count, then per page a u32
 *           memfd page number (RAM, then device memory) and a u32 flag,
 *           PAGE_DATA followed by the page's 4096 bytes or PAGE_ZERO;
 *   STATE   the final snapshot without memory (CPU, devices, clocks);
 *   DONE    the end.
 * The destination answers one byte once the machine is restored: 'K', or
 * 'E' when it could not take it.
 *
 * The source sends every page while the guest runs, on a thread of its
 * own, RAM's write log on (shadow_ram_log); each round then sends the
 * pages written during the last one. When a round is small enough (or
 * there have been too many) the guest stops, the last pages, the display's
 * memory and the state go, and once the destination has it all this btvm
 * ends: the guest runs on there. */
#define _GNU_SOURCE
#include "migration.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "board_snapshot.h"
#include "host/tcp_address.h"
#include "host/thread.h"

#define MAGIC "BTVMMIG1"
#define PAGE 4096u
#define PAGES_PER_RECORD 64u
#define PAGE_DATA 0u
#define PAGE_ZERO 1u
/* A round this small is sent with the guest stopped. */
#define FINAL_ROUND_PAGES 256u
#define MAX_ROUNDS 30u
#define MAX_STATE_BYTES (64ull << 20)
#define CONNECT_TIMEOUT_MS 5000
#define ACK_TIMEOUT_S 60

enum record_kind { REC_CONFIG = 1, REC_PAGES, REC_STATE, REC_DONE };
enum mig_state { MIG_NONE, MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED };

struct migration {
	struct board *board;
	int fd;
	enum mig_state state;
	uint32_t pages;           /* RAM pages */
	uint8_t *round;           /* the pages the sender sends now (bitmap) */
	pthread_t thread;
	bool thread_running;
	atomic_bool round_done;
	int send_err;             /* the sender's, read after the join */
	unsigned rounds;
	uint64_t pages_sent, bytes_sent;
	uint64_t start_ns, stop_ns, end_ns;
	char error[256];
	char tmp_path[64];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_record_header(int fd, uint32_t kind, uint64_t len)
{
	uint8_t h[12];
	memcpy(h, &kind, 4);
	memcpy(h + 4, &len, 8);
	return send_all(fd, h, sizeof(h));
}

/* A whole file as one record. */
static int send_file(int fd, uint32_t kind, const char *path, uint64_t *bytes)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	int ret = fseek(f, 0, SEEK_END) ? -errno : 0;
	long len = ret ? 0 : ftell(f);
	if (!ret && (len < 0 || fseek(f, 0, SEEK_SET)))
		ret = -EIO;
	if (!ret)
		ret = send_record_header(fd, kind, (uint64_t)len);
	char buf[65536];
	size_t n;
	while (!ret && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		ret = send_all(fd, buf, n);
		*bytes += n;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	fclose(f);
	return ret;
}

/* Sends the pages set in bitmap (bit n: memfd page n), in records. */
static int send_pages(struct migration *m, const uint8_t *bitmap, uint32_t first, uint32_t count)
{
	const struct guest_ram *ram = &m->board->ram;
	uint8_t *rec = malloc(4 + PAGES_PER_RECORD * (8 + PAGE));
	if (!rec)
		return -ENOMEM;
	uint32_t n = 0;
	size_t len = 4;
	int ret = 0;
	for (uint32_t p = first; p < first + count && !ret; p++) {
		if (bitmap && !(bitmap[p / 8] & (1u << (p % 8))))
			continue;
		const uint8_t *src = ram->host + (uint64_t)p * PAGE;
		uint32_t flag = guest_page_is_zero(src) ? PAGE_ZERO : PAGE_DATA;
		memcpy(rec + len, &p, 4);
		memcpy(rec + len + 4, &flag, 4);
		len += 8;
		if (flag == PAGE_DATA) {
			memcpy(rec + len, src, PAGE);
			len += PAGE;
		}
		n++;
		m->pages_sent++;
		if (n == PAGES_PER_RECORD || p + 1 == first + count) {
			memcpy(rec, &n, 4);
			ret = send_record_header(m->fd, REC_PAGES, len);
			if (!ret)
				ret = send_all(m->fd, rec, len);
			m->bytes_sent += len + 12;
			n = 0;
			len = 4;
		}
	}
	if (!ret && n) {
		memcpy(rec, &n, 4);
		ret = send_record_header(m->fd, REC_PAGES, len);
		if (!ret)
			ret = send_all(m->fd, rec, len);
		m->bytes_sent += len + 12;
	}
	free(rec);
	return ret;
}

static void *sender_main(void *arg)
{
	struct migration *m = arg;
	m->send_err = send_pages(m, m->round, 0, m->pages);
	atomic_store(&m->round_done, true);
	board_wake(m->board);
	return NULL;
}

static int start_round(struct migration *m)
{
	atomic_store(&m->round_done, false);
	int ret = host_thread_create(&m->thread, sender_main, m);
	m->thread_running = ret == 0;
	return ret;
}

static void join_sender(struct migration *m)
{
	if (m->thread_running)
		pthread_join(m->thread, NULL);
	m->thread_running = false;
}

static int connect_to(const char *host, const char *port, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, err_len, "migrate: %s:%s: %s", host, port, gai_strerror(gai));
		return -EINVAL;
	}
	int fd = -1, ret = -ECONNREFUSED;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) && errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int so = ETIMEDOUT;
			socklen_t sl = sizeof(so);
			if (poll(&pfd, 1, CONNECT_TIMEOUT_MS) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
			errno = so;
		} else {
			errno = 0;
		}
		if (errno) {
			ret = -errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, err_len, "migrate: cannot connect to %s:%s: %s", host, port,
			 strerror(-ret));
		return ret;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void fail(struct migration *m, const char *what, int err)
{
	snprintf(m->error, sizeof(m->error), "%s: %s", what, strerror(-err));
	m->state = MIG_FAILED;
	join_sender(m);
	shadow_ram_log(&m->board->sh, false);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->round);
	m->round = NULL;
	fprintf(stderr, "btvm: migration failed: %s; the guest goes on here\n", m->error);
}

int migration_start(struct board *board, const char *uri, char *err, size_t err_len)
{
	char host[256], port[8];
	uint16_t port_number;
	struct migration *m = board->migration;
	if (m && m->state == MIG_ACTIVE) {
		snprintf(err, err_len, "migrate: a migration is under way");
		return -EBUSY;
	}
	if (tcp_address_parse(uri, "127.0.0.1", host, sizeof(host), &port_number)) {
		snprintf(err, err_len, "migrate: '%s' is not tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", port_number);
	if (board->cfg.ndisks) {
		snprintf(err, err_len, "migrate: a machine with disks cannot migrate live yet "
				       "(both sides would need the image); use savevm");
		return -EOPNOTSUPP;
	}
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		board->migration = m;
	}
	memset(m, 0, sizeof(*m));
	m->board = board;
	m->fd = -1;
	m->pages = (uint32_t)(board->ram.size / PAGE);
	m->start_ns = now_ns();
	int fd = connect_to(host, port, err, err_len);
	if (fd < 0)
		return fd;
	m->fd = fd;
	/* The configuration first: the destination builds its machine. */
	snprintf(m->tmp_path, sizeof(m->tmp_path), "/tmp/btvm-migrate-%d.snap", (int)getpid());
	char serr[300];
	int ret = send_all(fd, MAGIC, 8);
	if (!ret)
		ret = board_snapshot_save_state(board, m->tmp_path, false, serr, sizeof(serr));
	if (!ret)
		ret = send_file(fd, REC_CONFIG, m->tmp_path, &m->bytes_sent);
	unlink(m->tmp_path);
	m->round = malloc((m->pages + 7) / 8);
	if (!ret && !m->round)
		ret = -ENOMEM;
	if (!ret)
		ret = shadow_ram_log(&board->sh, true);
	if (!ret) {
		memset(m->round, 0xff, (m->pages + 7) / 8);   /* round 0: everything */
		ret = start_round(m);
	}
	if (ret) {
		snprintf(err, err_len, "migrate: cannot start: %s", strerror(-ret));
		shadow_ram_log(&board->sh, false);
		close(fd);
		m->fd = -1;
		free(m->round);
		m->round = NULL;
		m->state = MIG_FAILED;
		return ret;
	}
	m->state = MIG_ACTIVE;
	return 0;
}

bool migration_poll(struct board *board)
{
	struct migration *m = board->migration;
	if (!m || m->state != MIG_ACTIVE || !atomic_load(&m->round_done))
		return false;
	join_sender(m);
	if (m->send_err) {
		fail(m, "sending the memory", m->send_err);
		return false;
	}
	memset(m->round, 0, (m->pages + 7) / 8);
	unsigned n = shadow_ram_harvest(&board->sh, m->round);
	m->rounds++;
	if (n <= FINAL_ROUND_PAGES || m->rounds >= MAX_ROUNDS)
		return true;   /* the rest with the guest stopped */
	int ret = start_round(m);
	if (ret)
		fail(m, "cannot start a round", ret);
	return false;
}

void migration_finish(struct board *board)
{
	struct migration *m = board->migration;
	char serr[300];
	if (!m || m->state != MIG_ACTIVE)
		return;
	m->stop_ns = now_ns();
	/* What was written since the last harvest joins what it found. */
	shadow_ram_harvest(&board->sh, m->round);
	int ret = send_pages(m, m->round, 0, m->pages);
	/* The display's memory, whole: its own log belongs to the window. */
	if (!ret && board->ram.devmem_size)
		ret = send_pages(m, NULL, m->pages, (uint32_t)(board->ram.devmem_size / PAGE));
	if (!ret) {
		ret = board_snapshot_save_state(board, m->tmp_path, false, serr, sizeof(serr));
		if (ret)
			fprintf(stderr, "btvm: %s\n", serr);
	}
	if (!ret)
		ret = send_file(m->fd, REC_STATE, m->tmp_path, &m->bytes_sent);
	unlink(m->tmp_path);
	if (!ret)
		ret = send_record_header(m->fd, REC_DONE, 0);
	char ack = 0;
	if (!ret) {
		struct timeval tv = { .tv_sec = ACK_TIMEOUT_S };
		setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ret = recv_all(m->fd, &ack, 1);
		if (!ret && ack != 'K')
			ret = -EPROTO;
	}
	if (ret) {
		fail(m, "the last round", ret);
		return;
	}
	m->end_ns = now_ns();
	m->state = MIG_COMPLETED;
	shadow_ram_log(&board->sh, false);
	close(m->fd);
	m->fd = -1;
	fprintf(stderr, "btvm: migrated in %llu ms (%u rounds, %llu pages, the guest stopped "
			"for %llu ms); it runs on at the destination\n",
		(unsigned long long)((m->end_ns - m->start_ns) / 1000000), m->rounds,
		(unsigned long long)m->pages_sent,
		(unsigned long long)((m->end_ns - m->stop_ns) / 1000000));
	board->exit_requested = true;
	board->exit_status = 0;
	board->cpu.stop = true;
}

void migration_get_status(const struct board *board, struct migration_status *st)
{
	static const char *const names[] = { "none", "active", "completed", "failed" };
	const struct migration *m = board->migration;
	memset(st, 0, sizeof(*st));
	st->state = names[m ? m->state : MIG_NONE];
	if (!m)
		return;
	st->rounds = m->rounds;
	st->pages_sent = m->pages_sent;
	st->bytes_sent = m->bytes_sent;
	uint64_t end = m->end_ns ? m->end_ns : now_ns();
	st->total_ms = (end - m->start_ns) / 1000000;
	st->downtime_ms = m->stop_ns ? (end - m->stop_ns) / 1000000 : 0;
	snprintf(st->error, sizeof(st->error), "%s", m->error);
}

void migration_destroy(struct board *board)
{
	struct migration *m = board->migration;
	if (!m)
		return;
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);   /* a sender blocked in send() returns */
	join_sender(m);
	if (m->fd >= 0)
		close(m->fd);
	free(m->round);
	free(m);
	board->migration = NULL;
}

/* --- the destination ---------------------------------------------------- */

static int read_record_header(int fd, uint32_t *kind, uint64_t *len)
{
	uint8_t h[12];
	int ret = recv_all(fd, h, sizeof(h));
	memcpy(kind, h, 4);
	memcpy(len, h + 4, 8);
	return ret;
}

/* A record's payload into a file. */
static int receive_file(int fd, uint64_t len, const char *path)
{
	if (len > MAX_STATE_BYTES)
		return -EFBIG;
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	char buf[65536];
	int ret = 0;
	while (len && !ret) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ret = recv_all(fd, buf, n);
		if (!ret && fwrite(buf, 1, n, f) != n)
			ret = -EIO;
		len -= n;
	}
	if (fclose(f) && !ret)
		ret = -EIO;
	return ret;
}

int migration_listen(const char *uri, const char *config_path, char *err, size_t err_len)
{
	char host[256], port[8];
	uint16_t port_number;
	if (tcp_address_parse(uri, "127.0.0.1", host, sizeof(host), &port_number)) {
		snprintf(err, err_len, "--incoming: '%s' is not tcp:[ADDR]:PORT", uri);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", port_number);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, err_len, "--incoming: %s:%s: %s", host, port, gai_strerror(gai));
		return -EINVAL;
	}
	int lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;
	int one = 1;
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, res->ai_addr, res->ai_addrlen) || listen(lfd, 1))
		ret = -errno;
	freeaddrinfo(res);
	if (ret) {
		snprintf(err, err_len, "--incoming: cannot listen on %s:%s: %s", host, port,
			 strerror(-ret));
		if (lfd >= 0)
			close(lfd);
		return ret;
	}
	fprintf(stderr, "btvm: waiting for a migration on %s:%s\n", host, port);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	close(lfd);
	char magic[8];
	uint32_t kind = 0;
	uint64_t len = 0;
	if (!ret)
		ret = recv_all(fd, magic, 8);
	if (!ret && memcmp(magic, MAGIC, 8))
		ret = -EPROTO;
	if (!ret)
		ret = read_record_header(fd, &kind, &len);
	if (!ret && kind != REC_CONFIG)
		ret = -EPROTO;
	if (!ret)
		ret = receive_file(fd, len, config_path);
	if (ret) {
		snprintf(err, err_len, "--incoming: the source's stream: %s",
			 ret == -EPROTO ? "not a btvm migration" : strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

/* One PAGES record into memory; every number is checked. */
static int receive_pages(struct board *board, int fd, uint64_t len, uint8_t *buf)
{
	struct guest_ram *ram = &board->ram;
	uint64_t total = (ram->size + ram->devmem_size) / PAGE;
	if (len < 4 || len > 4 + PAGES_PER_RECORD * (8 + PAGE))
		return -EPROTO;
	int ret = recv_all(fd, buf, len);
	if (ret)
		return ret;
	uint32_t n;
	size_t at = 4;
	memcpy(&n, buf, 4);
	if (n > PAGES_PER_RECORD)
		return -EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t page, flag;
		if (at + 8 > len)
			return -EPROTO;
		memcpy(&page, buf + at, 4);
		memcpy(&flag, buf + at + 4, 4);
		at += 8;
		if (page >= total || flag > PAGE_ZERO || (flag == PAGE_DATA && at + PAGE > len))
			return -EPROTO;
		uint8_t *dst = ram->host + (uint64_t)page * PAGE;
		if (flag == PAGE_ZERO) {
			memset(dst, 0, PAGE);
		} else {
			memcpy(dst, buf + at, PAGE);
			at += PAGE;
		}
	}
	return at == len ? 0 : -EPROTO;
}

int migration_receive(struct board *board, int fd, const char *state_path, char *err,
		      size_t err_len)
{
	uint8_t *buf = malloc(4 + PAGES_PER_RECORD * (8 + PAGE));
	bool have_state = false;
	int ret = buf ? 0 : -ENOMEM;
	char serr[400] = "";
	while (!ret) {
		uint32_t kind;
		uint64_t len;
		ret = read_record_header(fd, &kind, &len);
		if (ret)
			break;
		if (kind == REC_PAGES) {
			ret = receive_pages(board, fd, len, buf);
		} else if (kind == REC_STATE && !have_state) {
			ret = receive_file(fd, len, state_path);
			if (!ret)
				ret = board_snapshot_restore_state(board, state_path, false, serr, sizeof(serr));
			have_state = ret == 0;
		} else if (kind == REC_DONE && have_state && !len) {
			break;
		} else {
			ret = -EPROTO;
		}
	}
	free(buf);
	char ack = ret ? 'E' : 'K';
	(void)send_all(fd, &ack, 1);
	close(fd);
	if (ret && *serr)
		snprintf(err, err_len, "--incoming: %s", serr);
	else if (ret)
		snprintf(err, err_len, "--incoming: the source's stream: %s",
			 ret == -EPROTO ? "malformed" : strerror(-ret));
	return ret;
}
