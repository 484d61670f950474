/* Live migration (migration.h). The stream is host/sealed_stream.h's:
 * after the two greetings (magic "BTVMMIG2"), records of a u32 kind and
 * a u64 length, its payload sealed in chunks when the two ends share a key:
 *   CONFIG  a snapshot without memory, for the machine's configuration;
 *   PAGES   up to PAGES_PER_RECORD pages: u32 count, then per page a u32
 *           memfd page number (RAM, then device memory) and a u32 flag,
 *           PAGE_DATA followed by the page's 4096 bytes or PAGE_ZERO;
 *   STATE   the final snapshot without memory (CPU, devices, clocks);
 *   DONE    the end;
 * and for a block migration (migrate -b) also
 *   BLOCK   before CONFIG: u32 count, a u64 of sectors per read-write image;
 *   DISK    a chunk of one: u32 image, u32 flag (PAGE_DATA with the bytes,
 *           or PAGE_ZERO), u64 first sector, u32 sectors (at most 128).
 * The destination answers with an ACK record once the machine is
 * restored: 'K', or 'E' when it could not take it (among the reasons: a
 * disk image it cannot lock). Every record is read
 * whole, every chunk opened, before any of it is used; the snapshots
 * travel through memfds, never through a file.
 *
 * A TCP endpoint needs a key (anyone who can reach a port can connect);
 * a Unix socket, made 0600, lets only its owner in, so there a key is
 * optional.
 *
 * The source sends every page while the guest runs, on a thread of its
 * own, RAM's write log on (shadow_ram_log); each round then sends the
 * pages written during the last one. When a round is small enough (or
 * there have been too many) the guest stops, the last pages, the display's
 * memory and the state go, and once the destination has it all this btvm
 * ends: the guest runs on there. The source side is a front end of the
 * machine (machine/control.h), registered by its first start: polled for
 * its rounds, its last round run at the control point.
 *
 * Disks stay where they are, on storage both ends see (QEMU's default
 * migration): the destination opens the CONFIG's image paths without
 * their write locks and does no I/O to them; the source, at its last
 * round, finishes every disk request, fdatasyncs and lets its write
 * locks go before the STATE; the destination takes them when the STATE
 * arrives, before its ACK. An 'E' (a lock it could not take, among other
 * reasons) has the source take its locks back and run on, or stop when
 * it cannot. A block migration copies the read-write images instead,
 * into the destination's own: every chunk in round 0, then the chunks
 * written meanwhile (disk_image's dirty map), the rest with the guest
 * stopped. */
#define _GNU_SOURCE
#include "frontend/migration.h"

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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/disk_image.h"
#include "host/sealed_stream.h"
#include "host/tcp_address.h"
#include "host/thread.h"
#include "machine/board_snapshot.h"
#include "machine/control.h"
#include "mmu/guest_ram.h"

static const char MAGIC[SEALED_MAGIC_BYTES] = { 'B', 'T', 'V', 'M', 'M', 'I', 'G', '2' };
#define PAGE 4096u
#define PAGES_PER_RECORD 64u
#define PAGE_DATA 0u
#define PAGE_ZERO 1u
/* A round this small is sent with the guest stopped. */
#define FINAL_ROUND_PAGES 256u
#define MAX_ROUNDS 30u
#define MAX_STATE_BYTES (64ull << 20)
#define CONNECT_TIMEOUT_MS 5000
/* How long either end waits for the other's greeting (and the
 * destination for the configuration after it). */
#define HANDSHAKE_TIMEOUT_S 10
#define ACK_TIMEOUT_S 60
/* Refused connections the destination reports, one line each. */
#define MAX_REFUSALS_SHOWN 16u

/* Block migration: the read-write images (at most the four virtio disks
 * and the four IDE slots), in 64 KiB chunks; a round this small in
 * chunks (and in pages) is sent with the guest stopped. */
#define MAX_BLOCK_DISKS 8u
#define CHUNK_BYTES (DISK_IMAGE_CHUNK_SECTORS * DISK_IMAGE_SECTOR_SIZE)
#define DISK_HEADER 20u
#define FINAL_ROUND_CHUNKS 64u

enum record_kind { REC_CONFIG = 1, REC_PAGES, REC_STATE, REC_DONE, REC_ACK, REC_BLOCK, REC_DISK };
enum mig_state { MIG_NONE, MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED };

struct migration {
	struct board *board;
	struct board_memory mem;  /* guest memory, copied from here */
	bool registered;          /* with the board: kept across starts */
	bool final_due;           /* the pre-copy is done: the last round, guest stopped */
	bool disks_released;      /* the write locks are the destination's to take */
	/* Block migration: the images copied (their writes tracked), and
	 * a chunk's room, page aligned for direct reads. */
	bool blk;
	unsigned ndisks;
	struct disk_image *disks[MAX_BLOCK_DISKS];
	uint8_t *chunk;
	uint64_t chunks_sent;
	int fd;
	struct sealed_stream ss;
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
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int send_record(struct sealed_stream *ss, uint32_t kind, const void *data, size_t len)
{
	int ret = sealed_send_begin(ss, kind, len);
	if (!ret && len)
		ret = sealed_send(ss, data, len);
	return ret ? ret : sealed_send_end(ss);
}

/* A memfd's bytes as one record. */
static int send_memfd(struct sealed_stream *ss, uint32_t kind, int fd, uint64_t *bytes)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	int ret = sealed_send_begin(ss, kind, (uint64_t)st.st_size);
	char buf[65536];
	for (off_t off = 0; !ret && off < st.st_size;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		ret = sealed_send(ss, buf, (size_t)n);
		off += n;
		*bytes += (uint64_t)n;
	}
	return ret ? ret : sealed_send_end(ss);
}

/* The machine without its memory, as a snapshot in a new memfd: the fd,
 * or a negative errno with a one-line reason in err. */
static int state_snapshot(struct board *board, char *err, size_t err_len)
{
	int fd = memfd_create("btvm-migration-state", MFD_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "cannot make a memfd: %s", strerror(e));
		return -e;
	}
	int ret = board_snapshot_save_state_fd(board, fd, false, err, err_len);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* Sends the pages set in bitmap (bit n: memfd page n), in records. */
static int send_pages(struct migration *m, const uint8_t *bitmap, uint32_t first, uint32_t count)
{
	const struct board_memory *mem = &m->mem;
	uint8_t *rec = malloc(4 + PAGES_PER_RECORD * (8 + PAGE));
	if (!rec)
		return -ENOMEM;
	uint32_t n = 0;
	size_t len = 4;
	int ret = 0;
	/* A page in a hole of the memfd is a zero mark without a look: the
	 * look would give it host memory (a large guest that touched little
	 * moved as all of its RAM). One the guest writes after the cursor
	 * passed is in the write log, for the next round. */
	struct guest_ram_extents holes = { .fd = mem->memfd };
	for (uint32_t p = first; p < first + count && !ret; p++) {
		if (bitmap && !(bitmap[p / 8] & (1u << (p % 8))))
			continue;
		const uint8_t *src = mem->host + (uint64_t)p * PAGE;
		uint32_t flag = !guest_ram_has_data(&holes, (uint64_t)p * PAGE) || guest_page_is_zero(src)
					? PAGE_ZERO
					: PAGE_DATA;
		memcpy(rec + len, &p, 4);
		memcpy(rec + len + 4, &flag, 4);
		len += 8;
		if (flag == PAGE_DATA) {
			memcpy(rec + len, src, PAGE);
			len += PAGE;
		}
		n++;
		m->pages_sent++;
		if (n == PAGES_PER_RECORD) {
			memcpy(rec, &n, 4);
			ret = send_record(&m->ss, REC_PAGES, rec, len);
			m->bytes_sent += len + 12;
			n = 0;
			len = 4;
		}
	}
	if (!ret && n) {
		memcpy(rec, &n, 4);
		ret = send_record(&m->ss, REC_PAGES, rec, len);
		m->bytes_sent += len + 12;
	}
	free(rec);
	return ret;
}

/* One chunk of disk i as a DISK record: u32 disk, u32 flag (PAGE_DATA
 * with the bytes, or PAGE_ZERO), u64 first sector, u32 sectors. */
static int send_chunk(struct migration *m, struct disk_io *io, uint32_t i, uint64_t c)
{
	struct disk_image *d = m->disks[i];
	uint64_t sector = c * DISK_IMAGE_CHUNK_SECTORS;
	uint32_t count = d->sectors - sector < DISK_IMAGE_CHUNK_SECTORS
				 ? (uint32_t)(d->sectors - sector)
				 : DISK_IMAGE_CHUNK_SECTORS;
	size_t bytes = (size_t)count * DISK_IMAGE_SECTOR_SIZE;
	struct iovec iov = { m->chunk, bytes };
	int ret = disk_image_read(d, io, &iov, 1, sector, NULL);
	if (ret)
		return ret;
	/* All zeros when the first byte is and each equals the next. */
	bool zero = m->chunk[0] == 0 && !memcmp(m->chunk, m->chunk + 1, bytes - 1);
	uint32_t flag = zero ? PAGE_ZERO : PAGE_DATA;
	uint8_t head[DISK_HEADER];
	memcpy(head, &i, 4);
	memcpy(head + 4, &flag, 4);
	memcpy(head + 8, &sector, 8);
	memcpy(head + 16, &count, 4);
	uint64_t len = DISK_HEADER + (zero ? 0 : bytes);
	ret = sealed_send_begin(&m->ss, REC_DISK, len);
	if (!ret)
		ret = sealed_send(&m->ss, head, sizeof(head));
	if (!ret && !zero)
		ret = sealed_send(&m->ss, m->chunk, bytes);
	if (!ret)
		ret = sealed_send_end(&m->ss);
	m->bytes_sent += len + 12;
	m->chunks_sent++;
	return ret;
}

/* Every chunk (round 0), or those written since they were last sent.
 * A chunk's bit is cleared before it is read: a write that lands after
 * the read sets it again, for the next round. */
static int send_disks(struct migration *m, bool all)
{
	struct disk_io io;
	int ret = 0;
	disk_io_init(&io, false);
	for (uint32_t i = 0; i < m->ndisks && !ret; i++) {
		uint64_t chunks = disk_image_chunks(m->disks[i]);
		for (uint64_t c = 0; c < chunks && !ret; c++)
			if (disk_image_dirty_take(m->disks[i], c) || all)
				ret = send_chunk(m, &io, i, c);
	}
	disk_io_destroy(&io);
	return ret;
}

static void stop_block(struct migration *m)
{
	for (unsigned i = 0; i < m->ndisks; i++)
		disk_image_dirty_stop(m->disks[i]);
	m->ndisks = 0;
	free(m->chunk);
	m->chunk = NULL;
}

static void *sender_main(void *arg)
{
	struct migration *m = arg;
	m->send_err = send_pages(m, m->round, 0, m->pages);
	if (!m->send_err && m->blk)
		m->send_err = send_disks(m, m->rounds == 0);
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

int migration_uri_parse(const char *text, struct migration_uri *u)
{
	memset(u, 0, sizeof(*u));
	char where[512];
	const char *key = strstr(text, ",key=");
	size_t len = key ? (size_t)(key - text) : strlen(text);
	if (len >= sizeof(where))
		return -EINVAL;
	memcpy(where, text, len);
	where[len] = '\0';
	if (key) {
		key += strlen(",key=");
		if (!*key || strlen(key) >= sizeof(u->key_path))
			return -EINVAL;
		snprintf(u->key_path, sizeof(u->key_path), "%s", key);
	}
	if (!strncmp(where, "unix:", 5)) {
		size_t path_len = strlen(where + 5);
		if (!path_len || path_len >= sizeof(u->path))
			return -EINVAL;
		u->is_unix = true;
		memcpy(u->path, where + 5, path_len + 1);
		return 0;
	}
	if (tcp_address_parse(where, "127.0.0.1", u->host, sizeof(u->host), &u->port))
		return -EINVAL;
	/* A TCP port takes a connection from anyone who can reach it. */
	return key ? 0 : -ENOKEY;
}

/* The URI's key, or NULL when it names none. */
static int load_key(const struct migration_uri *u, uint8_t key[SEALED_KEY_BYTES], bool *keyed,
		    char *err, size_t err_len)
{
	*keyed = u->key_path[0] != '\0';
	return *keyed ? sealed_key_load(u->key_path, key, err, err_len) : 0;
}

static void set_timeout(int fd, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_unix(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;
		snprintf(err, err_len, "migrate: cannot connect to %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int connect_tcp(const char *host, uint16_t port_number, char *err, size_t err_len)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", port_number);
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
	snprintf(m->error, sizeof(m->error), "%s: %s", what,
		 err == -EBADMSG     ? "the destination's answer does not carry the key"
		 : err == -ECANCELED ? "the destination could not take the machine (its own "
				       "message says why)"
				     : strerror(-err));
	m->state = MIG_FAILED;
	join_sender(m);
	board_ram_log(m->board, false);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	sealed_close(&m->ss);
	free(m->round);
	m->round = NULL;
	stop_block(m);
	fprintf(stderr, "btvm: migration failed: %s; the guest goes on here\n", m->error);
}

/* Connects and greets the destination: the fd, or a negative errno with
 * a one-line reason in err. */
static int connect_destination(struct migration *m, const char *uri, char *err, size_t err_len)
{
	struct migration_uri u;
	uint8_t key[SEALED_KEY_BYTES];
	bool keyed;
	int ret = migration_uri_parse(uri, &u);
	if (ret == -ENOKEY) {
		snprintf(err, err_len, "migrate: tcp: needs key=FILE (a secret the destination's "
				       "--incoming has too), or use unix:PATH");
		return ret;
	}
	if (ret) {
		snprintf(err, err_len, "migrate: '%s' is not tcp:HOST:PORT,key=FILE or unix:PATH",
			 uri);
		return ret;
	}
	char why[300];
	ret = load_key(&u, key, &keyed, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "migrate: %s", why);
		return ret;
	}
	int fd = u.is_unix ? connect_unix(u.path, err, err_len)
			   : connect_tcp(u.host, u.port, err, err_len);
	if (fd >= 0) {
		/* Something that is not a btvm may listen there and never
		 * speak: the vCPU waits for the greeting only so long. */
		set_timeout(fd, HANDSHAKE_TIMEOUT_S);
		ret = sealed_connect(&m->ss, fd, MAGIC, keyed ? key : NULL, why, sizeof(why));
		set_timeout(fd, 0);
		if (ret) {
			snprintf(err, err_len, "migrate: %s", why);
			sealed_close(&m->ss);
			close(fd);
			fd = ret;
		}
	}
	sodium_memzero(key, sizeof(key));
	return fd;
}

static const struct board_frontend_ops migration_ops;

/* Block migration: the read-write images, tracked from here on, and
 * their sizes as a BLOCK record ahead of the configuration (u32 count,
 * a u64 of sectors each), so that the destination knows to take its own
 * images (and to check their sizes) before it opens them. */
static int start_block(struct migration *m, char *err, size_t err_len)
{
	uint8_t rec[4 + 8 * MAX_BLOCK_DISKS];
	struct disk_image *d;
	uint32_t n = 0;
	while (n < MAX_BLOCK_DISKS && (d = board_rw_disk(m->board, n)))
		m->disks[n++] = d;
	if (!n) {
		snprintf(err, err_len, "migrate -b: the machine has no read-write disk to copy");
		return -EINVAL;
	}
	m->chunk = aligned_alloc(PAGE, CHUNK_BYTES);
	int ret = m->chunk ? 0 : -ENOMEM;
	memcpy(rec, &n, 4);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(rec + 4 + 8 * i, &m->disks[i]->sectors, 8);
		if (!ret)
			ret = disk_image_dirty_start(m->disks[i]);
		m->ndisks = i + 1;
	}
	if (!ret)
		ret = send_record(&m->ss, REC_BLOCK, rec, 4 + 8 * n);
	if (ret)
		snprintf(err, err_len, "migrate -b: cannot start: %s", strerror(-ret));
	return ret;
}

int migration_start(struct migration **mp, struct board *board, const char *uri, bool blk,
		    char *err, size_t err_len)
{
	struct migration *m = *mp;
	if (m && m->state == MIG_ACTIVE) {
		snprintf(err, err_len, "migrate: a migration is under way");
		return -EBUSY;
	}
	/* The disks stay where they are (shared storage): the destination
	 * opens the same paths. A --snapshot overlay is this process's
	 * private file, which the destination cannot see. */
	if (board_config(board)->snapshot && board_has_drives(board)) {
		snprintf(err, err_len, "migrate: the disks' writes go to --snapshot's private overlay, "
				       "which the destination cannot open; use savevm");
		return -EOPNOTSUPP;
	}
	/* The save at the switch-over would refuse it (board_snapshot.c):
	 * say so before any memory goes. */
	if (board_config(board)->nshares) {
		snprintf(err, err_len, "migrate: a machine with a shared folder (--share) cannot "
				       "migrate: its state lives in the 9P server");
		return -EOPNOTSUPP;
	}
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		if (board_add_frontend(board, &migration_ops, m)) {
			snprintf(err, err_len, "migrate: too many front ends for the machine");
			free(m);
			return -ENOSPC;
		}
		*mp = m;
	}
	memset(m, 0, sizeof(*m));
	m->registered = true;
	m->board = board;
	board_memory(board, &m->mem);
	m->fd = -1;
	m->pages = (uint32_t)(m->mem.ram_size / PAGE);
	m->start_ns = now_ns();
	m->blk = blk;
	int fd = connect_destination(m, uri, err, err_len);
	if (fd < 0)
		return fd;
	m->fd = fd;
	int ret = blk ? start_block(m, err, err_len) : 0;
	if (ret) {
		close(fd);
		m->fd = -1;
		sealed_close(&m->ss);
		stop_block(m);
		m->state = MIG_FAILED;
		return ret;
	}
	/* The configuration first: the destination builds its machine. */
	char serr[400];
	int state = state_snapshot(board, serr, sizeof(serr));
	if (state < 0)
		ret = state;
	else
		ret = send_memfd(&m->ss, REC_CONFIG, state, &m->bytes_sent);
	if (state >= 0)
		close(state);
	m->round = malloc((m->pages + 7) / 8);
	if (!ret && !m->round)
		ret = -ENOMEM;
	if (!ret)
		ret = board_ram_log(board, true);
	if (!ret) {
		memset(m->round, 0xff, (m->pages + 7) / 8);   /* round 0: everything */
		ret = start_round(m);
	}
	if (ret) {
		if (state < 0)
			snprintf(err, err_len, "migrate: %s", serr);
		else
			snprintf(err, err_len, "migrate: cannot start: %s", strerror(-ret));
		board_ram_log(board, false);
		close(fd);
		m->fd = -1;
		sealed_close(&m->ss);
		free(m->round);
		m->round = NULL;
		stop_block(m);
		m->state = MIG_FAILED;
		return ret;
	}
	m->state = MIG_ACTIVE;
	return 0;
}

/* vCPU thread, at every poll: a round's end, and the next one started;
 * true when the pre-copy is done and the guest must stop for the last
 * round (migration_run_stopped then finishes it). */
static bool migration_poll(void *opaque, uint64_t guest_ns)
{
	struct migration *m = opaque;
	struct board *board = m->board;
	(void)guest_ns;
	if (m->state != MIG_ACTIVE || !atomic_load(&m->round_done))
		return false;
	join_sender(m);
	if (m->send_err) {
		fail(m, "sending the memory", m->send_err);
		return false;
	}
	memset(m->round, 0, (m->pages + 7) / 8);
	unsigned n = board_ram_harvest(board, m->round);
	uint64_t chunks = 0;
	for (unsigned i = 0; i < m->ndisks; i++)
		chunks += disk_image_dirty_count(m->disks[i]);
	m->rounds++;
	if ((n <= FINAL_ROUND_PAGES && chunks <= FINAL_ROUND_CHUNKS) || m->rounds >= MAX_ROUNDS) {
		m->final_due = true;
		return true;   /* the rest with the guest stopped */
	}
	int ret = start_round(m);
	if (ret)
		fail(m, "cannot start a round", ret);
	return false;
}

/* The destination's answer: 'K' when it runs the machine. */
static int receive_ack(struct migration *m)
{
	uint32_t kind;
	uint64_t len;
	char ack = 0;
	set_timeout(m->fd, ACK_TIMEOUT_S);
	int ret = sealed_recv_begin(&m->ss, &kind, &len);
	if (!ret && (kind != REC_ACK || len != 1))
		ret = -EPROTO;
	if (!ret)
		ret = sealed_recv(&m->ss, &ack, 1);
	if (!ret)
		ret = sealed_recv_end(&m->ss);
	if (!ret && ack == 'E')
		ret = -ECANCELED;
	else if (!ret && ack != 'K')
		ret = -EPROTO;
	return ret;
}

/* Guest stopped: the last pages and the state. On success btvm's run
 * ends (status 0); on failure the guest goes on here. */
static void migration_finish(struct migration *m)
{
	struct board *board = m->board;
	char serr[400];
	if (m->state != MIG_ACTIVE)
		return;
	m->stop_ns = now_ns();
	/* A disk request that finishes writes RAM (the data read, the used
	 * ring): all of them before the last harvest. */
	board_disks_quiesce(board);
	/* What was written since the last harvest joins what it found. */
	board_ram_harvest(board, m->round);
	int ret = send_pages(m, m->round, 0, m->pages);
	/* The display's memory, whole: its own log belongs to the window. */
	if (!ret && m->mem.devmem_size)
		ret = send_pages(m, NULL, m->pages, (uint32_t)(m->mem.devmem_size / PAGE));
	/* Block migration: the chunks written since they were sent. Else the
	 * images durable and their write locks free before the state goes:
	 * the destination takes them when it arrives. */
	if (!ret && m->blk) {
		ret = send_disks(m, false);
	} else if (!ret) {
		ret = board_disks_release(board, serr, sizeof(serr));
		m->disks_released = true;
		if (ret)
			fprintf(stderr, "btvm: migration: %s\n", serr);
	}
	int state = -1;
	if (!ret) {
		state = state_snapshot(board, serr, sizeof(serr));
		ret = state < 0 ? state : 0;
		if (ret)
			fprintf(stderr, "btvm: %s\n", serr);
	}
	if (!ret)
		ret = send_memfd(&m->ss, REC_STATE, state, &m->bytes_sent);
	if (state >= 0)
		close(state);
	if (!ret)
		ret = send_record(&m->ss, REC_DONE, NULL, 0);
	/* A destination that cannot take the machine (an image's lock, when
	 * the state arrives) answers 'E' at once and closes without reading
	 * the rest, so the send it cuts short is not the reason: its answer,
	 * still readable, is. */
	if (!ret || ret == -EPIPE || ret == -ECONNRESET) {
		int ack = receive_ack(m);
		if (!ret || ack == -ECANCELED)
			ret = ack;
	}
	if (ret) {
		fail(m, "the last round", ret);
		if (m->disks_released && board_disks_lock(board, serr, sizeof(serr))) {
			/* Never run on with an image someone else may write. */
			fprintf(stderr, "btvm: migration: cannot take the disks back (%s): the guest "
					"stops here\n", serr);
			board_request_exit(board, 1);
		}
		m->disks_released = false;
		return;
	}
	m->end_ns = now_ns();
	m->state = MIG_COMPLETED;
	board_ram_log(board, false);
	stop_block(m);
	close(m->fd);
	m->fd = -1;
	sealed_close(&m->ss);
	char disk[64] = "";
	if (m->blk)
		snprintf(disk, sizeof(disk), ", %llu disk chunks",
			 (unsigned long long)m->chunks_sent);
	fprintf(stderr, "btvm: migrated in %llu ms (%u rounds, %llu pages%s, the guest stopped "
			"for %llu ms); it runs on at the destination\n",
		(unsigned long long)((m->end_ns - m->start_ns) / 1000000), m->rounds,
		(unsigned long long)m->pages_sent, disk,
		(unsigned long long)((m->end_ns - m->stop_ns) / 1000000));
	board_request_exit(board, 0);
}

static bool migration_run_stopped(void *opaque)
{
	struct migration *m = opaque;
	/* Paused, the devices are not polled (nor is migration_poll) and the
	 * guest writes nothing: the rounds go on from here, the first to
	 * find little written (the next, at the latest) the last. A paused
	 * machine arrives paused (the state records the pause). */
	if (!m->final_due && board_paused(m->board))
		(void)migration_poll(m, 0);   /* sets final_due for the last */
	if (m->final_due) {
		m->final_due = false;
		migration_finish(m);
	}
	return false;
}

static const struct board_frontend_ops migration_ops = {
	.poll = migration_poll,
	.run_stopped = migration_run_stopped,
};

void migration_get_status(const struct migration *m, struct migration_status *st)
{
	static const char *const names[] = { "none", "active", "completed", "failed" };
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

void migration_destroy(struct migration *m)
{
	if (!m)
		return;
	if (m->registered)
		board_remove_frontend(m->board, m);
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);   /* a sender blocked in send() returns */
	join_sender(m);
	if (m->fd >= 0)
		close(m->fd);
	sealed_close(&m->ss);
	free(m->round);
	stop_block(m);
	free(m);
}

/* --- the destination ---------------------------------------------------- */

struct migration_incoming {
	int fd;                   /* the source's connection */
	int config;               /* a memfd: the configuration, vouched for */
	struct sealed_stream ss;
	/* A block migration: the sizes of the source's read-write images,
	 * which this end's own images must have. */
	bool blk;
	uint32_t nblk;
	uint64_t blk_sectors[MAX_BLOCK_DISKS];
};

/* A record's payload into a new memfd, used only once all of it has opened. */
static int receive_memfd(struct sealed_stream *ss, uint64_t len, int *out)
{
	if (len > MAX_STATE_BYTES)
		return -EFBIG;
	int fd = memfd_create("btvm-migration-in", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[65536];
	int ret = 0;
	for (uint64_t off = 0; off < len && !ret;) {
		size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		ret = sealed_recv(ss, buf, n);
		if (!ret && pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			ret = -EIO;
		off += n;
	}
	if (!ret)
		ret = sealed_recv_end(ss);
	if (ret) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/* The listening socket for u: 0600 for a Unix one, so that only this
 * user can connect. The fd, or a negative errno with a reason in err. */
static int listen_on(const struct migration_uri *u, char *where, size_t where_len, char *err,
		     size_t err_len)
{
	int lfd, ret = 0;
	if (u->is_unix) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		struct stat st;
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", u->path);
		snprintf(where, where_len, "%s", u->path);
		if (!lstat(u->path, &st)) {
			snprintf(err, err_len, "--incoming: %s is there already; give a new name",
				 u->path);
			return -EEXIST;
		}
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* Only this thread runs yet: the umask covers just the bind. */
		mode_t old = umask(077);
		if (lfd < 0 || bind(lfd, (const struct sockaddr *)&addr, sizeof(addr)))
			ret = -errno;
		umask(old);
		if (!ret && (chmod(u->path, 0600) || listen(lfd, 1)))
			ret = -errno;
		if (ret && lfd >= 0 && !lstat(u->path, &st))
			unlink(u->path);
	} else {
		char port[8];
		snprintf(port, sizeof(port), "%u", u->port);
		snprintf(where, where_len, "%s:%s", u->host, port);
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_PASSIVE }, *res;
		int gai = getaddrinfo(u->host, port, &hints, &res);
		if (gai) {
			snprintf(err, err_len, "--incoming: %s: %s", where, gai_strerror(gai));
			return -EINVAL;
		}
		lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(lfd, res->ai_addr, res->ai_addrlen) || listen(lfd, 1))
			ret = -errno;
		freeaddrinfo(res);
	}
	if (ret) {
		snprintf(err, err_len, "--incoming: cannot listen on %s: %s", where, strerror(-ret));
		if (lfd >= 0)
			close(lfd);
		return ret;
	}
	return lfd;
}

/* A connection's greeting and configuration: 0 when both came with the
 * key (or, without one, in the protocol), else a reason in why. */
static int take_source(struct migration_incoming *in, const uint8_t *key, char *why,
		       size_t why_len)
{
	uint32_t kind = 0;
	uint64_t len = 0;
	set_timeout(in->fd, HANDSHAKE_TIMEOUT_S);
	in->blk = false;   /* nothing from a connection refused before */
	in->nblk = 0;
	int ret = sealed_accept(&in->ss, in->fd, MAGIC, key, why, why_len);
	if (ret)
		return ret;
	ret = sealed_recv_begin(&in->ss, &kind, &len);
	if (!ret && kind == REC_BLOCK) {
		uint8_t rec[4 + 8 * MAX_BLOCK_DISKS];
		if (len < 4 + 8 || len > sizeof(rec) || (len - 4) % 8)
			ret = -EPROTO;
		if (!ret)
			ret = sealed_recv(&in->ss, rec, len);
		if (!ret)
			ret = sealed_recv_end(&in->ss);
		if (!ret) {
			memcpy(&in->nblk, rec, 4);
			if (in->nblk != (len - 4) / 8)
				ret = -EPROTO;
			for (uint32_t i = 0; !ret && i < in->nblk; i++)
				memcpy(&in->blk_sectors[i], rec + 4 + 8 * i, 8);
			in->blk = !ret;
		}
		if (!ret)
			ret = sealed_recv_begin(&in->ss, &kind, &len);
	}
	if (!ret && kind != REC_CONFIG)
		ret = -EPROTO;
	if (!ret)
		ret = receive_memfd(&in->ss, len, &in->config);
	if (ret)
		snprintf(why, why_len, "%s",
			 ret == -EBADMSG ? "the stream does not carry the key"
			 : ret == -EPROTO ? "not a btvm migration"
					  : strerror(-ret));
	set_timeout(in->fd, 0);
	return ret;
}

static void describe_peer(int fd, char *out, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char host[64], serv[8];
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) || sa.ss_family == AF_UNIX ||
	    getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, len, "a connection");
	else
		snprintf(out, len, "a connection from %s port %s", host, serv);
}

int migration_listen(const char *uri, struct migration_incoming **out, char *err, size_t err_len)
{
	struct migration_uri u;
	uint8_t key[SEALED_KEY_BYTES];
	bool keyed;
	char where[300], why[300];
	*out = NULL;
	int ret = migration_uri_parse(uri, &u);
	if (ret) {
		snprintf(err, err_len, "--incoming: '%s' is not tcp:[ADDR]:PORT,key=FILE or unix:PATH",
			 uri);
		return ret;
	}
	ret = load_key(&u, key, &keyed, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "--incoming: %s", why);
		return ret;
	}
	struct migration_incoming *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	in->fd = in->config = -1;
	int lfd = listen_on(&u, where, sizeof(where), err, err_len);
	if (lfd < 0) {
		free(in);
		sodium_memzero(key, sizeof(key));
		return lfd;
	}
	fprintf(stderr, "btvm: waiting for a migration on %s\n", where);
	/* The first connection that brings a configuration with the key
	 * wins; one that does not is refused and the next one is waited
	 * for, so that nobody can end the wait by connecting first. */
	unsigned refused = 0;
	for (;;) {
		in->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (in->fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			ret = -errno;
			snprintf(err, err_len, "--incoming: %s: %s", where, strerror(-ret));
			break;
		}
		ret = take_source(in, keyed ? key : NULL, why, sizeof(why));
		if (!ret)
			break;
		char peer[128];
		describe_peer(in->fd, peer, sizeof(peer));
		sealed_close(&in->ss);
		close(in->fd);
		in->fd = -1;
		if (refused++ < MAX_REFUSALS_SHOWN)
			fprintf(stderr, "btvm: --incoming: refused %s: %s%s\n", peer, why,
				refused == MAX_REFUSALS_SHOWN ? " (no more such lines)" : "");
	}
	close(lfd);
	if (u.is_unix)
		unlink(u.path);   /* one connection: nobody else needs the name */
	sodium_memzero(key, sizeof(key));
	if (ret) {
		migration_incoming_free(in);
		return ret;
	}
	*out = in;
	return 0;
}

int migration_incoming_config(const struct migration_incoming *in)
{
	return in->config;
}

bool migration_incoming_block(const struct migration_incoming *in)
{
	return in->blk;
}

void migration_incoming_free(struct migration_incoming *in)
{
	if (!in)
		return;
	if (in->fd >= 0)
		close(in->fd);
	if (in->config >= 0)
		close(in->config);
	sealed_close(&in->ss);
	free(in);
}

/* One PAGES record into memory, once all of it has opened; every number is
 * checked. */
static int receive_pages(struct board *board, struct sealed_stream *ss, uint64_t len,
			 uint8_t *buf)
{
	struct board_memory mem;
	board_memory(board, &mem);
	uint64_t total = (mem.ram_size + mem.devmem_size) / PAGE;
	if (len < 4 || len > 4 + PAGES_PER_RECORD * (8 + PAGE))
		return -EPROTO;
	int ret = sealed_recv(ss, buf, len);
	if (!ret)
		ret = sealed_recv_end(ss);
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
		uint8_t *dst = mem.host + (uint64_t)page * PAGE;
		if (flag == PAGE_ZERO) {
			/* A hole: zeros without a page of host memory behind them
			 * (most of a large guest's RAM). */
			if (fallocate(mem.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)page * PAGE, PAGE))
				memset(dst, 0, PAGE);
		} else {
			memcpy(dst, buf + at, PAGE);
			at += PAGE;
		}
	}
	return at == len ? 0 : -EPROTO;
}

/* A block migration's images against the source's: as many, each of its
 * size (pre-created so: the copy neither grows nor cuts one). */
static int check_block_disks(struct board *board, const struct migration_incoming *in,
			     char *serr, size_t serr_len)
{
	for (uint32_t i = 0; i <= in->nblk; i++) {
		struct disk_image *d = board_rw_disk(board, i);
		if (i == in->nblk && !d)
			return 0;
		if (!d || i == in->nblk) {
			snprintf(serr, serr_len, "the source copies %u read-write disks, this "
				 "machine has another number", in->nblk);
			return -EINVAL;
		}
		if (d->sectors != in->blk_sectors[i]) {
			snprintf(serr, serr_len, "disk %s has %llu sectors, the source's copy %llu "
				 "(make it the same size)", d->path, (unsigned long long)d->sectors,
				 (unsigned long long)in->blk_sectors[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* One DISK record (send_chunk's) into this end's image, once all of it
 * has opened; every number checked against the image. */
static int receive_disk(struct board *board, const struct migration_incoming *in,
			struct sealed_stream *ss, uint64_t len, uint8_t *buf, struct disk_io *io)
{
	if (!in->blk || len < DISK_HEADER || len > DISK_HEADER + CHUNK_BYTES)
		return -EPROTO;
	int ret = sealed_recv(ss, buf, len);
	if (!ret)
		ret = sealed_recv_end(ss);
	if (ret)
		return ret;
	uint32_t i, flag, count;
	uint64_t sector;
	memcpy(&i, buf, 4);
	memcpy(&flag, buf + 4, 4);
	memcpy(&sector, buf + 8, 8);
	memcpy(&count, buf + 16, 4);
	struct disk_image *d = i < in->nblk ? board_rw_disk(board, i) : NULL;
	if (!d || !count || count > DISK_IMAGE_CHUNK_SECTORS || sector > d->sectors ||
	    count > d->sectors - sector || flag > PAGE_ZERO ||
	    len != DISK_HEADER + (flag == PAGE_DATA ? (uint64_t)count * DISK_IMAGE_SECTOR_SIZE : 0))
		return -EPROTO;
	if (flag == PAGE_ZERO)
		return disk_image_write_zeroes(d, sector, count, true);
	struct iovec iov = { buf + DISK_HEADER, (size_t)count * DISK_IMAGE_SECTOR_SIZE };
	return disk_image_write(d, io, &iov, 1, sector, NULL);
}

int migration_receive(struct board *board, struct migration_incoming *in, char *err,
		      size_t err_len)
{
	uint8_t *buf = malloc(4 + PAGES_PER_RECORD * (8 + PAGE));
	bool have_state = false;
	int ret = buf ? 0 : -ENOMEM;
	char serr[400] = "";
	struct disk_io io;
	disk_io_init(&io, false);
	if (!ret && in->blk)
		ret = check_block_disks(board, in, serr, sizeof(serr));
	while (!ret) {
		uint32_t kind;
		uint64_t len;
		ret = sealed_recv_begin(&in->ss, &kind, &len);
		if (ret)
			break;
		if (kind == REC_PAGES) {
			ret = receive_pages(board, &in->ss, len, buf);
		} else if (kind == REC_DISK && !have_state) {
			ret = receive_disk(board, in, &in->ss, len, buf, &io);
		} else if (kind == REC_STATE && !have_state) {
			int state = -1;
			ret = receive_memfd(&in->ss, len, &state);
			/* The source let its write locks go before the state:
			 * they are this end's now, or the source's again. */
			if (!ret)
				ret = board_disks_lock(board, serr, sizeof(serr));
			if (!ret)
				ret = board_snapshot_restore_state_fd(board, state, false, serr,
								      sizeof(serr));
			if (state >= 0)
				close(state);
			have_state = ret == 0;
		} else if (kind == REC_DONE && have_state && !len) {
			ret = sealed_recv_end(&in->ss);
			break;
		} else {
			ret = -EPROTO;
		}
	}
	free(buf);
	disk_io_destroy(&io);
	if (ret && *serr)
		snprintf(err, err_len, "--incoming: %s", serr);
	else if (ret)
		snprintf(err, err_len, "--incoming: the source's stream: %s",
			 ret == -EPROTO    ? "malformed"
			 : ret == -EBADMSG ? "a record does not carry the key"
					   : strerror(-ret));
	return ret;
}

void migration_answer(struct board *board, struct migration_incoming *in, bool taken)
{
	/* A machine not taken lets the source's images go before the 'E':
	 * the source takes its locks back as soon as it reads it, and this
	 * process may not have ended by then. */
	char ignored[300];
	if (!taken && !in->blk)
		(void)board_disks_release(board, ignored, sizeof(ignored));
	char ack = taken ? 'K' : 'E';
	(void)send_record(&in->ss, REC_ACK, &ack, 1);
	migration_incoming_free(in);
}
