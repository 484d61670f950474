/* Sealed records over a socket (sealed_stream.h): the handshake, the
 * framing, and chunks sealed with XChaCha20-Poly1305, all through
 * libsodium. */
#define _GNU_SOURCE
#include "host/sealed_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MIN 16
#define KEY_FILE_MAX 4096
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
	if (!key)
		return 0;
	memcpy(s->key, key, SEALED_KEY_BYTES);
	s->buf = malloc(SEALED_CHUNK_BYTES);
	s->wire = malloc(SEALED_CHUNK_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (!s->buf || !s->wire)
		return -ENOMEM;
	return sodium_init() < 0 ? -EIO : 0;
}

/* This connection's own key: the shared one's keyed BLAKE2b of both
 * nonces, so that nothing recorded from another connection opens here. */
static void session_key(struct sealed_stream *s)
{
	uint8_t k[SEALED_KEY_BYTES];
	if (!s->keyed)
		return;
	crypto_generichash(k, sizeof(k), s->nonces, sizeof(s->nonces), s->key, sizeof(s->key));
	memcpy(s->key, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
}

int sealed_accept(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		  const uint8_t *key, char *err, size_t err_len)
{
	uint8_t hello[HELLO_BYTES];
	int ret = start(s, fd, true, key);
	if (ret) {
		snprintf(err, err_len, "%s", ret == -ENOMEM ? "out of memory" : "libsodium does not start");
		return ret;
	}
	hello_make(hello, magic, s->keyed, s->nonces);
	ret = send_all(fd, hello, sizeof(hello));
	if (ret) {
		snprintf(err, err_len, "greeting the peer: %s", strerror(-ret));
		return ret;
	}
	ret = hello_take(s, magic, s->nonces + SEALED_NONCE_BYTES, err, err_len);
	if (!ret)
		session_key(s);
	return ret;
}

int sealed_connect(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		   const uint8_t *key, char *err, size_t err_len)
{
	uint8_t hello[HELLO_BYTES];
	int ret = start(s, fd, false, key);
	if (ret) {
		snprintf(err, err_len, "%s", ret == -ENOMEM ? "out of memory" : "libsodium does not start");
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
	if (!ret && !sent)
		session_key(s);
	return ret ? ret : sent;
}

/* Chunk c of record seq, from this end or the other: its nonce. The
 * session key is new for every connection, so the nonce need only be
 * unique within it. */
static void chunk_nonce(bool from_acceptor, uint64_t seq, uint64_t chunk,
			uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	nonce[0] = from_acceptor;
	for (unsigned i = 0; i < 8; i++) {
		nonce[1 + i] = (uint8_t)(seq >> (8 * i));
		nonce[9 + i] = (uint8_t)(chunk >> (8 * i));
	}
}

/* The chunk in buf, sealed and sent. */
static int seal_chunk(struct sealed_stream *s)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen;
	chunk_nonce(s->accepting, s->sent, s->chunk++, nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(s->wire, &clen, s->buf, s->fill, s->header,
						   SEALED_HEADER_BYTES, NULL, nonce, s->key);
	s->fill = 0;
	return send_all(s->fd, s->wire, (size_t)clen);
}

/* The record's next chunk into buf, once it has proved to be sealed
 * with this session's key, in this place. */
static int open_chunk(struct sealed_stream *s)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long mlen;
	size_t n = s->unread < SEALED_CHUNK_BYTES ? (size_t)s->unread : SEALED_CHUNK_BYTES;
	int ret = recv_all(s->fd, s->wire, n + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (ret)
		return ret;
	chunk_nonce(!s->accepting, s->received, s->chunk++, nonce);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(s->buf, &mlen, NULL, s->wire,
						       n + crypto_aead_xchacha20poly1305_ietf_ABYTES,
						       s->header, SEALED_HEADER_BYTES, nonce, s->key))
		return -EBADMSG;
	s->unread -= n;
	s->pos = 0;
	s->fill = n;
	return 0;
}

int sealed_send_begin(struct sealed_stream *s, uint32_t kind, uint64_t len)
{
	uint8_t *h = s->header;
	for (unsigned i = 0; i < 4; i++)
		h[i] = (uint8_t)(kind >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		h[4 + i] = (uint8_t)(len >> (8 * i));
	s->left = len;
	s->chunk = 0;
	s->fill = 0;
	return send_all(s->fd, h, SEALED_HEADER_BYTES);
}

int sealed_send(struct sealed_stream *s, const void *data, size_t len)
{
	if (len > s->left)
		return -EINVAL;
	s->left -= len;
	if (!s->keyed)
		return send_all(s->fd, data, len);
	const uint8_t *p = data;
	int ret = 0;
	while (len && !ret) {
		size_t k = SEALED_CHUNK_BYTES - s->fill < len ? SEALED_CHUNK_BYTES - s->fill : len;
		memcpy(s->buf + s->fill, p, k);
		s->fill += k;
		p += k;
		len -= k;
		if (s->fill == SEALED_CHUNK_BYTES)
			ret = seal_chunk(s);
	}
	return ret;
}

int sealed_send_end(struct sealed_stream *s)
{
	if (s->left)
		return -EINVAL;
	int ret = 0;
	/* The last, partial chunk; an empty record is one empty chunk. */
	if (s->keyed && (s->fill || !s->chunk))
		ret = seal_chunk(s);
	s->sent++;
	return ret;
}

int sealed_recv_begin(struct sealed_stream *s, uint32_t *kind, uint64_t *len)
{
	uint8_t *h = s->header;
	int ret = recv_all(s->fd, h, SEALED_HEADER_BYTES);
	if (ret)
		return ret;
	*kind = 0;
	*len = 0;
	for (unsigned i = 0; i < 4; i++)
		*kind |= (uint32_t)h[i] << (8 * i);
	for (unsigned i = 0; i < 8; i++)
		*len |= (uint64_t)h[4 + i] << (8 * i);
	s->left = s->unread = *len;
	s->chunk = 0;
	s->pos = s->fill = 0;
	return 0;
}

int sealed_recv(struct sealed_stream *s, void *data, size_t len)
{
	if (len > s->left)
		return -EPROTO;
	s->left -= len;
	if (!s->keyed)
		return recv_all(s->fd, data, len);
	uint8_t *p = data;
	while (len) {
		if (s->pos == s->fill) {
			int ret = open_chunk(s);
			if (ret)
				return ret;
		}
		size_t k = s->fill - s->pos < len ? s->fill - s->pos : len;
		memcpy(p, s->buf + s->pos, k);
		s->pos += k;
		p += k;
		len -= k;
	}
	return 0;
}

int sealed_recv_end(struct sealed_stream *s)
{
	if (s->left)
		return -EPROTO;
	int ret = 0;
	/* An empty record's one chunk, which vouches for its header. */
	if (s->keyed && !s->chunk)
		ret = open_chunk(s);
	s->received++;
	return ret;
}

void sealed_close(struct sealed_stream *s)
{
	sodium_memzero(s->key, sizeof(s->key));
	if (s->buf)
		sodium_memzero(s->buf, SEALED_CHUNK_BYTES);
	free(s->buf);
	free(s->wire);
	s->buf = s->wire = NULL;
}
