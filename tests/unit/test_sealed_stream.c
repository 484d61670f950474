/* host/sealed_stream.c over a socketpair, with a man in the middle where
 * the test needs one: records with the key go through, large and empty
 * ones included, and the wire does not show the payload; a flipped bit, a
 * changed header, a wrong key, a record replayed in another place, in
 * another connection or sent back the other way, and a peer without a
 * key are each refused; key files that are too short or readable by
 * others are refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "host/sealed_stream.h"

static const char magic[SEALED_MAGIC_BYTES] = { 'T', 'E', 'S', 'T', 'S', 'E', 'A', 'L' };

struct peer {
	int fd;
	const uint8_t *key;
	int ret;
	char err[200];
	struct sealed_stream ss;
};

static void *connect_main(void *arg)
{
	struct peer *p = arg;
	p->ret = sealed_connect(&p->ss, p->fd, magic, p->key, p->err, sizeof(p->err));
	return NULL;
}

/* Both handshakes on a socketpair; 0 when both ends agree. */
static int pair(struct peer *acc, struct peer *con, const uint8_t *acc_key, const uint8_t *con_key)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	acc->fd = sv[0];
	con->fd = sv[1];
	acc->key = acc_key;
	con->key = con_key;
	pthread_t t;
	pthread_create(&t, NULL, connect_main, con);
	acc->ret = sealed_accept(&acc->ss, acc->fd, magic, acc_key, acc->err, sizeof(acc->err));
	pthread_join(t, NULL);
	return acc->ret ? acc->ret : con->ret;
}

static void unpair(struct peer *a, struct peer *b)
{
	sealed_close(&a->ss);
	sealed_close(&b->ss);
	close(a->fd);
	close(b->fd);
}

static int send_one(struct sealed_stream *s, uint32_t kind, const void *data, size_t len)
{
	int ret = sealed_send_begin(s, kind, len);
	if (!ret)
		ret = sealed_send(s, data, len);
	return ret ? ret : sealed_send_end(s);
}

static int recv_one(struct sealed_stream *s, uint32_t *kind, void *data, size_t cap)
{
	uint64_t len;
	int ret = sealed_recv_begin(s, kind, &len);
	if (!ret && len > cap)
		return -EPROTO;
	if (!ret)
		ret = sealed_recv(s, data, (size_t)len);
	return ret ? ret : sealed_recv_end(s);
}

/* The raw bytes of one keyed record of n payload bytes (one chunk). */
static size_t raw_record(int fd, uint8_t *buf, size_t n)
{
	size_t want = SEALED_HEADER_BYTES + n + crypto_aead_xchacha20poly1305_ietf_ABYTES, got = 0;
	while (got < want) {
		ssize_t k = read(fd, buf + got, want - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

struct big_sender {
	struct sealed_stream *s;
	const uint8_t *data;
	size_t len;
	int ret;
};

static void *big_main(void *arg)
{
	struct big_sender *b = arg;
	/* In uneven pieces: the chunks do not follow the caller's writes. */
	int ret = sealed_send_begin(b->s, 5, b->len);
	for (size_t off = 0, k = 1000; !ret && off < b->len; off += k, k = k * 3 % 70001 + 1)
		ret = sealed_send(b->s, b->data + off, k < b->len - off ? k : b->len - off);
	b->ret = ret ? ret : sealed_send_end(b->s);
	return NULL;
}

/* A record's two chunks swapped on the wire. */
static void test_chunk_order(const uint8_t *key)
{
	struct peer a, c;
	const size_t n = 2 * SEALED_CHUNK_BYTES, sealed = SEALED_CHUNK_BYTES + 16;
	uint8_t *data = calloc(1, n), *wire = malloc(SEALED_HEADER_BYTES + 2 * sealed);
	CHECK_EQ(pair(&a, &c, key, key), 0);
	struct big_sender b = { .s = &c.ss, .data = data, .len = n };
	pthread_t t;
	pthread_create(&t, NULL, big_main, &b);
	size_t got = 0, want = SEALED_HEADER_BYTES + 2 * sealed;
	while (got < want) {
		ssize_t k = read(a.fd, wire + got, want - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	pthread_join(t, NULL);
	CHECK_EQ(got, want);
	uint8_t *tmp = malloc(sealed);
	memcpy(tmp, wire + SEALED_HEADER_BYTES, sealed);
	memmove(wire + SEALED_HEADER_BYTES, wire + SEALED_HEADER_BYTES + sealed, sealed);
	memcpy(wire + SEALED_HEADER_BYTES + sealed, tmp, sealed);
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int real_fd = a.ss.fd;
	a.ss.fd = sv[0];
	/* The socket buffer takes the first chunk and the header at least. */
	CHECK_EQ(write(sv[1], wire, SEALED_HEADER_BYTES + sealed),
		 (ssize_t)(SEALED_HEADER_BYTES + sealed));
	uint32_t kind;
	uint64_t len;
	CHECK_EQ(sealed_recv_begin(&a.ss, &kind, &len), 0);
	CHECK_EQ(sealed_recv(&a.ss, data, 16), -EBADMSG);
	a.ss.fd = real_fd;
	close(sv[0]);
	close(sv[1]);
	unpair(&a, &c);
	free(tmp);
	free(wire);
	free(data);
}

/* Records of many chunks, of exactly a chunk, and empty. */
static void test_sizes(const uint8_t *key)
{
	static const size_t sizes[] = { 3 * SEALED_CHUNK_BYTES + 17, SEALED_CHUNK_BYTES, 0, 1 };
	for (unsigned keyed = 0; keyed < 2; keyed++) {
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct peer a, c;
			size_t n = sizes[i];
			uint8_t *data = malloc(n + 1), *got = malloc(n + 1);
			for (size_t j = 0; j < n; j++)
				data[j] = (uint8_t)(j * 131 + 7);
			CHECK_EQ(pair(&a, &c, keyed ? key : NULL, keyed ? key : NULL), 0);
			struct big_sender b = { .s = &c.ss, .data = data, .len = n };
			pthread_t t;
			pthread_create(&t, NULL, big_main, &b);
			uint32_t kind = 0;
			uint64_t len = 0;
			int ret = sealed_recv_begin(&a.ss, &kind, &len);
			for (size_t off = 0, k = 777; !ret && off < n; off += k, k = k * 5 % 90001 + 1)
				ret = sealed_recv(&a.ss, got + off, k < n - off ? k : n - off);
			if (!ret)
				ret = sealed_recv_end(&a.ss);
			pthread_join(t, NULL);
			CHECK_EQ(b.ret, 0);
			CHECK_EQ(ret, 0);
			CHECK(kind == 5 && len == n && !memcmp(data, got, n));
			unpair(&a, &c);
			free(data);
			free(got);
		}
	}
}

static void test_round_trip(const uint8_t *key)
{
	struct peer a, c;
	uint32_t kind = 0;
	char buf[64] = "";
	CHECK_EQ(pair(&a, &c, key, key), 0);
	CHECK_EQ(send_one(&c.ss, 7, "hello", 6), 0);
	CHECK_EQ(send_one(&c.ss, 8, "again", 6), 0);
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), 0);
	CHECK(kind == 7 && !strcmp(buf, "hello"));
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), 0);
	CHECK(kind == 8 && !strcmp(buf, "again"));
	/* And back the other way, as the acknowledgement goes. */
	CHECK_EQ(send_one(&a.ss, 9, "K", 1), 0);
	CHECK_EQ(recv_one(&c.ss, &kind, buf, sizeof(buf)), 0);
	CHECK(kind == 9 && buf[0] == 'K');
	unpair(&a, &c);
}

/* One record taken off the wire, a bit of byte at flipped, then
 * delivered: what the receiver makes of it. */
static int deliver_changed(const uint8_t *key, size_t at)
{
	struct peer a, c;
	uint32_t kind;
	char buf[64];
	uint8_t raw[SEALED_HEADER_BYTES + 6 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	int sv[2];
	CHECK_EQ(pair(&a, &c, key, key), 0);
	CHECK_EQ(send_one(&c.ss, 7, "hello", 6), 0);
	CHECK_EQ(raw_record(a.fd, raw, 6), sizeof(raw));
	CHECK(memmem(raw, sizeof(raw), "hello", 5) == NULL);
	raw[at] ^= 1;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ(write(sv[1], raw, sizeof(raw)), (ssize_t)sizeof(raw));
	int real_fd = a.ss.fd;
	a.ss.fd = sv[0];
	int ret = recv_one(&a.ss, &kind, buf, sizeof(buf));
	a.ss.fd = real_fd;
	close(sv[0]);
	close(sv[1]);
	unpair(&a, &c);
	return ret;
}

/* A record taken off the wire, changed or moved, then delivered. */
static void test_tampering(const uint8_t *key, const uint8_t *other_key)
{
	struct peer a, c, mitm_a, mitm_c;
	uint32_t kind;
	char buf[64];
	uint8_t raw[2][SEALED_HEADER_BYTES + 6 + crypto_aead_xchacha20poly1305_ietf_ABYTES];

	/* A flipped payload bit; a changed header (the same payload claimed
	 * as another kind). */
	CHECK_EQ(deliver_changed(key, SEALED_HEADER_BYTES), -EBADMSG);
	CHECK_EQ(deliver_changed(key, 0), -EBADMSG);

	/* Two records delivered in the other order; one delivered twice. */
	int sv[2];
	CHECK_EQ(pair(&a, &c, key, key), 0);
	CHECK_EQ(send_one(&c.ss, 7, "first", 6), 0);
	CHECK_EQ(send_one(&c.ss, 7, "secnd", 6), 0);
	CHECK_EQ(raw_record(a.fd, raw[0], 6), sizeof(raw[0]));
	CHECK_EQ(raw_record(a.fd, raw[1], 6), sizeof(raw[1]));
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ(write(sv[1], raw[1], sizeof(raw[1])), (ssize_t)sizeof(raw[1]));
	int real_fd = a.ss.fd;
	a.ss.fd = sv[0];
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), -EBADMSG);
	a.ss.received = 0;
	CHECK_EQ(write(sv[1], raw[0], sizeof(raw[0])), (ssize_t)sizeof(raw[0]));
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "first"));
	CHECK_EQ(write(sv[1], raw[0], sizeof(raw[0])), (ssize_t)sizeof(raw[0]));
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), -EBADMSG);
	/* Sent back the other way: the source's own record as an answer. */
	c.ss.fd = sv[0];
	CHECK_EQ(write(sv[1], raw[0], sizeof(raw[0])), (ssize_t)sizeof(raw[0]));
	CHECK_EQ(recv_one(&c.ss, &kind, buf, sizeof(buf)), -EBADMSG);
	c.ss.fd = c.fd;
	a.ss.fd = real_fd;
	close(sv[0]);
	close(sv[1]);
	unpair(&a, &c);

	/* A record from another session (same key, other nonces). */
	CHECK_EQ(pair(&a, &c, key, key), 0);
	CHECK_EQ(pair(&mitm_a, &mitm_c, key, key), 0);
	CHECK_EQ(send_one(&c.ss, 7, "hello", 6), 0);
	CHECK_EQ(raw_record(a.fd, raw[0], 6), sizeof(raw[0]));
	CHECK_EQ(write(mitm_c.fd, raw[0], sizeof(raw[0])), (ssize_t)sizeof(raw[0]));
	CHECK_EQ(recv_one(&mitm_a.ss, &kind, buf, sizeof(buf)), -EBADMSG);
	unpair(&a, &c);
	unpair(&mitm_a, &mitm_c);

	/* The wrong key. */
	CHECK_EQ(pair(&a, &c, key, other_key), 0);
	CHECK_EQ(send_one(&c.ss, 7, "hello", 6), 0);
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), -EBADMSG);
	unpair(&a, &c);
}

static void test_handshake(const uint8_t *key)
{
	struct peer a, c;
	CHECK_EQ(pair(&a, &c, key, NULL), -EKEYREJECTED);
	CHECK_STR_CONTAINS(a.err, "the peer has no key");
	unpair(&a, &c);
	CHECK_EQ(pair(&a, &c, NULL, key), -EKEYREJECTED);
	CHECK_STR_CONTAINS(a.err, "the peer has a key, this end has none");
	unpair(&a, &c);
	/* Without a key on either end: framing only, and it works. */
	uint32_t kind;
	char buf[16];
	CHECK_EQ(pair(&a, &c, NULL, NULL), 0);
	CHECK_EQ(send_one(&c.ss, 3, "plain", 6), 0);
	CHECK_EQ(recv_one(&a.ss, &kind, buf, sizeof(buf)), 0);
	CHECK(kind == 3 && !strcmp(buf, "plain"));
	unpair(&a, &c);
	/* Something that is not this protocol. */
	int sv[2];
	char err[200];
	struct sealed_stream s;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ(write(sv[1], "GET / HTTP/1.0\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 48), 48);
	CHECK_EQ(sealed_accept(&s, sv[0], magic, key, err, sizeof(err)), -EPROTO);
	sealed_close(&s);
	close(sv[0]);
	close(sv[1]);
}

static void write_key(const char *path, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t b[64];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37 + 1);
	CHECK(fd >= 0 && write(fd, b, n) == (ssize_t)n);
	close(fd);
	chmod(path, mode);
}

static void test_key_files(uint8_t *key, uint8_t *other)
{
	char dir[] = "/tmp/btvm-sealed-XXXXXX", path[64], err[300];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	write_key(path, 32, 0600);
	CHECK_EQ(sealed_key_load(path, key, err, sizeof(err)), 0);
	write_key(path, 33, 0600);
	CHECK_EQ(sealed_key_load(path, other, err, sizeof(err)), 0);
	CHECK(memcmp(key, other, SEALED_KEY_BYTES) != 0);
	write_key(path, 32, 0640);
	CHECK_EQ(sealed_key_load(path, other, err, sizeof(err)), -EPERM);
	CHECK_STR_CONTAINS(err, "other users may read or change it");
	write_key(path, 15, 0600);
	CHECK_EQ(sealed_key_load(path, other, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "15 bytes");
	CHECK_EQ(sealed_key_load(dir, other, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK_EQ(sealed_key_load(path, other, err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "%s/key", dir);
	write_key(path, 33, 0600);
	CHECK_EQ(sealed_key_load(path, other, err, sizeof(err)), 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	uint8_t key[SEALED_KEY_BYTES], other[SEALED_KEY_BYTES];
	test_key_files(key, other);
	test_round_trip(key);
	test_sizes(key);
	test_chunk_order(key);
	test_tampering(key, other);
	test_handshake(key);
	return check_report("test_sealed_stream");
}
