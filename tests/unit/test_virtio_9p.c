/* virtio-9p's transport against a fake 9P server on a socketpair (the test
 * plays the server): identification and the mount tag; a request split
 * over several readable descriptors reaches the server byte for byte and
 * its reply lands across several writable ones; replies out of order go to
 * their own chains by tag; Tversion's msize capped; Tattach's aname put
 * under the export and its n_uname the server's user; malformed chains answered by the transport and never
 * sent (a size field past the readable bytes, no room for a reply, a
 * descriptor loop: DEVICE_NEEDS_RESET); a reply too large for its chain
 * replaced by Rlerror(EIO); Rflush returning the flushed chain; the fids
 * followed (in use while attached, not after the clunk); a reset's
 * outstanding request answered after it and dropped; and a server that
 * closes its end or sends a broken size: everything outstanding and later
 * answered Rlerror(EIO), nothing hangs. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_9p.h"

#define SLOT	12u
#define DEVFN	(SLOT << 3)
#define IRQ	11u
#define BAR_ADDR 0xfe000000u
#define QSIZE	16u
#define BUF	0x100000u	/* request and reply buffers, 4 KiB a descriptor */
/* How long the test waits for the device or the fake server before it
 * calls the run hung: a bound on a failure, not a measurement. */
#define HANG_MS	10000

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct virtio_9p d;
	int server;		/* the fake server's end */
	atomic_int notified;
	int irq_level;
	uint32_t common, isr, device, notify, mult, device_len;
	unsigned window;
	uint16_t qsize;
	uint16_t avail_idx[1], next_desc[1];
	uint16_t used_seen;
};

#include "virtio_pci_harness.h"

static void on_notify(void *opaque)
{
	struct harness *h = opaque;
	atomic_store(&h->notified, 1);
}

static void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	CHECK(gpa + len <= h->ram.size);
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

static void setup(struct harness *h)
{
	int sv[2];
	memset(h->ram.host, 0, h->ram.size);
	h->irq_level = 0;
	h->used_seen = 0;
	atomic_store(&h->notified, 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	h->server = sv[1];
	pci_begin(h);
	struct virtio_9p_host host = { .notify = on_notify, .guest_written = on_written, .opaque = h };
	CHECK_EQ(virtio_9p_attach(&h->d, DEVFN, "hostshare", "/share", 65534, sv[0], &h->ram, &h->bus,
				  &host),
		 0);
	pci_plug(h, &h->d.vp.pci);
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(h, base);
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	CHECK(common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4) & (1u << VIRTIO_9P_F_MOUNT_TAG));
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, 1u << VIRTIO_9P_F_MOUNT_TAG);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, 1);	/* VERSION_1 */
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK);
	CHECK(status(h) & VIRTIO_STATUS_FEATURES_OK);
	queue_setup(h, 0, QSIZE);
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void teardown(struct harness *h)
{
	virtio_9p_close(&h->d);
	close(h->server);
}

/* A chain at descriptors first.. of the request's bytes split into pieces
 * of `split` bytes, then `wsegs` writable 4 KiB... of wlen bytes total; its
 * head offered and kicked. Buffers at BUF + 4 KiB * descriptor. */
static uint16_t post(struct harness *h, const uint8_t *req, uint32_t len, uint32_t split,
		     unsigned wsegs, uint32_t wlen)
{
	uint16_t head = h->next_desc[0];
	unsigned nd = (len + split - 1) / split + wsegs;
	for (unsigned i = 0; i < nd; i++) {
		uint16_t d = (uint16_t)((head + i) % QSIZE);
		uint64_t at = BUF + 4096u * d;
		bool writable = i >= nd - wsegs;
		uint32_t n;
		if (!writable) {
			n = len - i * split < split ? len - i * split : split;
			memcpy(h->ram.host + at, req + i * split, n);
		} else {
			unsigned w = i - (nd - wsegs);
			n = wlen / wsegs + (w == wsegs - 1 ? wlen % wsegs : 0);
			memset(h->ram.host + at, 0xee, 4096);
		}
		desc(h, 0, d, at, n, (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) |
						(i + 1 < nd ? VIRTQ_DESC_F_NEXT : 0)),
		     (uint16_t)((d + 1) % QSIZE));
	}
	h->next_desc[0] = (uint16_t)((head + nd) % QSIZE);
	offer(h, 0, head);
	kick(h, 0);
	return head;
}

/* A 9P message: size, type, tag, then body. */
static uint32_t msg(uint8_t *m, uint8_t type, uint16_t tag, const void *body, uint32_t blen)
{
	le32(m, 7 + blen);
	m[4] = type;
	m[5] = (uint8_t)tag;
	m[6] = (uint8_t)(tag >> 8);
	if (blen)
		memcpy(m + 7, body, blen);
	return 7 + blen;
}

/* The next message the fake server reads: its length, 0 on a hang. */
static uint32_t server_read(struct harness *h, uint8_t *m, uint32_t cap)
{
	uint32_t got = 0, want = 4;
	while (got < want) {
		struct pollfd p = { .fd = h->server, .events = POLLIN };
		if (poll(&p, 1, HANG_MS) != 1)
			return 0;
		ssize_t n = read(h->server, m + got, want - got);
		if (n <= 0)
			return 0;
		got += (uint32_t)n;
		if (got == 4) {
			want = rd32(m);
			if (want > cap || want < 7)
				return 0;
		}
	}
	return got;
}

static bool server_idle(struct harness *h)
{
	struct pollfd p = { .fd = h->server, .events = POLLIN };
	return poll(&p, 1, 0) == 0;
}

static void server_write(struct harness *h, const uint8_t *m, uint32_t len)
{
	CHECK_EQ(write(h->server, m, len), len);
}

/* Waits for the device's I/O thread to have something, then delivers it
 * (virtio_9p_poll, as the board's run loop does) until n more chains are
 * used. */
static void wait_used(struct harness *h, unsigned n)
{
	for (unsigned waited = 0; (uint16_t)(used_idx(h, 0) - h->used_seen) < n; waited++) {
		if (waited > HANG_MS) {
			CHECK(!"the device never answered");
			return;
		}
		if (atomic_exchange(&h->notified, 0))
			virtio_9p_poll(&h->d);
		else
			usleep(1000);
	}
}

/* The next used entry: its head and length. */
static void next_used(struct harness *h, uint16_t *head, uint32_t *len)
{
	unsigned slot = h->used_seen % QSIZE;
	*head = (uint16_t)get32(h, USED(0) + 4 + 8 * slot);
	*len = get32(h, USED(0) + 8 + 8 * slot);
	h->used_seen++;
}

/* The reply bytes of a chain whose writable part starts at descriptor
 * first_w with wsegs pieces of wlen bytes in all, gathered. */
static void reply_bytes(struct harness *h, uint16_t first_w, unsigned wsegs, uint32_t wlen,
			uint8_t *out)
{
	uint32_t at = 0;
	for (unsigned w = 0; w < wsegs; w++) {
		uint32_t n = wlen / wsegs + (w == wsegs - 1 ? wlen % wsegs : 0);
		memcpy(out + at, h->ram.host + BUF + 4096u * ((first_w + w) % QSIZE), n);
		at += n;
	}
}

static void expect_rlerror(struct harness *h, uint16_t first_w, uint16_t tag, uint32_t ecode)
{
	const uint8_t *r = h->ram.host + BUF + 4096u * first_w;
	CHECK_EQ(rd32(r), P9_RLERROR_SIZE);
	CHECK_EQ(r[4], P9_RLERROR);
	CHECK_EQ(r[5] | r[6] << 8, tag);
	CHECK_EQ(rd32(r + 7), ecode);
}

static void test_identity(struct harness *h)
{
	setup(h);
	CHECK_EQ(cfg_rd(h, PCI_REG_VENDOR, 2), 0x1af4);
	CHECK_EQ(cfg_rd(h, PCI_REG_DEVICE, 2), 0x1049);
	CHECK_EQ(h->device_len, 2 + 9);
	CHECK_EQ(dev_rd(h, 0, 2), 9);
	char tag[10] = { 0 };
	for (unsigned i = 0; i < 9; i++)
		tag[i] = (char)dev_rd(h, 2 + i, 1);
	CHECK(!strcmp(tag, "hostshare"));
	teardown(h);
}

/* Split both ways, out of order, Tversion's msize. */
static void test_requests(struct harness *h)
{
	static uint8_t req[600], got[1024], rep[1024], out[1024];
	setup(h);
	/* Twrite-like: 7 header bytes and 500 of data, in three pieces. */
	uint8_t body[500];
	for (unsigned i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 1);
	uint32_t len = msg(req, 118, 1, body, sizeof(body));
	uint16_t a = post(h, req, len, 169, 3, 300);
	unsigned a_desc = 3;
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	CHECK(!memcmp(got, req, len));
	/* A second request (tag 2), answered first. */
	uint32_t len2 = msg(req, 120, 2, "\x05\0\0\0", 4);
	uint16_t b = post(h, req, len2, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len2);
	uint32_t rlen2 = msg(rep, 121, 2, NULL, 0);
	server_write(h, rep, rlen2);
	wait_used(h, 1);
	uint16_t head;
	uint32_t ulen;
	next_used(h, &head, &ulen);
	CHECK_EQ(head, b);
	CHECK_EQ(ulen, rlen2);
	/* Tag 1's reply, 250 bytes over its three writable pieces. */
	uint8_t rbody[243];
	for (unsigned i = 0; i < sizeof(rbody); i++)
		rbody[i] = (uint8_t)(255 - i);
	uint32_t rlen = msg(rep, 119, 1, rbody, sizeof(rbody));
	server_write(h, rep, rlen);
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, rlen);
	reply_bytes(h, (uint16_t)(a + a_desc), 3, 300, out);
	CHECK(!memcmp(out, rep, rlen));
	CHECK_EQ(out[rlen], 0xee);	/* nothing written past the reply */
	/* Tversion asking for 1 MiB goes out asking for the cap. */
	uint8_t vbody[4 + 2 + 8];
	le32(vbody, 1u << 20);
	vbody[4] = 8;
	vbody[5] = 0;
	memcpy(vbody + 6, "9P2000.L", 8);
	len = msg(req, P9_TVERSION, 0xffff, vbody, sizeof(vbody));
	post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	CHECK_EQ(rd32(got + 7), VIRTIO_9P_MSIZE_MAX);
	CHECK(!memcmp(got + 11, vbody + 4, 10));
	CHECK_EQ(h->d.stats.requests, 3);
	teardown(h);
}

/* Tattach's aname as the server sees it, for the guest's aname. */
static void attach_as(struct harness *h, const char *aname, const char *want)
{
	uint8_t body[64], req[128], got[128];
	uint32_t n = 0;
	le32(body, 1);		/* fid */
	le32(body + 4, ~0u);	/* afid: NOFID */
	n = 8;
	body[n++] = 4;
	body[n++] = 0;
	memcpy(body + n, "root", 4);
	n += 4;
	size_t al = strlen(aname);
	body[n++] = (uint8_t)al;
	body[n++] = 0;
	memcpy(body + n, aname, al);
	n += (uint32_t)al;
	le32(body + n, 0);	/* n_uname */
	n += 4;
	uint32_t len = msg(req, P9_TATTACH, 3, body, n);
	post(h, req, len, 128, 1, 64);
	uint32_t glen = server_read(h, got, sizeof(got));
	size_t wl = strlen(want);
	CHECK_EQ(glen, len - al + wl);
	CHECK_EQ(rd32(got), glen);
	CHECK(!memcmp(got + 7, body, 14));
	CHECK_EQ(got[21] | got[22] << 8, wl);
	CHECK(!memcmp(got + 23, want, wl));
	CHECK_EQ(rd32(got + 23 + wl), 65534);	/* n_uname: the server's user */
}

/* Fids: attached is in use, clunked is not; the aname rewrite. */
static void test_attach_and_fids(struct harness *h)
{
	uint8_t rep[64], req[64], got[64];
	uint16_t head;
	uint32_t ulen;
	setup(h);
	attach_as(h, "", "/share");
	CHECK(virtio_9p_busy(&h->d));
	/* Rattach: a qid of 13 bytes. */
	uint32_t rlen = msg(rep, P9_RATTACH, 3, "\x80\0\0\0\0\0\0\0\0\0\0\0\0", 13);
	server_write(h, rep, rlen);
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(ulen, rlen);
	CHECK(!virtio_9p_busy(&h->d));
	CHECK(virtio_9p_in_use(&h->d));
	/* Tclunk(1) frees the fid; its 11 bytes in pieces of 3 (the header
	 * split too). */
	uint32_t len = msg(req, P9_TCLUNK, 4, "\x01\0\0\0", 4);
	post(h, req, len, 3, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	CHECK(!memcmp(got, req, len));
	server_write(h, rep, msg(rep, P9_TCLUNK + 1, 4, NULL, 0));
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK(!virtio_9p_in_use(&h->d));
	/* A rooted aname stays under the export; others are the export. */
	attach_as(h, "/sub", "/share/sub");
	server_write(h, rep, msg(rep, P9_RLERROR, 3, "\x02\0\0\0", 4));
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK(!virtio_9p_in_use(&h->d));	/* a failed attach holds nothing */
	attach_as(h, "ctl", "/share");
	server_write(h, rep, msg(rep, P9_RLERROR, 3, "\x02\0\0\0", 4));
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	teardown(h);
}

/* What the transport answers itself, and a reply too large. */
static void test_bad_chains(struct harness *h)
{
	uint8_t req[64], rep[256], got[256];
	uint16_t head;
	uint32_t ulen;
	setup(h);
	/* A size field past the readable bytes: Rlerror(EINVAL), not sent. */
	uint32_t len = msg(req, 120, 9, "\x01\0\0\0", 4);
	le32(req, 64);
	uint16_t a = post(h, req, len, 64, 1, 64);
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, P9_RLERROR_SIZE);
	expect_rlerror(h, (uint16_t)(a + 1), 9, EINVAL);
	/* No room for any reply: returned empty. */
	len = msg(req, 120, 10, "\x01\0\0\0", 4);
	a = post(h, req, len, 64, 1, 4);
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, 0);
	CHECK(server_idle(h));
	CHECK_EQ(h->d.stats.bad_requests, 2);
	/* A reply longer than the chain's 16 writable bytes: Rlerror(EIO). */
	len = msg(req, 116, 11, "\x01\0\0\0", 4);
	a = post(h, req, len, 64, 1, 16);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	server_write(h, rep, msg(rep, 117, 11, got, 100));
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, P9_RLERROR_SIZE);
	expect_rlerror(h, (uint16_t)(a + 1), 11, EIO);
	CHECK_EQ(h->d.stats.oversized_replies, 1);
	/* A reply nobody asked for is dropped. */
	server_write(h, rep, msg(rep, 117, 77, NULL, 0));
	for (unsigned waited = 0; !h->d.stats.unmatched_replies && waited < HANG_MS; waited++) {
		if (atomic_exchange(&h->notified, 0))
			virtio_9p_poll(&h->d);
		else
			usleep(1000);
	}
	CHECK_EQ(h->d.stats.unmatched_replies, 1);
	/* A descriptor loop breaks the queue. */
	uint16_t d = h->next_desc[0];
	desc(h, 0, d, BUF, 16, VIRTQ_DESC_F_NEXT, d);
	offer(h, 0, d);
	kick(h, 0);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(server_idle(h));
	teardown(h);
}

/* Rflush returns the flushed chain; a reset's outstanding request is
 * answered afterwards and dropped, not given to the next driver's. */
static void test_flush_and_reset(struct harness *h)
{
	uint8_t req[64], rep[64], got[64];
	uint16_t head;
	uint32_t ulen;
	setup(h);
	uint32_t len = msg(req, 116, 5, "\x01\0\0\0", 4);
	uint16_t a = post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	len = msg(req, P9_TFLUSH, 6, "\x05\0", 2);
	uint16_t f = post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	server_write(h, rep, msg(rep, P9_RFLUSH, 6, NULL, 0));
	wait_used(h, 2);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, f);
	CHECK_EQ(ulen, 7);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, 0);
	CHECK(!virtio_9p_busy(&h->d));

	/* Tag 7 outstanding across a reset. */
	len = msg(req, 116, 7, "\x01\0\0\0", 4);
	post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	set_status(h, 0);
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	set_status(h, base);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, 1);
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK);
	memset(h->ram.host + QBASE(0), 0, 0x4000);
	queue_setup(h, 0, QSIZE);
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	h->used_seen = 0;
	/* The new driver's tag 7. */
	a = post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	/* The old request's reply first (a different body), then the new. */
	server_write(h, rep, msg(rep, 117, 7, "\x01\0\0\0", 4));
	server_write(h, rep, msg(rep, 117, 7, "\x02\0\0\0", 4));
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, 11);
	CHECK_EQ(rd32(h->ram.host + BUF + 4096u * (a + 1) + 7), 2);
	CHECK(!virtio_9p_busy(&h->d));
	teardown(h);
}

/* The server goes away, or sends what no 9P message is. */
static void test_dead_server(struct harness *h, bool bad_size)
{
	uint8_t req[64], got[64];
	uint16_t head;
	uint32_t ulen;
	setup(h);
	uint32_t len = msg(req, 116, 8, "\x01\0\0\0", 4);
	uint16_t a = post(h, req, len, 64, 1, 64);
	CHECK_EQ(server_read(h, got, sizeof(got)), len);
	if (bad_size)
		server_write(h, (const uint8_t *)"\x03\0\0\0", 4);
	else
		close(h->server);
	wait_used(h, 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	CHECK_EQ(ulen, P9_RLERROR_SIZE);
	expect_rlerror(h, (uint16_t)(a + 1), 8, EIO);
	CHECK(virtio_9p_server_dead(&h->d));
	/* Later requests are answered at once. */
	a = post(h, req, len, 64, 1, 64);
	CHECK_EQ((uint16_t)(used_idx(h, 0) - h->used_seen), 1);
	next_used(h, &head, &ulen);
	CHECK_EQ(head, a);
	expect_rlerror(h, (uint16_t)(a + 1), 8, EIO);
	CHECK(!(status(h) & VIRTIO_STATUS_NEEDS_RESET));
	if (!bad_size)
		h->server = -1;
	virtio_9p_close(&h->d);
	if (h->server >= 0)
		close(h->server);
}

int main(void)
{
	static struct harness h;

	if (guest_ram_init(&h.ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	test_identity(&h);
	test_requests(&h);
	test_attach_and_fids(&h);
	test_bad_chains(&h);
	test_flush_and_reset(&h);
	test_dead_server(&h, false);
	test_dead_server(&h, true);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_9p");
}
