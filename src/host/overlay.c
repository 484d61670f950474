/* btvm's overlay files: the header, the cluster map with its per-entry
 * checksums, copy-up on a cluster's first write, the chain walk for
 * reads, and the flush order that keeps a crash from naming garbage.
 * See overlay.h and docs/OVERLAY.md. */
#define _GNU_SOURCE
#include "host/overlay.h"

#include "host/bytes.h"
#include "host/iov.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char magic[8] = { 'B', 'T', 'V', 'M', 'O', 'V', 'L', 0 };
#define OVL_VERSION	1u
/* Header field offsets (docs/OVERLAY.md). */
#define H_VERSION	8
#define H_CLUSTER	12
#define H_SIZE		16
#define H_ID		24
#define H_BACK_ID	40
#define H_BACK_SIZE	56
#define H_BACK_MTIME	64
#define H_BACK_CRC	72
#define H_PATH_LEN	76
#define H_MAP_OFF	80
#define H_MAP_ENTRIES	88
#define H_PATH		96
#define MAX_PATH_LEN	(OVL_HEADER_BYTES - H_PATH - 4)
/* The raw image's first bytes, whose CRC the overlay above it keeps. */
#define HEAD_CRC_BYTES	65536u

/* A map entry's checksum binds the file cluster to the entry's index and
 * to this file's id, so that a byte flipped, an entry moved or a map
 * copied from another overlay is seen. */
static uint32_t entry_crc(const uint8_t id[OVL_ID_BYTES], uint64_t index, uint32_t fc)
{
	uint8_t b[12];
	bytes_put_le(b, index, 8);
	bytes_put_le(b + 8, fc, 4);
	return bytes_crc32(bytes_crc32(0, id, OVL_ID_BYTES), b, sizeof(b));
}

static uint64_t map_bytes(uint64_t nclusters)
{
	return nclusters * 8;
}

/* The first cluster after the header and the map. */
static uint64_t first_data_cluster(uint64_t nclusters)
{
	return 1 + (map_bytes(nclusters) + OVL_CLUSTER_SIZE - 1) / OVL_CLUSTER_SIZE;
}

static int fail(char *err, size_t errlen, const char *path, int e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *path, int e, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", path, what);
	return -e;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {	/* past the end: a hole */
			memset(p, 0, len);
			return 0;
		}
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

/* preadv/pwritev of all of iov (consumed) at off; a read past the end of
 * the file gives zeros. */
static int full_iov(int fd, bool write, struct iovec *iov, unsigned n, uint64_t off)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, (off_t)off)
				  : preadv(fd, iov, (int)n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (write)
				return -EIO;
			iov_zero(iov, n);
			return 0;
		}
		off += (size_t)r;
		iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

int ovl_is_overlay(int fd)
{
	uint8_t b[sizeof(magic)];
	ssize_t r = pread(fd, b, sizeof(b), 0);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof(b) && !memcmp(b, magic, sizeof(magic));
}

/* ---- Identity of what lies below ----------------------------------------- */

struct identity {
	uint8_t id[OVL_ID_BYTES];	/* an overlay's; zeros for the raw image */
	uint64_t size;			/* the raw image's bytes */
	uint64_t mtime_ns;
	uint32_t head_crc;
};

static int raw_identity(int fd, struct identity *idn)
{
	struct stat st;
	uint8_t *buf = malloc(HEAD_CRC_BYTES);
	if (!buf)
		return -ENOMEM;
	off_t end = lseek(fd, 0, SEEK_END);
	int ret = end < 0 || fstat(fd, &st) ? -errno : 0;
	if (!ret)
		ret = pread_full(fd, buf, HEAD_CRC_BYTES, 0);
	if (!ret) {
		memset(idn, 0, sizeof(*idn));
		idn->size = (uint64_t)end;
		/* A block device's times say nothing of its contents. */
		if (S_ISREG(st.st_mode))
			idn->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
					(uint64_t)st.st_mtim.tv_nsec;
		idn->head_crc = bytes_crc32(0, buf, HEAD_CRC_BYTES);
	}
	free(buf);
	return ret;
}

/* ---- The header ------------------------------------------------------------ */

struct header {
	uint64_t size, map_off, map_entries;
	uint8_t id[OVL_ID_BYTES];
	struct identity backing;
	char backing_path[MAX_PATH_LEN + 1];
};

static int parse_header(const char *path, int fd, struct header *h, char *err, size_t errlen)
{
	uint8_t b[OVL_HEADER_BYTES];
	struct stat st;
	if (fstat(fd, &st))
		return fail(err, errlen, path, errno, "%s", strerror(errno));
	ssize_t r = pread(fd, b, sizeof(b), 0);
	if (r < 0)
		return fail(err, errlen, path, errno, "%s", strerror(errno));
	if (r < (ssize_t)sizeof(magic) || memcmp(b, magic, sizeof(magic)))
		return fail(err, errlen, path, EINVAL, "not a btvm overlay (bad magic)");
	if (r < H_PATH + 4)
		return fail(err, errlen, path, EINVAL, "overlay truncated in its header");
	uint32_t plen = (uint32_t)bytes_get_le(b + H_PATH_LEN, 4);
	if (plen == 0 || plen > MAX_PATH_LEN)
		return fail(err, errlen, path, EINVAL, "overlay header damaged (backing path length)");
	if ((size_t)r < H_PATH + plen + 4)
		return fail(err, errlen, path, EINVAL, "overlay truncated in its header");
	if (bytes_crc32(0, b, H_PATH + plen) != (uint32_t)bytes_get_le(b + H_PATH + plen, 4))
		return fail(err, errlen, path, EINVAL, "overlay header damaged (checksum)");
	if (bytes_get_le(b + H_VERSION, 4) != OVL_VERSION)
		return fail(err, errlen, path, EINVAL, "overlay version %u, this btvm reads %u",
			    (unsigned)bytes_get_le(b + H_VERSION, 4), OVL_VERSION);
	if (bytes_get_le(b + H_CLUSTER, 4) != OVL_CLUSTER_SIZE)
		return fail(err, errlen, path, EINVAL, "cluster size %u, this btvm reads %u",
			    (unsigned)bytes_get_le(b + H_CLUSTER, 4), OVL_CLUSTER_SIZE);
	h->size = bytes_get_le(b + H_SIZE, 8);
	h->map_off = bytes_get_le(b + H_MAP_OFF, 8);
	h->map_entries = bytes_get_le(b + H_MAP_ENTRIES, 8);
	memcpy(h->id, b + H_ID, OVL_ID_BYTES);
	memcpy(h->backing.id, b + H_BACK_ID, OVL_ID_BYTES);
	h->backing.size = bytes_get_le(b + H_BACK_SIZE, 8);
	h->backing.mtime_ns = bytes_get_le(b + H_BACK_MTIME, 8);
	h->backing.head_crc = (uint32_t)bytes_get_le(b + H_BACK_CRC, 4);
	memcpy(h->backing_path, b + H_PATH, plen);
	h->backing_path[plen] = '\0';
	if (memchr(h->backing_path, 0, plen))
		return fail(err, errlen, path, EINVAL, "overlay header damaged (backing path)");
	/* The map's place and length follow from the size: anything else is
	 * a damaged (or hostile) header, not a layout to honour. */
	uint64_t clusters = (h->size + OVL_CLUSTER_SIZE - 1) / OVL_CLUSTER_SIZE;
	if (h->size % 512 || h->map_entries != clusters || h->map_off != OVL_CLUSTER_SIZE ||
	    clusters > UINT32_MAX)
		return fail(err, errlen, path, EINVAL, "overlay header damaged (map layout)");
	if ((uint64_t)st.st_size < first_data_cluster(clusters) * OVL_CLUSTER_SIZE)
		return fail(err, errlen, path, EINVAL, "overlay truncated (%llu bytes, the map "
			    "ends at %llu)", (unsigned long long)st.st_size,
			    (unsigned long long)(first_data_cluster(clusters) * OVL_CLUSTER_SIZE));
	return 0;
}

/* Reads and checks the map: every entry's checksum, every cluster inside
 * the file and after the map, no cluster named twice. */
static int load_map(struct ovl *o, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(o->fd, &st))
		return fail(err, errlen, o->path, errno, "%s", strerror(errno));
	uint64_t file_clusters = (uint64_t)st.st_size / OVL_CLUSTER_SIZE;
	uint64_t first = first_data_cluster(o->nclusters);
	size_t len = (size_t)map_bytes(o->nclusters);
	uint8_t *raw = malloc(len ? len : 1);
	uint8_t *used = calloc((size_t)(file_clusters / 8 + 1), 1);
	o->map = calloc((size_t)o->nclusters + 1, sizeof(*o->map));
	o->pending = calloc((size_t)(o->nclusters / 64 + 1), sizeof(*o->pending));
	int ret = !raw || !used || !o->map || !o->pending ? -ENOMEM : 0;
	if (ret)
		fail(err, errlen, o->path, ENOMEM, "out of memory for the map");
	if (!ret && (ret = pread_full(o->fd, raw, len, o->map_off)))
		fail(err, errlen, o->path, -ret, "cannot read the map: %s", strerror(-ret));
	uint64_t end = first;
	for (uint64_t i = 0; !ret && i < o->nclusters; i++) {
		uint64_t e = bytes_get_le(raw + i * 8, 8);
		uint32_t fc = (uint32_t)e;
		if (!e)
			continue;
		if ((uint32_t)(e >> 32) != entry_crc(o->id, i, fc))
			ret = fail(err, errlen, o->path, EINVAL, "map entry %llu damaged (checksum)",
				   (unsigned long long)i);
		else if (fc < first)
			ret = fail(err, errlen, o->path, EINVAL, "map entry %llu points into the "
				   "header or the map", (unsigned long long)i);
		else if (fc >= file_clusters)
			ret = fail(err, errlen, o->path, EINVAL, "map entry %llu points beyond the "
				   "end of the file", (unsigned long long)i);
		else if (used[fc / 8] & (1u << (fc % 8)))
			ret = fail(err, errlen, o->path, EINVAL, "map entries name cluster %u twice",
				   fc);
		if (ret)
			break;
		used[fc / 8] |= (uint8_t)(1u << (fc % 8));
		o->map[i] = fc;
		if (fc + 1u > end)
			end = fc + 1u;
	}
	/* New clusters go after everything in the file: a cluster written
	 * before a crash but never named is left alone. */
	uint64_t tail = ((uint64_t)st.st_size + OVL_CLUSTER_SIZE - 1) / OVL_CLUSTER_SIZE;
	if (!ret && (tail > UINT32_MAX || end > UINT32_MAX))
		ret = fail(err, errlen, o->path, EFBIG, "overlay too large");
	o->next_cluster = (uint32_t)(tail > end ? tail : end);
	free(raw);
	free(used);
	return ret;
}

/* ---- Creating ---------------------------------------------------------------- */

/* path's directory, resolved (the file itself need not exist). */
static int dir_of(const char *path, char *out)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	char *slash = strrchr(tmp, '/');
	const char *dir = ".";
	if (slash == tmp)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = tmp;
	}
	return realpath(dir, out) ? 0 : -errno;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* How the overlay at path names backing: by its name alone when beside
 * it, "../NAME" from a subdirectory of backing's (a snapshot directory
 * beside its image), else absolute; so a directory moved with its image
 * keeps working. */
static int backing_name(const char *path, const char *backing, char *out, size_t outlen)
{
	char odir[PATH_MAX], bdir[PATH_MAX], parent[PATH_MAX];
	int ret = dir_of(path, odir);
	if (!ret)
		ret = dir_of(backing, bdir);
	if (ret)
		return ret;
	snprintf(parent, sizeof(parent), "%s", odir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	int n;
	if (!strcmp(odir, bdir))
		n = snprintf(out, outlen, "%s", base_name(backing));
	else if (!strcmp(parent, bdir))
		n = snprintf(out, outlen, "../%s", base_name(backing));
	else
		n = snprintf(out, outlen, "%s/%s", bdir, base_name(backing));
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int ret = dir_of(path, dir);
	if (ret)
		return ret;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fsync(fd) ? -errno : 0;
	close(fd);
	return ret;
}

int ovl_create(const char *path, const char *backing, uint64_t size, char *err, size_t errlen)
{
	struct identity idn;
	char name[MAX_PATH_LEN + 1];
	uint8_t b[OVL_HEADER_BYTES] = { 0 };
	uint8_t id[OVL_ID_BYTES];

	if (size % 512 || (size + OVL_CLUSTER_SIZE - 1) / OVL_CLUSTER_SIZE > UINT32_MAX)
		return fail(err, errlen, path, EINVAL, "a disk of %llu bytes cannot have an overlay",
			    (unsigned long long)size);
	int ret = backing_name(path, backing, name, sizeof(name));
	if (ret)
		return fail(err, errlen, path, -ret, "cannot name %s: %s", backing, strerror(-ret));
	int bfd = open(backing, O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		return fail(err, errlen, backing, errno, "%s", strerror(errno));
	ret = ovl_is_overlay(bfd);
	if (ret == 1) {
		struct header bh;
		ret = parse_header(backing, bfd, &bh, err, errlen);
		memset(&idn, 0, sizeof(idn));
		memcpy(idn.id, bh.id, OVL_ID_BYTES);
		idn.size = bh.size;
	} else if (ret == 0) {
		ret = raw_identity(bfd, &idn);
		if (ret)
			fail(err, errlen, backing, -ret, "%s", strerror(-ret));
	} else {
		fail(err, errlen, backing, -ret, "%s", strerror(-ret));
	}
	close(bfd);
	if (ret)
		return ret;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return fail(err, errlen, path, errno, "no random id: %s", strerror(errno));

	uint64_t clusters = (size + OVL_CLUSTER_SIZE - 1) / OVL_CLUSTER_SIZE;
	size_t plen = strlen(name);
	memcpy(b, magic, sizeof(magic));
	bytes_put_le(b + H_VERSION, OVL_VERSION, 4);
	bytes_put_le(b + H_CLUSTER, OVL_CLUSTER_SIZE, 4);
	bytes_put_le(b + H_SIZE, size, 8);
	memcpy(b + H_ID, id, OVL_ID_BYTES);
	memcpy(b + H_BACK_ID, idn.id, OVL_ID_BYTES);
	bytes_put_le(b + H_BACK_SIZE, idn.size, 8);
	bytes_put_le(b + H_BACK_MTIME, idn.mtime_ns, 8);
	bytes_put_le(b + H_BACK_CRC, idn.head_crc, 4);
	bytes_put_le(b + H_PATH_LEN, plen, 4);
	bytes_put_le(b + H_MAP_OFF, OVL_CLUSTER_SIZE, 8);
	bytes_put_le(b + H_MAP_ENTRIES, clusters, 8);
	memcpy(b + H_PATH, name, plen);
	bytes_put_le(b + H_PATH + plen, bytes_crc32(0, b, H_PATH + plen), 4);

	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, errlen, path, errno, "%s", strerror(errno));
	/* The map starts all zeros (a hole): no cluster is here yet. */
	ret = pwrite_full(fd, b, sizeof(b), 0);
	if (!ret && ftruncate(fd, (off_t)(first_data_cluster(clusters) * OVL_CLUSTER_SIZE)))
		ret = -errno;
	if (!ret && fdatasync(fd))
		ret = -errno;
	close(fd);
	if (!ret)
		ret = sync_dir_of(path);
	if (ret) {
		unlink(path);
		return fail(err, errlen, path, -ret, "cannot create the overlay: %s", strerror(-ret));
	}
	return 0;
}

/* ---- Opening a chain --------------------------------------------------------- */

static int set_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

static int lock_file(struct ovl *o, char *err, size_t errlen)
{
	int ret = set_lock(o->fd, o->writable ? F_WRLCK : F_RDLCK);
	if (ret == -EAGAIN || ret == -EACCES) {
		snprintf(err, errlen, "image %s is in use by another process", o->path);
		return -EBUSY;
	}
	if (ret)
		return fail(err, errlen, o->path, -ret, "cannot lock: %s", strerror(-ret));
	o->locked = true;
	return 0;
}

int ovl_lock(struct ovl *top, char *err, size_t errlen)
{
	if (top->locked)
		return 0;
	int ret = lock_file(top, err, errlen);
	if (ret || !top->writable)
		return ret;
	/* Opened without its lock (a migration's destination), the map read
	 * then is the source's of that moment: the source has written and
	 * flushed since, and let the lock go only after. */
	free(top->map);
	free(top->pending);
	top->map = NULL;
	top->pending = NULL;
	top->any_pending = false;
	ret = load_map(top, err, errlen);
	if (ret)
		(void)ovl_unlock(top);
	return ret;
}

int ovl_unlock(struct ovl *top)
{
	if (!top->locked)
		return 0;
	int ret = set_lock(top->fd, F_UNLCK);
	if (!ret)
		top->locked = false;
	return ret;
}

static void free_one(struct ovl *o)
{
	if (o->fd >= 0)
		close(o->fd);
	free(o->map);
	free(o->pending);
	free(o->path);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void ovl_close_chain(struct ovl *top)
{
	while (top) {
		struct ovl *below = top->backing;
		if (top->writable)
			(void)ovl_flush(top);
		free_one(top);
		top = below;
	}
}

/* name as the file at dir_path's directory names it. */
static int resolve(const char *from, const char *name, char *out, size_t outlen)
{
	if (name[0] == '/') {
		snprintf(out, outlen, "%s", name);
		return 0;
	}
	char dir[PATH_MAX];
	int ret = dir_of(from, dir);
	if (ret)
		return ret;
	int n = snprintf(out, outlen, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static bool same_identity(const struct identity *want, int fd)
{
	struct identity have;
	return !raw_identity(fd, &have) && have.size == want->size &&
	       have.mtime_ns == want->mtime_ns && have.head_crc == want->head_crc;
}

static int open_chain(const char *path, int base_fd, uint64_t base_size, bool writable,
		      bool defer_lock, bool check_base, bool lock, struct ovl **top, char *err,
		      size_t errlen)
{
	struct stat base_st, st;
	dev_t devs[OVL_MAX_CHAIN];
	ino_t inos[OVL_MAX_CHAIN];
	struct ovl *first = NULL, *last = NULL;
	char cur[PATH_MAX];
	struct identity want = { 0 };
	int ret = 0;

	*top = NULL;
	if (fstat(base_fd, &base_st))
		return fail(err, errlen, path, errno, "%s", strerror(errno));
	snprintf(cur, sizeof(cur), "%s", path);
	for (unsigned depth = 0;; depth++) {
		if (depth == OVL_MAX_CHAIN) {
			ret = fail(err, errlen, path, ELOOP, "chain deeper than %u files",
				   OVL_MAX_CHAIN);
			break;
		}
		bool rw = writable && depth == 0;
		int fd = open(cur, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			ret = fail(err, errlen, cur, errno, "%s", strerror(errno));
			break;
		}
		if (fstat(fd, &st)) {
			ret = fail(err, errlen, cur, errno, "%s", strerror(errno));
			close(fd);
			break;
		}
		if (st.st_dev == base_st.st_dev && st.st_ino == base_st.st_ino) {
			/* The raw image: the end. It must be what the file
			 * above was made over. */
			bool ok = depth > 0 && !memcmp(want.id, (uint8_t[OVL_ID_BYTES]){ 0 },
						      OVL_ID_BYTES) &&
				  (!check_base || same_identity(&want, fd));
			close(fd);
			if (!ok)
				ret = fail(err, errlen, last ? last->path : cur, ESTALE,
					   "its backing image %s changed since the overlay was made "
					   "(refused)", cur);
			break;
		}
		for (unsigned i = 0; i < depth; i++)
			if (devs[i] == st.st_dev && inos[i] == st.st_ino)
				ret = fail(err, errlen, cur, ELOOP, "loop in the overlay chain");
		devs[depth] = st.st_dev;
		inos[depth] = st.st_ino;
		struct ovl *o = calloc(1, sizeof(*o));
		if (!o || ret) {
			if (!ret)
				ret = fail(err, errlen, cur, ENOMEM, "out of memory");
			close(fd);
			free(o);
			break;
		}
		o->fd = fd;
		o->writable = rw;
		o->base_fd = base_fd;
		o->base_size = base_size;
		pthread_mutex_init(&o->lock, NULL);
		o->path = strdup(cur);
		if (!first)
			first = o;
		else
			last->backing = o;
		last = o;
		struct header h;
		if (!o->path) {
			ret = fail(err, errlen, cur, ENOMEM, "out of memory");
			break;
		}
		if ((ret = parse_header(cur, fd, &h, err, errlen)))
			break;
		if (depth > 0 && memcmp(want.id, h.id, OVL_ID_BYTES)) {
			ret = fail(err, errlen, first == o ? cur : path, ESTALE,
				   "its backing overlay %s is not the one it was made over", cur);
			break;
		}
		if (h.size != base_size) {
			ret = fail(err, errlen, cur, EINVAL, "overlay of %llu bytes over a disk of %llu",
				   (unsigned long long)h.size, (unsigned long long)base_size);
			break;
		}
		o->size = h.size;
		o->nclusters = h.map_entries;
		o->map_off = h.map_off;
		memcpy(o->id, h.id, OVL_ID_BYTES);
		if ((ret = load_map(o, err, errlen)))
			break;
		if (lock && (!rw || !defer_lock) && (ret = lock_file(o, err, errlen)))
			break;
		want = h.backing;
		char next[PATH_MAX];
		if ((ret = resolve(cur, h.backing_path, next, sizeof(next)))) {
			fail(err, errlen, cur, -ret, "backing path: %s", strerror(-ret));
			break;
		}
		snprintf(cur, sizeof(cur), "%s", next);
	}
	if (ret) {
		/* Nothing was written: no flush on the way out. */
		for (struct ovl *o = first; o; o = o->backing)
			o->writable = false;
		ovl_close_chain(first);
		return ret;
	}
	*top = first;
	return 0;
}

int ovl_open_chain(const char *path, int base_fd, uint64_t base_size, bool writable,
		   bool defer_lock, struct ovl **top, char *err, size_t errlen)
{
	return open_chain(path, base_fd, base_size, writable, defer_lock, true, true, top, err,
			  errlen);
}

int ovl_open_chain_unlocked(const char *path, int base_fd, uint64_t base_size,
			    struct ovl **top, char *err, size_t errlen)
{
	return open_chain(path, base_fd, base_size, false, false, true, false, top, err, errlen);
}

int ovl_open_chain_any_base(const char *path, int base_fd, uint64_t base_size,
			    struct ovl **top, char *err, size_t errlen)
{
	return open_chain(path, base_fd, base_size, false, false, false, true, top, err, errlen);
}

/* ---- Transfers --------------------------------------------------------------- */

static uint32_t map_get(struct ovl *o, uint64_t c)
{
	if (!o->writable)
		return o->map[c];
	pthread_mutex_lock(&o->lock);
	uint32_t fc = o->map[c];
	pthread_mutex_unlock(&o->lock);
	return fc;
}

/* Bytes [in, in + len) of virtual cluster c from the newest file holding
 * it, from o down; the raw image (zeros past its end) holds the rest.
 * piece is consumed. */
static int read_part(struct ovl *o, uint64_t c, uint32_t in, struct iovec *piece, unsigned m)
{
	for (; o; o = o->backing) {
		uint32_t fc = map_get(o, c);
		if (fc)
			return full_iov(o->fd, false, piece, m, (uint64_t)fc * OVL_CLUSTER_SIZE + in);
		if (!o->backing)
			return full_iov(o->base_fd, false, piece, m, c * OVL_CLUSTER_SIZE + in);
	}
	return -EINVAL;
}

/* A cluster's first write: the cluster as the chain below has it, the
 * write laid over it, all of it written at a new place in the file, and
 * only then named in the map (pending until the next flush). Under the
 * map's lock, so that two writers of one cluster allocate it once. */
static int copy_up(struct ovl *top, uint64_t c, uint32_t in, const struct iovec *piece,
		   unsigned m, uint64_t len)
{
	uint8_t *buf = malloc(OVL_CLUSTER_SIZE);
	if (!buf)
		return -ENOMEM;
	int ret = 0;
	if (len < OVL_CLUSTER_SIZE) {
		struct iovec whole = { buf, OVL_CLUSTER_SIZE };
		ret = top->backing ? read_part(top->backing, c, 0, &whole, 1)
				   : full_iov(top->base_fd, false, &whole, 1, c * OVL_CLUSTER_SIZE);
	}
	uint8_t *p = buf + in;
	for (unsigned i = 0; !ret && i < m; i++) {
		memcpy(p, piece[i].iov_base, piece[i].iov_len);
		p += piece[i].iov_len;
	}
	if (!ret && top->next_cluster == UINT32_MAX)
		ret = -EFBIG;
	uint32_t fc = top->next_cluster;
	if (!ret)
		ret = pwrite_full(top->fd, buf, OVL_CLUSTER_SIZE, (uint64_t)fc * OVL_CLUSTER_SIZE);
	if (!ret) {
		top->next_cluster++;
		top->map[c] = fc;
		top->pending[c / 64] |= 1ull << (c % 64);
		top->any_pending = true;
	}
	free(buf);
	return ret;
}

static int write_part(struct ovl *top, uint64_t c, uint32_t in, struct iovec *piece,
		      unsigned m, uint64_t len)
{
	pthread_mutex_lock(&top->lock);
	uint32_t fc = top->map[c];
	if (fc) {
		pthread_mutex_unlock(&top->lock);
		return full_iov(top->fd, true, piece, m, (uint64_t)fc * OVL_CLUSTER_SIZE + in);
	}
	int ret = copy_up(top, c, in, piece, m, len);
	pthread_mutex_unlock(&top->lock);
	return ret;
}

/* Splits [off, off + len) at cluster boundaries. */
static int transfer(struct ovl *top, bool write, const struct iovec *iov, unsigned n,
		    uint64_t off)
{
	uint64_t len = iov_length(iov, n);
	if (off > top->size || len > top->size - off || (write && !top->writable))
		return write && !top->writable ? -EROFS : -EINVAL;
	struct iovec *piece = malloc(sizeof(*piece) * (n ? n : 1));
	if (!piece)
		return -ENOMEM;
	int ret = 0;
	for (uint64_t done = 0; !ret && done < len;) {
		uint64_t v = off + done, c = v / OVL_CLUSTER_SIZE;
		uint32_t in = (uint32_t)(v % OVL_CLUSTER_SIZE);
		uint64_t chunk = OVL_CLUSTER_SIZE - in;
		if (chunk > len - done)
			chunk = len - done;
		unsigned m = iov_window(iov, n, done, chunk, piece);
		ret = write ? write_part(top, c, in, piece, m, chunk)
			    : read_part(top, c, in, piece, m);
		done += chunk;
	}
	free(piece);
	return ret;
}

int ovl_readv(struct ovl *top, const struct iovec *iov, unsigned n, uint64_t off)
{
	return transfer(top, false, iov, n, off);
}

int ovl_writev(struct ovl *top, const struct iovec *iov, unsigned n, uint64_t off)
{
	return transfer(top, true, iov, n, off);
}

int ovl_write_zeroes(struct ovl *top, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[OVL_CLUSTER_SIZE];
	while (len) {
		uint64_t chunk = OVL_CLUSTER_SIZE - off % OVL_CLUSTER_SIZE;
		if (chunk > len)
			chunk = len;
		struct iovec one = { (void *)zeros, (size_t)chunk };
		int ret = ovl_writev(top, &one, 1, off);
		if (ret)
			return ret;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* Writes the map entries whose bits are set in bits, a run at a time. */
static int write_entries(struct ovl *o, const uint64_t *bits)
{
	uint8_t buf[4096];
	for (uint64_t c = 0; c < o->nclusters;) {
		if (!(bits[c / 64] & (1ull << (c % 64)))) {
			c++;
			continue;
		}
		uint64_t run = 0;
		while (c + run < o->nclusters && run < sizeof(buf) / 8 &&
		       (bits[(c + run) / 64] & (1ull << ((c + run) % 64))))
			run++;
		pthread_mutex_lock(&o->lock);
		for (uint64_t i = 0; i < run; i++) {
			uint32_t fc = o->map[c + i];
			bytes_put_le(buf + i * 8, ((uint64_t)entry_crc(o->id, c + i, fc) << 32) | fc, 8);
		}
		pthread_mutex_unlock(&o->lock);
		int ret = pwrite_full(o->fd, buf, (size_t)run * 8, o->map_off + c * 8);
		if (ret)
			return ret;
		c += run;
	}
	return 0;
}

int ovl_flush(struct ovl *top)
{
	if (!top->writable)
		return 0;
	/* The entries to write are those whose data was written before
	 * now: their data is made durable first, and an allocation after
	 * the copy waits for the next flush. */
	uint64_t words = top->nclusters / 64 + 1;
	uint64_t *copy = NULL;
	pthread_mutex_lock(&top->lock);
	if (top->any_pending) {
		copy = malloc(words * sizeof(*copy));
		if (copy) {
			memcpy(copy, top->pending, words * sizeof(*copy));
			memset(top->pending, 0, words * sizeof(*copy));
			top->any_pending = false;
		}
	}
	bool no_memory = top->any_pending && !copy;
	pthread_mutex_unlock(&top->lock);
	if (no_memory)
		return -ENOMEM;
	int ret = fdatasync(top->fd) ? -errno : 0;
	if (!ret && copy) {
		ret = write_entries(top, copy);
		if (!ret && fdatasync(top->fd))
			ret = -errno;
	}
	if (ret && copy) {
		/* Not written: they stay pending for the next flush. */
		pthread_mutex_lock(&top->lock);
		for (uint64_t i = 0; i < words; i++)
			top->pending[i] |= copy[i];
		top->any_pending = true;
		pthread_mutex_unlock(&top->lock);
	}
	free(copy);
	return ret;
}

int ovl_freeze(struct ovl *top)
{
	int ret = ovl_flush(top);
	if (!ret && top->locked)
		ret = set_lock(top->fd, F_RDLCK);
	if (!ret)
		top->writable = false;
	return ret;
}

bool ovl_cluster_in_chain(const struct ovl *top, uint64_t c)
{
	for (const struct ovl *o = top; o; o = o->backing)
		if (o->map[c])
			return true;
	return false;
}

int ovl_backing_of(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	struct header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, errno, "%s", strerror(errno));
	int ret = parse_header(path, fd, &h, err, errlen);
	close(fd);
	if (!ret && (ret = resolve(path, h.backing_path, out, outlen)))
		fail(err, errlen, path, -ret, "backing path: %s", strerror(-ret));
	return ret;
}
