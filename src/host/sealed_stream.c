/* Sealed records over a socket (sealed_stream.h): the handshake, the
 * framing and the HMAC-SHA-256 tags, all through libsodium. */
#define _GNU_SOURCE
#include "host/sealed_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MIN 16
#define KEY_FILE_MAX 4096
#define RECORD_HEADER_BYTES 12u
/* The magic, the key flag, the nonce. */
#define HELLO_BYTES (SEALED_MAGIC_BYTES + 1u + SEALED_NONCE_BYTES)

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

int sealed_key_load(const char *path, uint8_t key[SEALED_KEY_BYTES], char *err, size_t err_len)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	struct stat st;
	int ret = 0;
	if (sodium_init() < 0) {
		snprintf(err, err_len, "key %s: libsodium does not start", path);
		return -EIO;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, err_len, "key %s: %s", path, strerror(-ret));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, err_len, "key %s: not a regular file", path);
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ret = -EPERM;
		snprintf(err, err_len, "key %s: other users may read or change it (chmod 600 %s)",
			 path, path);
	}
	ssize_t n = 0;
	while (!ret && (n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	if (!ret && n < 0) {
		ret = -errno;
		snprintf(err, err_len, "key %s: %s", path, strerror(-ret));
	} else if (!ret && (n < KEY_FILE_MIN || n > KEY_FILE_MAX)) {
		ret = -EINVAL;
		snprintf(err, err_len, "key %s: %zd bytes; a key has %d to %d (e.g. head -c 32 "
			 "/dev/urandom)", path, n, KEY_FILE_MIN, KEY_FILE_MAX);
	}
	if (!ret)
		crypto_generichash(key, SEALED_KEY_BYTES, buf, (size_t)n, NULL, 0);
	sodium_memzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return ret;
}

static void hello_make(uint8_t hello[HELLO_BYTES], const char *magic, bool keyed,
		       uint8_t *nonce)
{
	randombytes_buf(nonce, SEALED_NONCE_BYTES);
	memcpy(hello, magic, SEALED_MAGIC_BYTES);
	hello[SEALED_MAGIC_BYTES] = keyed;
	memcpy(hello + SEALED_MAGIC_BYTES + 1, nonce, SEALED_NONCE_BYTES);
}

/* The peer's hello: its magic and key flag checked, its nonce kept. */
static int hello_take(struct sealed_stream *s, const char *magic, uint8_t *nonce, char *err,
		      size_t err_len)
{
	uint8_t hello[HELLO_BYTES];
	int ret = recv_all(s->fd, hello, sizeof(hello));
	if (ret) {
		snprintf(err, err_len, "the peer's greeting: %s", strerror(-ret));
		return ret;
	}
	if (memcmp(hello, magic, SEALED_MAGIC_BYTES) || hello[SEALED_MAGIC_BYTES] > 1) {
		snprintf(err, err_len, "the peer does not speak this btvm's migration protocol");
		return -EPROTO;
	}
	if (hello[SEALED_MAGIC_BYTES] != s->keyed) {
		snprintf(err, err_len, "%s", s->keyed ? "the peer has no key, this end has one"
						       : "the peer has a key, this end has none");
		return -EKEYREJECTED;
	}
	memcpy(nonce, hello + SEALED_MAGIC_BYTES + 1, SEALED_NONCE_BYTES);
	return 0;
}

static int start(struct sealed_stream *s, int fd, bool accepting, const uint8_t *key)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->accepting = accepting;
	s->keyed = key != NULL;
	if (key)
		memcpy(s->key, key, SEALED_KEY_BYTES);
	return sodium_init() < 0 ? -EIO : 0;
}

int sealed_accept(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		  const uint8_t *key, char *err, size_t err_len)
{
	uint8_t hello[HELLO_BYTES];
	int ret = start(s, fd, true, key);
	if (ret) {
		snprintf(err, err_len, "libsodium does not start");
		return ret;
	}
	hello_make(hello, magic, s->keyed, s->nonces);
	ret = send_all(fd, hello, sizeof(hello));
	if (ret) {
		snprintf(err, err_len, "greeting the peer: %s", strerror(-ret));
		return ret;
	}
	return hello_take(s, magic, s->nonces + SEALED_NONCE_BYTES, err, err_len);
}

int sealed_connect(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		   const uint8_t *key, char *err, size_t err_len)
{
	uint8_t hello[HELLO_BYTES];
	int ret = start(s, fd, false, key);
	if (ret) {
		snprintf(err, err_len, "libsodium does not start");
		return ret;
	}
	ret = hello_take(s, magic, s->nonces, err, err_len);
	if (ret && ret != -EKEYREJECTED)
		return ret;
	/* Greeted even when the keys disagree: the other end then says so
	 * too, instead of waiting for a greeting that never comes. */
	hello_make(hello, magic, s->keyed, s->nonces + SEALED_NONCE_BYTES);
	int sent = send_all(fd, hello, sizeof(hello));
	if (!ret && sent)
		snprintf(err, err_len, "greeting the peer: %s", strerror(-sent));
	return ret ? ret : sent;
}

/* The tag's state for a record: the session (both nonces), who sent it
 * and its number, then its header. */
static void mac_start(struct sealed_stream *s, bool from_acceptor, uint64_t seq,
		      const uint8_t header[RECORD_HEADER_BYTES])
{
	uint8_t context[2 * SEALED_NONCE_BYTES + 1 + 8];
	memcpy(context, s->nonces, sizeof(s->nonces));
	context[sizeof(s->nonces)] = from_acceptor;
	for (unsigned i = 0; i < 8; i++)
		context[sizeof(s->nonces) + 1 + i] = (uint8_t)(seq >> (8 * i));
	crypto_auth_hmacsha256_init(&s->mac, s->key, sizeof(s->key));
	crypto_auth_hmacsha256_update(&s->mac, context, sizeof(context));
	crypto_auth_hmacsha256_update(&s->mac, header, RECORD_HEADER_BYTES);
}

int sealed_send_begin(struct sealed_stream *s, uint32_t kind, uint64_t len)
{
	uint8_t h[RECORD_HEADER_BYTES];
	for (unsigned i = 0; i < 4; i++)
		h[i] = (uint8_t)(kind >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		h[4 + i] = (uint8_t)(len >> (8 * i));
	if (s->keyed)
		mac_start(s, s->accepting, s->sent, h);
	s->left = len;
	return send_all(s->fd, h, sizeof(h));
}

int sealed_send(struct sealed_stream *s, const void *data, size_t len)
{
	if (len > s->left)
		return -EINVAL;
	s->left -= len;
	if (s->keyed)
		crypto_auth_hmacsha256_update(&s->mac, data, len);
	return send_all(s->fd, data, len);
}

int sealed_send_end(struct sealed_stream *s)
{
	if (s->left)
		return -EINVAL;
	s->sent++;
	if (!s->keyed)
		return 0;
	uint8_t tag[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_final(&s->mac, tag);
	return send_all(s->fd, tag, sizeof(tag));
}

int sealed_recv_begin(struct sealed_stream *s, uint32_t *kind, uint64_t *len)
{
	uint8_t h[RECORD_HEADER_BYTES];
	int ret = recv_all(s->fd, h, sizeof(h));
	if (ret)
		return ret;
	*kind = 0;
	*len = 0;
	for (unsigned i = 0; i < 4; i++)
		*kind |= (uint32_t)h[i] << (8 * i);
	for (unsigned i = 0; i < 8; i++)
		*len |= (uint64_t)h[4 + i] << (8 * i);
	if (s->keyed)
		mac_start(s, !s->accepting, s->received, h);
	s->left = *len;
	return 0;
}

int sealed_recv(struct sealed_stream *s, void *data, size_t len)
{
	if (len > s->left)
		return -EPROTO;
	int ret = recv_all(s->fd, data, len);
	if (ret)
		return ret;
	s->left -= len;
	if (s->keyed)
		crypto_auth_hmacsha256_update(&s->mac, data, len);
	return 0;
}

int sealed_recv_end(struct sealed_stream *s)
{
	if (s->left)
		return -EPROTO;
	s->received++;
	if (!s->keyed)
		return 0;
	uint8_t tag[crypto_auth_hmacsha256_BYTES], want[crypto_auth_hmacsha256_BYTES];
	int ret = recv_all(s->fd, tag, sizeof(tag));
	if (ret)
		return ret;
	crypto_auth_hmacsha256_final(&s->mac, want);
	return crypto_verify_32(tag, want) ? -EBADMSG : 0;
}

void sealed_close(struct sealed_stream *s)
{
	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(&s->mac, sizeof(s->mac));
}
