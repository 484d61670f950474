/* Records over a connected socket, sealed (encrypted and authenticated)
 * with XChaCha20-Poly1305 under a key both ends were given (libsodium): a
 * live migration's transport. It knows nothing of what the records hold.
 *
 * The accepting end speaks first: its magic, whether it holds a key, and
 * a fresh random nonce; the connecting end answers the same. The session
 * key is the shared key's BLAKE2b of both nonces, new for every
 * connection. A record is a u32 kind and a u64 length (little-endian, in
 * the clear), then its payload in chunks of up to SEALED_CHUNK_BYTES, each
 * sealed with the header as associated data and a nonce that names the
 * direction, the record's sequence number and the chunk's: a chunk from
 * another connection, another place in this one, the other direction, or
 * under another header does not open. A receiver gets a chunk's bytes
 * only once it has opened; an empty record is one empty chunk. Without a
 * key (a Unix socket only its owner can open) the framing is the same and
 * the payload goes as it is. */
#ifndef BTVM_HOST_SEALED_STREAM_H
#define BTVM_HOST_SEALED_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SEALED_KEY_BYTES 32u
#define SEALED_NONCE_BYTES 32u
#define SEALED_MAGIC_BYTES 8u
#define SEALED_HEADER_BYTES 12u
#define SEALED_CHUNK_BYTES 65536u

struct sealed_stream {
	int fd;
	bool keyed;
	bool accepting;                    /* this end accepted the connection */
	uint8_t key[SEALED_KEY_BYTES];
	uint8_t nonces[2 * SEALED_NONCE_BYTES];   /* the accepting end's, then the other's */
	uint64_t sent, received;           /* records, for the sequence numbers */
	/* The record under way. */
	uint8_t header[SEALED_HEADER_BYTES];
	uint64_t left;                     /* payload bytes the caller has not moved */
	uint64_t unread;                   /* receiving: payload bytes still on the wire */
	uint64_t chunk;                    /* chunks sealed or opened */
	uint8_t *buf;                      /* a chunk in the clear */
	size_t pos, fill;                  /* receiving: buf[pos, fill) not handed out */
	uint8_t *wire;                     /* a chunk sealed */
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
/* The same for receiving: -EBADMSG from sealed_recv or sealed_recv_end
 * when a chunk does not open (nothing of it was handed out). */
int sealed_recv_begin(struct sealed_stream *s, uint32_t *kind, uint64_t *len);
int sealed_recv(struct sealed_stream *s, void *data, size_t len);
int sealed_recv_end(struct sealed_stream *s);

/* Clears the key and frees the buffers. */
void sealed_close(struct sealed_stream *s);

#endif
