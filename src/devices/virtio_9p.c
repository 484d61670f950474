/* virtio-9p: requests copied out of their chains and queued for the I/O
 * thread, which writes them to the server's socket and reads its replies;
 * replies matched to chains by tag on the vCPU thread. See virtio_9p.h. */
#include "devices/virtio_9p.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Requests the device follows at once: a queue's worth per driver, and
 * as many again owed by a server that does not answer from before a
 * reset. A request past this is answered Rlerror(EIO) unsent, so that a
 * hung server and a guest resetting the device in a loop cannot make the
 * monitor queue without bound (at most this many messages of
 * VIRTIO_9P_MSIZE_MAX wait for the socket: 128 MiB). */
#define MAX_OUTSTANDING (2u * VIRTIO_9P_QUEUE_SIZE)

struct virtio_9p_msg {
	struct virtio_9p_msg *next;
	size_t len, off;	/* off: bytes already written (requests) */
	uint8_t data[];
};

struct virtio_9p_req {
	uint64_t seq;		/* order sent */
	uint16_t tag, head;
	bool orphan;		/* its chain went with a device reset */
	uint8_t type;
	uint32_t fid, newfid;	/* as the request names them (see track_*) */
	uint16_t nwname;	/* Twalk */
	uint16_t oldtag;	/* Tflush */
	uint64_t writable;
	unsigned nseg;
	struct virtq_seg *segs;	/* the chain's writable segments */
};

/* ---- Little-endian fields ---------------------------------------------- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* ---- Guest RAM ---------------------------------------------------------- */

static void report(struct virtio_9p *d, const void *ptr, uint64_t len)
{
	uint64_t gpa = (uint64_t)((const uint8_t *)ptr - d->ram->host);

	if (d->host.guest_written && len)
		d->host.guest_written(d->host.opaque, gpa, len);
}

/* Copies len bytes into writable segments in order, reporting them. The
 * caller checked that they fit. */
static void scatter(struct virtio_9p *d, const struct virtq_seg *seg, unsigned nseg,
		    const uint8_t *src, size_t len)
{
	for (unsigned i = 0; i < nseg && len; i++) {
		size_t n = seg[i].len < len ? seg[i].len : len;
		memcpy(seg[i].ptr, src, n);
		report(d, seg[i].ptr, n);
		src += n;
		len -= n;
	}
}

/* The first len bytes of a chain's readable part (the caller checked that
 * it has them). */
static void gather(const struct virtq_seg *seg, unsigned nseg, uint8_t *dst, size_t len)
{
	for (unsigned i = 0; i < nseg && len; i++) {
		if (seg[i].writable)
			break;
		size_t n = seg[i].len < len ? seg[i].len : len;
		memcpy(dst, seg[i].ptr, n);
		dst += n;
		len -= n;
	}
}

static void publish(struct virtio_9p *d)
{
	struct virtq *vq = &d->vq[0];

	report(d, vq->used, virtq_used_ring_bytes(vq));
	if (virtq_flush(vq))
		virtio_pci_queue_interrupt(&d->vp);
}

/* Rlerror(ecode) with the request's tag into writable segments, if they
 * hold it; the chain goes back either way. */
static void answer_error(struct virtio_9p *d, uint16_t head, const struct virtq_seg *seg,
			 unsigned nseg, uint64_t writable, uint16_t tag, uint32_t ecode)
{
	uint8_t msg[P9_RLERROR_SIZE];

	put_le32(msg, P9_RLERROR_SIZE);
	msg[4] = P9_RLERROR;
	put_le16(msg + 5, tag);
	put_le32(msg + 7, ecode);
	if (writable < sizeof(msg)) {
		virtq_push(&d->vq[0], head, 0);
		return;
	}
	scatter(d, seg, nseg, msg, sizeof(msg));
	virtq_push(&d->vq[0], head, sizeof(msg));
}

/* ---- Fids the server holds ---------------------------------------------- */

static bool fid_held(const struct virtio_9p *d, uint32_t fid, unsigned *at)
{
	for (unsigned i = 0; i < d->nfids; i++) {
		if (d->fids[i] == fid) {
			if (at)
				*at = i;
			return true;
		}
	}
	return false;
}

static void fid_add(struct virtio_9p *d, uint32_t fid)
{
	if (fid_held(d, fid, NULL))
		return;
	if (d->nfids == VIRTIO_9P_MAX_FIDS) {
		d->fids_overflow = true;
		return;
	}
	d->fids[d->nfids++] = fid;
}

static void fid_drop(struct virtio_9p *d, uint32_t fid)
{
	unsigned at;
	if (fid_held(d, fid, &at))
		d->fids[at] = d->fids[--d->nfids];
}

static void fids_clear(struct virtio_9p *d)
{
	d->nfids = 0;
	d->fids_overflow = false;
}

/* What a request names, for its reply's effect on the fids; the request
 * is at least size bytes (checked). Clunk and remove free their fid
 * whatever the server answers (9P says so). */
static void note_request(struct virtio_9p *d, struct virtio_9p_req *r, const uint8_t *m,
			 uint32_t size)
{
	switch (r->type) {
	case P9_TATTACH:
	case P9_TAUTH:
		if (size >= 11)
			r->fid = get_le32(m + 7);
		else
			r->type = 0;
		break;
	case P9_TWALK:
		if (size >= 17) {
			r->fid = get_le32(m + 7);
			r->newfid = get_le32(m + 11);
			r->nwname = get_le16(m + 15);
		} else {
			r->type = 0;
		}
		break;
	case P9_TXATTRWALK:
		if (size >= 15)
			r->newfid = get_le32(m + 11);
		else
			r->type = 0;
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
		if (size >= 11)
			fid_drop(d, get_le32(m + 7));
		break;
	case P9_TFLUSH:
		if (size >= 9)
			r->oldtag = get_le16(m + 7);
		else
			r->type = 0;
		break;
	default:
		break;
	}
}

static void note_reply(struct virtio_9p *d, const struct virtio_9p_req *r, const uint8_t *m,
		       size_t len)
{
	uint8_t type = m[4];

	if (type == P9_RATTACH && r->type == P9_TATTACH)
		fid_add(d, r->fid);
	else if (type == P9_RAUTH && r->type == P9_TAUTH)
		fid_add(d, r->fid);
	else if (type == P9_RXATTRWALK && r->type == P9_TXATTRWALK)
		fid_add(d, r->newfid);
	else if (type == P9_RWALK && r->type == P9_TWALK && len >= 9 &&
		 get_le16(m + 7) == r->nwname)
		fid_add(d, r->newfid);
}

/* ---- Outstanding requests ----------------------------------------------- */

static void req_free(struct virtio_9p_req *r)
{
	free(r->segs);
	r->segs = NULL;
}

/* Removes reqs[i], keeping the order. */
static void req_remove(struct virtio_9p *d, unsigned i)
{
	req_free(&d->reqs[i]);
	memmove(&d->reqs[i], &d->reqs[i + 1], (d->nreqs - i - 1) * sizeof(d->reqs[0]));
	d->nreqs--;
}

/* The oldest request with tag sent before seq, or -1. */
static int req_find(const struct virtio_9p *d, uint16_t tag, uint64_t before)
{
	for (unsigned i = 0; i < d->nreqs; i++)
		if (d->reqs[i].tag == tag && d->reqs[i].seq < before)
			return (int)i;
	return -1;
}

/* Returns reqs[i]'s chain empty (if it still has one) and forgets it. */
static void req_abort(struct virtio_9p *d, unsigned i)
{
	if (!d->reqs[i].orphan) {
		virtq_push(&d->vq[0], d->reqs[i].head, 0);
		d->stats.aborted++;
	}
	req_remove(d, i);
}

/* ---- The I/O thread ------------------------------------------------------ */

static void free_msgs(struct virtio_9p_msg *m)
{
	while (m) {
		struct virtio_9p_msg *next = m->next;
		free(m);
		m = next;
	}
}

static void wake_io(struct virtio_9p *d)
{
	uint64_t one = 1;
	if (write(d->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread has a wake-up waiting. */
	}
}

/* The socket failed or closed: the vCPU thread answers everything with
 * errors from now on. */
static void server_died(struct virtio_9p *d)
{
	pthread_mutex_lock(&d->lock);
	struct virtio_9p_msg *out = d->out;
	d->out = d->out_tail = NULL;
	pthread_mutex_unlock(&d->lock);
	free_msgs(out);
	atomic_store(&d->dead, true);
	atomic_store(&d->ready, true);
	if (d->host.notify)
		d->host.notify(d->host.opaque);
}

/* Writes what is queued until the socket is full. False: the socket
 * failed. The vCPU thread only appends, so the head is the thread's. */
static bool write_out(struct virtio_9p *d)
{
	for (;;) {
		pthread_mutex_lock(&d->lock);
		struct virtio_9p_msg *m = d->out;
		pthread_mutex_unlock(&d->lock);
		if (!m)
			return true;
		ssize_t n = send(d->fd, m->data + m->off, m->len - m->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		m->off += (size_t)n;
		if (m->off < m->len)
			continue;
		pthread_mutex_lock(&d->lock);
		d->out = m->next;
		if (!d->out)
			d->out_tail = NULL;
		pthread_mutex_unlock(&d->lock);
		free(m);
	}
}

/* A reply being read: its size field, then the message. */
struct rx_state {
	uint8_t hdr[4];
	size_t hdr_got;
	struct virtio_9p_msg *msg;
};

/* Reads replies until the socket is empty. False: the stream is lost
 * (closed, failed, or a size no 9P message has). */
static bool read_in(struct virtio_9p *d, struct rx_state *rx)
{
	for (;;) {
		ssize_t n;
		if (!rx->msg) {
			n = recv(d->fd, rx->hdr + rx->hdr_got, sizeof(rx->hdr) - rx->hdr_got,
				 MSG_DONTWAIT);
		} else {
			n = recv(d->fd, rx->msg->data + rx->msg->off, rx->msg->len - rx->msg->off,
				 MSG_DONTWAIT);
		}
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		if (!rx->msg) {
			rx->hdr_got += (size_t)n;
			if (rx->hdr_got < sizeof(rx->hdr))
				continue;
			uint32_t size = get_le32(rx->hdr);
			if (size < P9_HEADER_SIZE || size > VIRTIO_9P_MSIZE_MAX)
				return false;
			rx->msg = malloc(sizeof(*rx->msg) + size);
			if (!rx->msg)
				return false;
			rx->msg->next = NULL;
			rx->msg->len = size;
			memcpy(rx->msg->data, rx->hdr, sizeof(rx->hdr));
			rx->msg->off = sizeof(rx->hdr);
			rx->hdr_got = 0;
			continue;
		}
		rx->msg->off += (size_t)n;
		if (rx->msg->off < rx->msg->len)
			continue;
		pthread_mutex_lock(&d->lock);
		if (d->in_tail)
			d->in_tail->next = rx->msg;
		else
			d->in = rx->msg;
		d->in_tail = rx->msg;
		pthread_mutex_unlock(&d->lock);
		rx->msg = NULL;
		atomic_store(&d->ready, true);
		if (d->host.notify)
			d->host.notify(d->host.opaque);
	}
}

static void *io_thread(void *arg)
{
	struct virtio_9p *d = arg;
	struct rx_state rx = { 0 };
	bool alive = true;

	for (;;) {
		pthread_mutex_lock(&d->lock);
		bool stop = d->stop, pending = d->out != NULL;
		pthread_mutex_unlock(&d->lock);
		if (stop)
			break;
		struct pollfd p[2] = {
			{ .fd = d->wake_fd, .events = POLLIN },
			{ .fd = alive ? d->fd : -1, .events = (short)(POLLIN | (pending ? POLLOUT : 0)) },
		};
		if (poll(p, 2, -1) < 0)
			continue;	/* EINTR: look again */
		if (p[0].revents & POLLIN) {
			uint64_t count;
			if (read(d->wake_fd, &count, sizeof(count)) < 0) {
				/* Another wake-up took it. */
			}
		}
		if (!alive)
			continue;
		bool ok = true;
		if (p[1].revents & (POLLOUT | POLLERR | POLLHUP))
			ok = write_out(d);
		if (ok && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
			ok = read_in(d, &rx);
		if (!ok) {
			alive = false;
			server_died(d);
		}
	}
	free(rx.msg);
	return NULL;
}

/* ---- Requests, on the vCPU thread ---------------------------------------- */

/* Tattach (size[4] type[1] tag[2] fid[4] afid[4] uname[s] aname[s]
 * n_uname[4]) with its aname under the export and the server's user as
 * n_uname (virtio_9p.h): a new message, or m itself when it is too short
 * to hold those fields (the server refuses it). */
static struct virtio_9p_msg *attach_under_export(const struct virtio_9p *d,
						 struct virtio_9p_msg *m)
{
	size_t at = 15;
	if (m->len < at + 2)
		return m;
	at += 2u + get_le16(m->data + at);	/* past uname */
	if (m->len < at + 2)
		return m;
	size_t alen = get_le16(m->data + at);
	size_t rest = at + 2 + alen;
	if (m->len < rest + 4)
		return m;
	const uint8_t *aname = m->data + at + 2;
	size_t keep = alen && aname[0] == '/' ? alen : 0;
	size_t root = strlen(d->export_root);
	size_t len = m->len - alen + root + keep;
	if (len > VIRTIO_9P_MSIZE_MAX || root + keep > UINT16_MAX)
		return m;
	struct virtio_9p_msg *n = malloc(sizeof(*n) + len);
	if (!n)
		return m;
	n->next = NULL;
	n->len = len;
	n->off = 0;
	memcpy(n->data, m->data, at);
	put_le32(n->data, (uint32_t)len);
	put_le16(n->data + at, (uint16_t)(root + keep));
	memcpy(n->data + at + 2, d->export_root, root);
	memcpy(n->data + at + 2 + root, aname, keep);
	memcpy(n->data + at + 2 + root + keep, m->data + rest, m->len - rest);
	put_le32(n->data + at + 2 + root + keep, d->attach_uid);
	free(m);
	return n;
}

static void bad_request(struct virtio_9p *d, const struct virtq_chain *c, unsigned first_w,
			uint16_t tag, uint32_t ecode)
{
	d->stats.bad_requests++;
	answer_error(d, c->head, d->segs + first_w, c->nseg - first_w, c->writable, tag, ecode);
}

/* One chain: checked, copied out and queued for the server (or answered
 * at once). */
static void take_request(struct virtio_9p *d, const struct virtq_chain *c)
{
	unsigned first_w = 0;
	while (first_w < c->nseg && !d->segs[first_w].writable)
		first_w++;
	if (c->truncated || c->readable < P9_HEADER_SIZE || c->writable < P9_HEADER_SIZE) {
		d->stats.bad_requests++;
		virtq_push(&d->vq[0], c->head, 0);
		return;
	}
	uint8_t hdr[P9_HEADER_SIZE];
	gather(d->segs, c->nseg, hdr, sizeof(hdr));
	uint32_t size = get_le32(hdr);
	uint16_t tag = get_le16(hdr + 5);
	if (size < P9_HEADER_SIZE || size > c->readable || size > VIRTIO_9P_MSIZE_MAX) {
		bad_request(d, c, first_w, tag, EINVAL);
		return;
	}
	if (atomic_load(&d->dead)) {
		d->stats.dead_replies++;
		answer_error(d, c->head, d->segs + first_w, c->nseg - first_w, c->writable, tag, EIO);
		return;
	}
	if (d->nreqs == MAX_OUTSTANDING) {
		bad_request(d, c, first_w, tag, EIO);
		return;
	}
	struct virtio_9p_msg *m = malloc(sizeof(*m) + size);
	struct virtq_seg *segs = malloc((c->nseg - first_w + 1) * sizeof(*segs));
	if (!m || !segs) {
		free(m);
		free(segs);
		bad_request(d, c, first_w, tag, ENOMEM);
		return;
	}
	m->next = NULL;
	m->len = size;
	m->off = 0;
	gather(d->segs, c->nseg, m->data, size);
	memcpy(segs, d->segs + first_w, (c->nseg - first_w) * sizeof(*segs));
	struct virtio_9p_req *r = &d->reqs[d->nreqs];
	*r = (struct virtio_9p_req){
		.seq = ++d->seq,
		.tag = tag,
		.head = c->head,
		.type = hdr[4],
		.writable = c->writable,
		.nseg = c->nseg - first_w,
		.segs = segs,
	};
	/* The server must not answer with more than the device carries. */
	if (r->type == P9_TVERSION && size >= 11 && get_le32(m->data + 7) > VIRTIO_9P_MSIZE_MAX)
		put_le32(m->data + 7, VIRTIO_9P_MSIZE_MAX);
	if (r->type == P9_TATTACH)
		m = attach_under_export(d, m);
	note_request(d, r, m->data, size);
	d->nreqs++;
	d->stats.requests++;
	/* With nothing queued before it the request goes out at once, as far
	 * as the socket takes it without waiting: the I/O thread's wake-up
	 * would add its latency to every request. It only writes what is
	 * queued, so the two never interleave their bytes. */
	pthread_mutex_lock(&d->lock);
	if (!d->out) {
		ssize_t n;
		do
			n = send(d->fd, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n > 0)
			m->off = (size_t)n;
	}
	bool rest = m->off < m->len;
	if (!rest) {
		free(m);
	} else {
		if (d->out_tail)
			d->out_tail->next = m;
		else
			d->out = m;
		d->out_tail = m;
	}
	pthread_mutex_unlock(&d->lock);
	/* A failed send leaves the request queued: the I/O thread's own
	 * write finds the socket's error. */
	if (rest)
		wake_io(d);
}

static void take_requests(struct virtio_9p *d)
{
	struct virtq *vq = &d->vq[0];
	uint16_t before = vq->used_idx;

	while (virtio_pci_running(&d->vp) && vq->enabled) {
		struct virtq_chain c;
		int r = virtq_pop(vq, d->ram, &c, d->segs, VIRTIO_9P_CHAIN_SEGS);
		if (r == 0)
			break;
		if (r < 0) {
			d->stats.device_errors++;
			virtio_pci_device_error(&d->vp);
			break;
		}
		take_request(d, &c);
	}
	/* Requests answered at once went to the used ring. */
	if (vq->used_idx != before)
		publish(d);
}

/* ---- Replies, on the vCPU thread ----------------------------------------- */

static void deliver_reply(struct virtio_9p *d, const struct virtio_9p_msg *m)
{
	uint16_t tag = get_le16(m->data + 5);
	int i = req_find(d, tag, UINT64_MAX);
	if (i < 0) {
		d->stats.unmatched_replies++;
		return;
	}
	struct virtio_9p_req *r = &d->reqs[i];
	uint64_t seq = r->seq;
	uint8_t type = m->data[4];
	note_reply(d, r, m->data, m->len);
	if (!r->orphan) {
		if (m->len > r->writable) {
			d->stats.oversized_replies++;
			answer_error(d, r->head, r->segs, r->nseg, r->writable, tag, EIO);
		} else {
			scatter(d, r->segs, r->nseg, m->data, m->len);
			virtq_push(&d->vq[0], r->head, (uint32_t)m->len);
			d->stats.replies++;
		}
	}
	uint16_t oldtag = r->oldtag;
	uint8_t req_type = r->type;
	req_remove(d, (unsigned)i);
	if (type == P9_RFLUSH && req_type == P9_TFLUSH) {
		int old = req_find(d, oldtag, seq);
		if (old >= 0)
			req_abort(d, (unsigned)old);
	} else if (type == P9_RVERSION && req_type == P9_TVERSION) {
		/* Everything sent before the Tversion was aborted by it. */
		fids_clear(d);
		while (d->nreqs && d->reqs[0].seq < seq)
			req_abort(d, 0);
	}
}

void virtio_9p_poll(struct virtio_9p *d)
{
	if (!d->attached || !atomic_load_explicit(&d->ready, memory_order_acquire))
		return;
	atomic_store(&d->ready, false);
	pthread_mutex_lock(&d->lock);
	struct virtio_9p_msg *in = d->in;
	d->in = d->in_tail = NULL;
	pthread_mutex_unlock(&d->lock);
	uint16_t before = d->vq[0].used_idx;
	for (struct virtio_9p_msg *m = in; m; m = m->next)
		deliver_reply(d, m);
	free_msgs(in);
	if (atomic_load(&d->dead)) {
		while (d->nreqs) {
			struct virtio_9p_req *r = &d->reqs[0];
			if (!r->orphan) {
				d->stats.dead_replies++;
				answer_error(d, r->head, r->segs, r->nseg, r->writable, r->tag, EIO);
			}
			req_remove(d, 0);
		}
	}
	if (d->vq[0].used_idx != before)
		publish(d);
}

/* ---- The transport's callbacks ------------------------------------------- */

static void p9_queue_notify(void *opaque, unsigned queue)
{
	(void)queue;
	take_requests(opaque);
}

static void p9_reset(void *opaque)
{
	struct virtio_9p *d = opaque;

	/* The chains are the old driver's; the server still owes replies,
	 * which must not reach the next driver's requests. */
	for (unsigned i = 0; i < d->nreqs; i++) {
		d->reqs[i].orphan = true;
		free(d->reqs[i].segs);
		d->reqs[i].segs = NULL;
		d->reqs[i].nseg = 0;
	}
}

static const struct virtio_pci_ops p9_ops = {
	.queue_notify = p9_queue_notify,
	.reset = p9_reset,
};

/* ---- Entry points ------------------------------------------------------- */

bool virtio_9p_busy(const struct virtio_9p *d)
{
	return d->attached && d->nreqs > 0;
}

bool virtio_9p_in_use(const struct virtio_9p *d)
{
	return d->attached && (d->nreqs > 0 || d->nfids > 0 || d->fids_overflow);
}

bool virtio_9p_server_dead(const struct virtio_9p *d)
{
	return d->attached && atomic_load(&d->dead);
}

void virtio_9p_reset(struct virtio_9p *d)
{
	if (d->attached)
		virtio_pci_reset(&d->vp);
}

int virtio_9p_attach(struct virtio_9p *d, uint8_t devfn, const char *tag, const char *export_root,
		     uint32_t attach_uid, int fd, const struct guest_ram *ram, struct bus *bus,
		     const struct virtio_9p_host *host)
{
	size_t tag_len = strlen(tag);
	int err;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->wake_fd = -1;
	if (tag_len == 0 || tag_len > VIRTIO_9P_TAG_MAX ||
	    strlen(export_root) >= sizeof(d->export_root)) {
		close(fd);
		return -EINVAL;
	}
	d->fd = fd;
	snprintf(d->export_root, sizeof(d->export_root), "%s", export_root);
	d->attach_uid = attach_uid;
	d->ram = ram;
	d->host = *host;
	put_le16(d->config, (uint16_t)tag_len);
	memcpy(d->config + 2, tag, tag_len);
	d->config_len = (unsigned)(2 + tag_len);
	d->reqs = calloc(MAX_OUTSTANDING, sizeof(*d->reqs));
	d->fids = calloc(VIRTIO_9P_MAX_FIDS, sizeof(*d->fids));
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!d->reqs || !d->fids || d->wake_fd < 0) {
		err = d->wake_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	virtq_init(&d->vq[0], VIRTIO_9P_QUEUE_SIZE);
	struct virtio_pci_params p = {
		.devfn = devfn,
		.device_type = VIRTIO_ID_9P,
		.class_code = VIRTIO_9P_PCI_CLASS,
		.features = 1ull << VIRTIO_9P_F_MOUNT_TAG,
		.queues = d->vq,
		.num_queues = 1,
		.config = d->config,
		.config_len = d->config_len,
		.ops = &p9_ops,
		.opaque = d,
	};
	err = virtio_pci_init(&d->vp, &p, ram, bus);
	if (err)
		goto fail;
	err = -pthread_mutex_init(&d->lock, NULL);
	if (err)
		goto unplace;
	atomic_init(&d->ready, false);
	atomic_init(&d->dead, false);
	err = -pthread_create(&d->thread, NULL, io_thread, d);
	if (err) {
		pthread_mutex_destroy(&d->lock);
		goto unplace;
	}
	d->thread_started = true;
	d->attached = true;
	return 0;

unplace:
	pci_region_place(&d->vp.region, PCI_BAR_UNMAPPED);
fail:
	free(d->reqs);
	free(d->fids);
	d->reqs = NULL;
	d->fids = NULL;
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	close(fd);
	d->fd = d->wake_fd = -1;
	return err;
}

void virtio_9p_close(struct virtio_9p *d)
{
	if (!d->attached)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_mutex_unlock(&d->lock);
	wake_io(d);
	pthread_join(d->thread, NULL);
	pci_region_place(&d->vp.region, PCI_BAR_UNMAPPED);
	while (d->nreqs)
		req_remove(d, d->nreqs - 1);
	free_msgs(d->out);
	free_msgs(d->in);
	d->out = d->out_tail = d->in = d->in_tail = NULL;
	free(d->reqs);
	free(d->fids);
	d->reqs = NULL;
	d->fids = NULL;
	close(d->fd);
	close(d->wake_fd);
	d->fd = d->wake_fd = -1;
	pthread_mutex_destroy(&d->lock);
	d->attached = false;
}
