/* The confined diod (host/share_server.h) spoken to in raw 9P2000.L, as a
 * malicious guest could through the transport, which passes walks as they
 * are: the folder's file is read; `..` from the export's root, symlinks
 * to /etc, to .. and to a file outside the folder (relative and absolute)
 * lead nowhere (the walk stops or the open fails, and nothing outside is
 * read); mknod of a device fails, and a device node already in the folder
 * (made here when the test runs as root) cannot be opened; a read-only
 * share refuses a create with EROFS; stopping the server closes the
 * connection. Needs Debian's diod and user namespaces, as --share does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "host/share_server.h"

#define HANG_MS 10000
#define NOFID 0xffffffffu

static uint8_t msgbuf[70000];

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A message under construction. */
struct msg {
	uint8_t b[512];
	uint32_t n;
};

static void begin(struct msg *m, uint8_t type, uint16_t tag)
{
	m->n = 7;
	m->b[4] = type;
	le16(m->b + 5, tag);
}

static void u16(struct msg *m, uint16_t v)
{
	le16(m->b + m->n, v);
	m->n += 2;
}

static void u32(struct msg *m, uint32_t v)
{
	le32(m->b + m->n, v);
	m->n += 4;
}

static void u64(struct msg *m, uint64_t v)
{
	u32(m, (uint32_t)v);
	u32(m, (uint32_t)(v >> 32));
}

static void str(struct msg *m, const char *s)
{
	u16(m, (uint16_t)strlen(s));
	memcpy(m->b + m->n, s, strlen(s));
	m->n += (uint32_t)strlen(s);
}

/* Sends m and reads the reply into msgbuf: its type, 0 on a hang or a
 * closed connection. */
static uint8_t rpc(int fd, struct msg *m)
{
	le32(m->b, m->n);
	if (write(fd, m->b, m->n) != (ssize_t)m->n)
		return 0;
	uint32_t got = 0, want = 4;
	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, HANG_MS) != 1)
			return 0;
		ssize_t n = read(fd, msgbuf + got, want - got);
		if (n <= 0)
			return 0;
		got += (uint32_t)n;
		if (got == 4 && (want = rd32(msgbuf)) > sizeof(msgbuf))
			return 0;
	}
	return msgbuf[4];
}

/* Rlerror's code, or 0 when the reply was not one. */
static uint32_t lerror(uint8_t type)
{
	return type == 7 ? rd32(msgbuf + 7) : 0;
}

static void attach(int fd)
{
	struct msg m;
	begin(&m, 100, 0xffff);
	u32(&m, 65536);
	str(&m, "9P2000.L");
	CHECK_EQ(rpc(fd, &m), 101);
	begin(&m, 104, 1);
	u32(&m, 0);
	u32(&m, NOFID);
	str(&m, "");
	str(&m, SHARE_SERVER_EXPORT);
	u32(&m, SHARE_SERVER_UID);
	CHECK_EQ(rpc(fd, &m), 105);
}

/* Walks fid 0 to newfid through names: how many steps succeeded (-1 for
 * an Rlerror on the first). */
static int walk(int fd, uint32_t newfid, const char *const *names, unsigned n)
{
	struct msg m;
	begin(&m, 110, 2);
	u32(&m, 0);
	u32(&m, newfid);
	u16(&m, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		str(&m, names[i]);
	uint8_t t = rpc(fd, &m);
	if (t != 111)
		return -1;
	return msgbuf[7] | msgbuf[8] << 8;
}

/* Opens fid for reading and reads up to 4 KiB: the bytes read, or minus
 * the error. */
static long open_read(int fd, uint32_t fid, char *out, size_t cap)
{
	struct msg m;
	begin(&m, 12, 3);	/* Tlopen */
	u32(&m, fid);
	u32(&m, O_RDONLY);
	uint8_t t = rpc(fd, &m);
	if (t != 13)
		return -(long)lerror(t);
	begin(&m, 116, 4);	/* Tread */
	u32(&m, fid);
	u64(&m, 0);
	u32(&m, 4096);
	t = rpc(fd, &m);
	if (t != 117)
		return -(long)lerror(t);
	uint32_t count = rd32(msgbuf + 7);
	if (count > cap)
		count = (uint32_t)cap;
	memcpy(out, msgbuf + 11, count);
	return count;
}

static void clunk(int fd, uint32_t fid)
{
	struct msg m;
	begin(&m, 120, 5);
	u32(&m, fid);
	rpc(fd, &m);
}

static void write_file(const char *path, const char *text)
{
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(f >= 0);
	CHECK_EQ(write(f, text, strlen(text)), strlen(text));
	close(f);
}

static void test_confined(const char *base, const char *share)
{
	struct share_server s;
	char err[256], path[1024], buf[4096];
	int fd = -1;

	int ret = share_server_start(&s, share, false, &fd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "share_server_start: %s\n", err);
		CHECK(!"the server starts");
		return;
	}
	attach(fd);

	const char *hello[] = { "hello.txt" };
	CHECK_EQ(walk(fd, 1, hello, 1), 1);
	long n = open_read(fd, 1, buf, sizeof(buf));
	CHECK_EQ(n, 11);
	CHECK(n == 11 && !memcmp(buf, "inside-text", 11));

	/* `..` from the export's root: the empty root, no /etc there. */
	const char *dotdot[] = { "..", "..", "etc", "passwd" };
	CHECK(walk(fd, 2, dotdot, 4) < 3);
	const char *dotdot_out[] = { "..", "outside.txt" };
	CHECK(walk(fd, 2, dotdot_out, 2) < 2);
	const char *host_base[] = { "..", base + 1 };	/* base without its leading / */
	CHECK(walk(fd, 2, host_base, 2) < 2);
	/* Through symlinks: to /etc, to .., to the file outside. */
	const char *etc[] = { "etc_link", "passwd" };
	CHECK(walk(fd, 3, etc, 2) < 2);
	const char *up[] = { "up_link", "up_link", "outside.txt" };
	CHECK(walk(fd, 3, up, 3) < 3);
	const char *rel[] = { "rel_out" };
	CHECK_EQ(walk(fd, 4, rel, 1), 1);	/* the link itself is in the folder */
	n = open_read(fd, 4, buf, sizeof(buf));
	CHECK(n < 0);
	CHECK(n < 0 || !memmem(buf, (size_t)n, "SECRET", 6));
	const char *abs[] = { "abs_out" };
	CHECK_EQ(walk(fd, 5, abs, 1), 1);
	n = open_read(fd, 5, buf, sizeof(buf));
	CHECK(n < 0);
	const char *pw[] = { "passwd_link" };
	CHECK_EQ(walk(fd, 6, pw, 1), 1);
	CHECK(open_read(fd, 6, buf, sizeof(buf)) < 0);

	/* Tmknod of /dev/null's numbers in the folder. */
	struct msg m;
	begin(&m, 18, 6);
	u32(&m, 0);
	str(&m, "null");
	u32(&m, S_IFCHR | 0666);
	u32(&m, 1);
	u32(&m, 3);
	u32(&m, 0);
	CHECK(lerror(rpc(fd, &m)) != 0);
	snprintf(path, sizeof(path), "%s/null", share);
	struct stat st;
	CHECK(lstat(path, &st) < 0 || !S_ISCHR(st.st_mode));
	/* A node already there (root can make one on the host) is no use. */
	snprintf(path, sizeof(path), "%s/hostnull", share);
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		const char *node[] = { "hostnull" };
		CHECK_EQ(walk(fd, 7, node, 1), 1);
		CHECK(open_read(fd, 7, buf, sizeof(buf)) < 0);
		unlink(path);
	}
	for (uint32_t fid = 1; fid <= 7; fid++)
		clunk(fd, fid);

	/* Stopped, the server's end closes. */
	share_server_stop(&s);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, HANG_MS), 1);
	CHECK_EQ(read(fd, buf, 1), 0);
	close(fd);
	share_server_stop(&s);
}

static void test_readonly(const char *share)
{
	struct share_server s;
	char err[256], path[1024];
	int fd = -1;

	int ret = share_server_start(&s, share, true, &fd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "share_server_start: %s\n", err);
		CHECK(!"the read-only server starts");
		return;
	}
	attach(fd);
	struct msg m;
	begin(&m, 14, 7);	/* Tlcreate in the root */
	u32(&m, 0);
	str(&m, "new.txt");
	u32(&m, O_WRONLY | O_CREAT);
	u32(&m, 0644);
	u32(&m, 0);
	CHECK_EQ(lerror(rpc(fd, &m)), EROFS);
	snprintf(path, sizeof(path), "%s/new.txt", share);
	CHECK(access(path, F_OK) < 0);
	share_server_stop(&s);
	close(fd);
}

static void test_errors(const char *base)
{
	struct share_server s;
	char err[256], path[1024];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/missing", base);
	CHECK(share_server_start(&s, path, false, &fd, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "missing");
	CHECK_EQ(fd, -1);
	share_server_stop(&s);
}

int main(void)
{
	char base[] = "/tmp/btvm-share-XXXXXX";
	char share[600], path[700];

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(share, sizeof(share), "%s/share", base);
	CHECK_EQ(mkdir(share, 0755), 0);
	snprintf(path, sizeof(path), "%s/outside.txt", base);
	write_file(path, "SECRET-outside");
	snprintf(path, sizeof(path), "%s/hello.txt", share);
	write_file(path, "inside-text");
	snprintf(path, sizeof(path), "%s/etc_link", share);
	CHECK_EQ(symlink("/etc", path), 0);
	snprintf(path, sizeof(path), "%s/passwd_link", share);
	CHECK_EQ(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/up_link", share);
	CHECK_EQ(symlink("..", path), 0);
	snprintf(path, sizeof(path), "%s/rel_out", share);
	CHECK_EQ(symlink("../outside.txt", path), 0);
	char target[700];
	snprintf(target, sizeof(target), "%s/outside.txt", base);
	snprintf(path, sizeof(path), "%s/abs_out", share);
	CHECK_EQ(symlink(target, path), 0);

	test_confined(base, share);
	test_readonly(share);
	test_errors(base);

	/* Clean up what the test made. */
	const char *names[] = { "hello.txt", "etc_link", "passwd_link", "up_link", "rel_out",
				"abs_out" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", share, names[i]);
		unlink(path);
	}
	rmdir(share);
	snprintf(path, sizeof(path), "%s/outside.txt", base);
	unlink(path);
	rmdir(base);
	return check_report("test_share_server");
}
