/* Records over a connected socket, each sealed with an HMAC-SHA-256 tag
 * (libsodium) under a key both ends were given: a live migration's
 * transport. It knows nothing of what the records hold.
 *
 * The accepting end speaks first: its magic, whether it holds a key, and
 * a fresh random nonce; the connecting end answers the same. A record is
 * a u32 kind, a u64 length (little-endian), the payload and, when keyed,
 * a tag over both nonces, the record's direction and sequence number, its
 * header and its payload: a record from another session, another place in
 * this one or the other direction does not verify. A receiver reads a
 * whole record's payload before the tag that vouches for it, so it must
 * not act on the payload until sealed_recv_end says the tag is good.
 * Without a key (a Unix socket only its owner can open) the framing is
 * the same and there is no tag. */
#ifndef BTVM_HOST_SEALED_STREAM_H
#define BTVM_HOST_SEALED_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SEALED_KEY_BYTES 32u
#define SEALED_NONCE_BYTES 32u
#define SEALED_MAGIC_BYTES 8u

struct sealed_stream {
	int fd;
	bool keyed;
	bool accepting;                    /* this end accepted the connection */
	uint8_t key[SEALED_KEY_BYTES];
	uint8_t nonces[2 * SEALED_NONCE_BYTES];   /* the accepting end's, then the other's */
	uint64_t sent, received;           /* records, for the sequence numbers */
	crypto_auth_hmacsha256_state mac;  /* the record under way */
	uint64_t left;                     /* its payload bytes not yet moved */
};

/* The key in a file the user made (16 to 4096 bytes of anything, e.g.
 * `head -c 32 /dev/urandom`), hashed to SEALED_KEY_BYTES. A file other
 * users may read or write is refused, as ssh refuses such a private key.
 * 0, or a negative errno with a one-line reason in err. */
int sealed_key_load(const char *path, uint8_t key[SEALED_KEY_BYTES], char *err, size_t err_len);

/* The handshake on a connected fd, from the accepting or the connecting
 * end; key is NULL for none. Both ends must agree on the magic and on
 * having a key. 0, or a negative errno with a one-line reason in err
 * (-EPROTO: the peer does not speak this protocol; -EKEYREJECTED: one end
 * has a key and the other has none). The stream does not own fd. */
int sealed_accept(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		  const uint8_t *key, char *err, size_t err_len);
int sealed_connect(struct sealed_stream *s, int fd, const char magic[SEALED_MAGIC_BYTES],
		   const uint8_t *key, char *err, size_t err_len);

/* A record: its header, its payload in any number of pieces adding up
 * to len, then its tag. 0 or a negative errno. */
int sealed_send_begin(struct sealed_stream *s, uint32_t kind, uint64_t len);
int sealed_send(struct sealed_stream *s, const void *data, size_t len);
int sealed_send_end(struct sealed_stream *s);
/* The same for receiving. sealed_recv_end: 0 when the tag vouches for
 * the record, -EBADMSG when it does not. */
int sealed_recv_begin(struct sealed_stream *s, uint32_t *kind, uint64_t *len);
int sealed_recv(struct sealed_stream *s, void *data, size_t len);
int sealed_recv_end(struct sealed_stream *s);

/* Clears the key. */
void sealed_close(struct sealed_stream *s);

#endif
