/* virtio-net: transmit chains handed to the backend on the vCPU thread, the
 * backend's frames queued under a lock and delivered into receive chains
 * by virtio_net_poll. See virtio_net.h. */
#include "devices/virtio_net.h"
#include "host/snapfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct virtio_net_frame {
	struct virtio_net_frame *next;
	size_t len;
	uint8_t data[];
};

/* ---- Helpers ------------------------------------------------------------ */

static void report(struct virtio_net *n, const void *ptr, uint64_t len)
{
	uint64_t gpa = (uint64_t)((const uint8_t *)ptr - n->ram->host);

	if (n->host.guest_written && len)
		n->host.guest_written(n->host.opaque, gpa, len);
}

/* Copies len bytes into the writable segments of a chain from byte off of
 * its writable part, reporting what it wrote. */
static void scatter(struct virtio_net *n, const struct virtq_seg *seg, unsigned nseg,
		    uint64_t off, const uint8_t *src, size_t len)
{
	for (unsigned i = 0; i < nseg && len; i++) {
		if (!seg[i].writable)
			continue;
		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		size_t n_bytes = seg[i].len - off < len ? (size_t)(seg[i].len - off) : len;
		memcpy(seg[i].ptr + off, src, n_bytes);
		report(n, seg[i].ptr + off, n_bytes);
		src += n_bytes;
		len -= n_bytes;
		off = 0;
	}
}

static void publish(struct virtio_net *n, struct virtq *vq)
{
	report(n, vq->used, virtq_used_ring_bytes(vq));
	if (virtq_flush(vq))
		virtio_pci_queue_interrupt(&n->vp);
}

static void free_frames(struct virtio_net_frame *f)
{
	while (f) {
		struct virtio_net_frame *next = f->next;
		free(f);
		f = next;
	}
}

/* ---- Transmit, on the vCPU thread -------------------------------------- */

static void transmit(struct virtio_net *n)
{
	struct virtq *vq = &n->vq[VIRTIO_NET_TXQ];
	bool pushed = false;

	while (virtio_pci_running(&n->vp)) {
		struct virtq_chain c;
		int r = virtq_pop(vq, n->ram, &c, n->segs, VIRTIO_NET_CHAIN_SEGS);
		if (r == 0)
			break;
		if (r < 0) {
			n->cpu_stats.device_errors++;
			virtio_pci_device_error(&n->vp);
			break;
		}
		/* The whole chain is read before it goes back: the guest may
		 * reuse the buffer as soon as it is in the used ring. */
		if (c.truncated || c.writable || c.readable < VIRTIO_NET_HDR_SIZE + VIRTIO_NET_ETH_HLEN ||
		    c.readable > sizeof(n->txbuf)) {
			n->cpu_stats.tx_dropped++;
		} else {
			size_t at = 0;
			for (unsigned i = 0; i < c.nseg; i++) {
				memcpy(n->txbuf + at, n->segs[i].ptr, n->segs[i].len);
				at += n->segs[i].len;
			}
			size_t len = at - VIRTIO_NET_HDR_SIZE;
			n->cpu_stats.tx_packets++;
			n->cpu_stats.tx_bytes += len;
			if (n->backend.transmit)
				n->backend.transmit(n->backend.opaque, n->txbuf + VIRTIO_NET_HDR_SIZE, len);
		}
		virtq_push(vq, c.head, 0);
		pushed = true;
	}
	if (pushed)
		publish(n, vq);
}

/* ---- Receive, on the vCPU thread --------------------------------------- */

enum deliver_result { DELIVERED, NO_BUFFERS, DROPPED, BROKEN };

/* Pops one receive chain; bad ones (a readable part, too short for the
 * header) go straight back empty and the next is tried. */
static int pop_rx(struct virtio_net *n, struct virtq_chain *c, struct virtq_seg *seg,
		  unsigned *bad)
{
	struct virtq *vq = &n->vq[VIRTIO_NET_RXQ];

	for (;;) {
		int r = virtq_pop(vq, n->ram, c, seg, VIRTIO_NET_CHAIN_SEGS);
		if (r <= 0)
			return r;
		if (!c->readable && !c->truncated && c->writable >= VIRTIO_NET_HDR_SIZE)
			return 1;
		n->cpu_stats.rx_bad_buffers++;
		virtq_push(vq, c->head, 0);
		(*bad)++;
	}
}

/* The frame cannot go into the chains taken for it: they are put back
 * (last_avail rewound to the first) when nothing was returned after it,
 * else returned empty, as rewinding would offer the returned ones again. */
static void give_back(struct virtio_net *n, uint16_t start, unsigned bad, const uint16_t *heads,
		      unsigned nbuf)
{
	struct virtq *vq = &n->vq[VIRTIO_NET_RXQ];

	if (!bad) {
		vq->last_avail = start;
		return;
	}
	for (unsigned i = 0; i < nbuf; i++)
		virtq_push(vq, heads[i], 0);
}

/* One frame into as many chains as it takes (one without MRG_RXBUF). The
 * chains are returned only once the frame is all written; when the posted
 * ones run out first they are put back for later (give_back). */
static enum deliver_result deliver(struct virtio_net *n, const struct virtio_net_frame *f,
				   bool *pushed)
{
	struct virtq *vq = &n->vq[VIRTIO_NET_RXQ];
	bool merge = virtio_pci_negotiated(&n->vp, VIRTIO_NET_F_MRG_RXBUF);
	uint16_t heads[VIRTIO_NET_MAX_MERGE];
	uint32_t lens[VIRTIO_NET_MAX_MERGE];
	struct virtq_chain first;
	unsigned nbuf = 0, bad = 0;
	size_t done = 0;

	int r = pop_rx(n, &first, n->first, &bad);
	if (bad)
		*pushed = true;
	if (r < 0)
		return BROKEN;
	if (r == 0)
		return NO_BUFFERS;
	uint16_t start = (uint16_t)(vq->last_avail - 1);
	bad = 0;
	uint8_t hdr[VIRTIO_NET_HDR_SIZE] = { 0 };
	hdr[VIRTIO_NET_HDR_NUM_BUFFERS] = 1;
	size_t room = (size_t)first.writable - VIRTIO_NET_HDR_SIZE;
	if (!merge && room < f->len) {
		/* Buffers this driver posts for frames this size will not
		 * do: the frame goes, the buffer stays. */
		vq->last_avail = start;
		n->cpu_stats.rx_oversized++;
		return DROPPED;
	}
	size_t take = room < f->len ? room : f->len;
	scatter(n, n->first, first.nseg, VIRTIO_NET_HDR_SIZE, f->data, take);
	heads[0] = first.head;
	lens[0] = (uint32_t)(VIRTIO_NET_HDR_SIZE + take);
	nbuf = 1;
	done = take;
	while (done < f->len) {
		struct virtq_chain c;
		if (nbuf == VIRTIO_NET_MAX_MERGE) {
			give_back(n, start, bad, heads, nbuf);
			n->cpu_stats.rx_oversized++;
			return DROPPED;
		}
		r = pop_rx(n, &c, n->segs, &bad);
		if (bad)
			*pushed = true;
		if (r < 0)
			return BROKEN;
		if (r == 0) {
			/* The frame waits for more buffers, unless its chains
			 * had to be returned: then it goes. */
			give_back(n, start, bad, heads, nbuf);
			if (!bad)
				return NO_BUFFERS;
			n->cpu_stats.rx_oversized++;
			return DROPPED;
		}
		take = c.writable < f->len - done ? (size_t)c.writable : f->len - done;
		scatter(n, n->segs, c.nseg, 0, f->data + done, take);
		heads[nbuf] = c.head;
		lens[nbuf] = (uint32_t)take;
		nbuf++;
		done += take;
	}
	hdr[VIRTIO_NET_HDR_NUM_BUFFERS] = (uint8_t)nbuf;
	scatter(n, n->first, first.nseg, 0, hdr, sizeof(hdr));
	for (unsigned i = 0; i < nbuf; i++)
		virtq_push(vq, heads[i], lens[i]);
	*pushed = true;
	n->cpu_stats.rx_packets++;
	n->cpu_stats.rx_bytes += f->len;
	return DELIVERED;
}

/* Moves the backlog into the posted buffers, in order, as far as they go. */
static void receive_backlog(struct virtio_net *n)
{
	struct virtq *vq = &n->vq[VIRTIO_NET_RXQ];
	struct virtio_net_frame *drop = NULL;
	bool pushed = false;

	pthread_mutex_lock(&n->lock);
	if (!virtio_pci_running(&n->vp) || !vq->enabled) {
		n->cpu_stats.rx_not_running += n->backlog_len;
		drop = n->backlog;
		n->backlog = n->backlog_tail = NULL;
		n->backlog_len = 0;
	}
	while (n->backlog) {
		struct virtio_net_frame *f = n->backlog;
		enum deliver_result r = deliver(n, f, &pushed);
		if (r == NO_BUFFERS)
			break;
		if (r == BROKEN) {
			n->cpu_stats.device_errors++;
			virtio_pci_device_error(&n->vp);
			break;
		}
		n->backlog = f->next;
		if (!n->backlog)
			n->backlog_tail = NULL;
		n->backlog_len--;
		f->next = drop;
		drop = f;
	}
	atomic_store_explicit(&n->rx_ready, false, memory_order_relaxed);
	pthread_mutex_unlock(&n->lock);
	free_frames(drop);
	if (pushed)
		publish(n, vq);
}

/* ---- The transport's callbacks ------------------------------------------ */

static void net_queue_notify(void *opaque, unsigned queue)
{
	struct virtio_net *n = opaque;

	if (queue == VIRTIO_NET_TXQ)
		transmit(n);
	else
		receive_backlog(n);
}

static void net_reset(void *opaque)
{
	struct virtio_net *n = opaque;
	struct virtio_net_frame *drop;

	/* Frames for the driver that went are of no use to the next one. */
	pthread_mutex_lock(&n->lock);
	n->cpu_stats.rx_not_running += n->backlog_len;
	drop = n->backlog;
	n->backlog = n->backlog_tail = NULL;
	n->backlog_len = 0;
	atomic_store_explicit(&n->rx_ready, false, memory_order_relaxed);
	pthread_mutex_unlock(&n->lock);
	free_frames(drop);
}

static const struct virtio_pci_ops net_ops = {
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

/* ---- Entry points ------------------------------------------------------- */

int virtio_net_receive(struct virtio_net *n, const void *frame, size_t len)
{
	struct virtio_net_frame *f = NULL;
	int ret = 0;

	if (len >= VIRTIO_NET_ETH_HLEN && len <= VIRTIO_NET_MAX_FRAME) {
		f = malloc(sizeof(*f) + len);
		if (!f)
			return -ENOMEM;
		f->next = NULL;
		f->len = len;
		memcpy(f->data, frame, len);
	}
	pthread_mutex_lock(&n->lock);
	if (!f) {
		n->rx_oversized++;
		ret = -EMSGSIZE;
	} else if (n->backlog_len >= VIRTIO_NET_RX_BACKLOG) {
		n->rx_backlog_full++;
		ret = -ENOBUFS;
	} else {
		if (n->backlog_tail)
			n->backlog_tail->next = f;
		else
			n->backlog = f;
		n->backlog_tail = f;
		n->backlog_len++;
		f = NULL;
		atomic_store_explicit(&n->rx_ready, true, memory_order_release);
	}
	pthread_mutex_unlock(&n->lock);
	free(f);
	if (!ret && n->host.notify)
		n->host.notify(n->host.opaque);
	return ret;
}

void virtio_net_poll(struct virtio_net *n)
{
	if (!atomic_load_explicit(&n->rx_ready, memory_order_acquire))
		return;
	receive_backlog(n);
}

bool virtio_net_busy(const struct virtio_net *n)
{
	return n->attached && virtio_pci_running(&n->vp);
}

void virtio_net_reset(struct virtio_net *n)
{
	if (n->attached)
		virtio_pci_reset(&n->vp);
}

struct virtio_net_stats virtio_net_get_stats(struct virtio_net *n)
{
	struct virtio_net_stats s = n->cpu_stats;

	if (!n->attached)
		return s;
	pthread_mutex_lock(&n->lock);
	s.rx_backlog_full += n->rx_backlog_full;
	s.rx_oversized += n->rx_oversized;
	pthread_mutex_unlock(&n->lock);
	s.device_errors = n->vp.stats.device_errors;
	return s;
}

int virtio_net_attach(struct virtio_net *n, uint8_t devfn, const uint8_t mac[6],
		      const struct guest_ram *ram, struct bus *bus,
		      const struct virtio_net_host *host, const struct virtio_net_backend *backend)
{
	uint64_t features = 1ull << VIRTIO_NET_F_MTU | 1ull << VIRTIO_NET_F_MAC |
			    1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_STATUS;
	int err;

	if (n->attached)
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	n->ram = ram;
	n->host = *host;
	n->backend = *backend;
	memcpy(n->config + VIRTIO_NET_CFG_MAC, mac, 6);
	n->config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
	n->config[VIRTIO_NET_CFG_MAX_VQ_PAIRS] = 1;
	n->config[VIRTIO_NET_CFG_MTU] = VIRTIO_NET_MTU & 0xff;
	n->config[VIRTIO_NET_CFG_MTU + 1] = VIRTIO_NET_MTU >> 8;
	virtq_init(&n->vq[VIRTIO_NET_RXQ], VIRTIO_NET_QUEUE_SIZE);
	virtq_init(&n->vq[VIRTIO_NET_TXQ], VIRTIO_NET_QUEUE_SIZE);
	struct virtio_pci_params p = {
		.devfn = devfn,
		.device_type = VIRTIO_ID_NET,
		.class_code = VIRTIO_NET_PCI_CLASS,
		.features = features,
		.queues = n->vq,
		.num_queues = 2,
		.config = n->config,
		.config_len = VIRTIO_NET_CONFIG_SIZE,
		.ops = &net_ops,
		.opaque = n,
	};
	err = virtio_pci_init(&n->vp, &p, ram, bus);
	if (err)
		return err;
	err = pthread_mutex_init(&n->lock, NULL);
	if (err) {
		pci_region_place(&n->vp.region, PCI_BAR_UNMAPPED);
		return -err;
	}
	atomic_init(&n->rx_ready, false);
	n->attached = true;
	return 0;
}

void virtio_net_close(struct virtio_net *n)
{
	if (!n->attached)
		return;
	pci_region_place(&n->vp.region, PCI_BAR_UNMAPPED);
	free_frames(n->backlog);
	n->backlog = n->backlog_tail = NULL;
	n->backlog_len = 0;
	pthread_mutex_destroy(&n->lock);
	n->attached = false;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define VIRTIO_NET_SNAP_VERSION 1u

void virtio_net_save(const struct virtio_net *n, struct snap_writer *w)
{
	snapw_begin(w, "VNET", VIRTIO_NET_SNAP_VERSION, false);
	snapw_bytes(w, n->config, sizeof(n->config));
	virtio_pci_save(&n->vp, w);
	snapw_end(w);
}

int virtio_net_load(struct virtio_net *n, struct snap_reader *r)
{
	uint8_t config[VIRTIO_NET_CONFIG_SIZE];
	if (r->version != VIRTIO_NET_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  VIRTIO_NET_SNAP_VERSION);
	snapr_bytes(r, config, sizeof(config));
	if (!r->err && memcmp(config, n->config, sizeof(config)))
		return snapr_fail(r, "the network card's configuration (MAC, status) differs");
	virtio_pci_load(&n->vp, r);
	return snapr_end(r);
}
