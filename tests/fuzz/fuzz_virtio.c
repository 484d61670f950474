/* Fuzzing harness for the DMA-capable virtio devices (src/devices/virtio_*):
 * virtio-blk, virtio-net, virtio-input and virtio-9p on the modern PCI
 * transport,
 * behind a PCI host on one bus, driven by a program in the input as a
 * hostile driver would drive them: accesses to each device's BAR 4 (common,
 * ISR, device and notify areas) and PCI configuration space, bytes written
 * anywhere in guest RAM (rings, descriptor and indirect tables, buffers,
 * headers, near RAM's end and over the rings), and the board's side
 * (frames from the network, pointer reports, the disk's completions, device
 * and machine resets). The record format is fuzz_virtio.h's.
 *
 * Guest RAM is an exact-size heap block, so a device access past its end
 * is a sanitizer report. virtio-blk's image is an unlinked temporary file
 * of 64 KiB, its bytes put back for every input; its I/O threads are waited for after
 * every access to the device (a notify queues work for them), so they never
 * write guest RAM while the program does, and their completions reach the
 * guest only at a VOP_POLL or the input's end, as the board's poll would
 * bring them. virtio-net's backend keeps nothing: a transmitted frame is
 * checked and dropped. virtio-9p talks to the harness, which plays the 9P
 * server on the other end of a socketpair: it reads the requests the
 * device sends (their tags, to answer them) and writes replies, well-formed
 * or not, or closes its end; after each it waits until the device's I/O
 * thread has read what it sent (and queued the replies it completes), so
 * that the reply reaches the guest at the same point of every run.
 *
 * The machine is made on the first input; every input starts from a
 * machine reset, zeroed RAM, the image's first bytes and virtio-9p's
 * stream as a new one (re-attached to a new socket unless it still is). Promises beside
 * no crash, hang or sanitizer report: a device returns no more chains than
 * it took (virtio-net and virtio-input return each before the operation
 * ends, virtio-blk within its 256 requests); a transmitted frame has 14 to
 * VIRTIO_NET_MAX_FRAME bytes; a device reports (host->guest_written) only
 * guest RAM; and every byte of guest RAM that changed was written by the
 * program, reported by a device or lies in a used ring the driver gave. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_virtio.h"

#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_9p.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_input.h"
#include "devices/virtio_net.h"
#include "host/clock.h"
#include "mmu/guest_ram.h"

#define PAGE 4096u
#define RAM_PAGES (VFUZZ_RAM_BYTES / PAGE)
#define DISK_BYTES (VFUZZ_DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE)
/* Queues a device has at most (virtio-net, virtio-input: two). */
#define MAX_QUEUES 2u
/* Requests the 9P server remembers to answer by their tags. */
#define P9_PENDING 32u
/* virtio-9p's requests the server owes replies for, at most (twice its
 * queue: virtio_9p.c's MAX_OUTSTANDING). */
#define P9_OUTSTANDING (2u * VIRTIO_9P_QUEUE_SIZE)
/* How long the harness waits for virtio-9p's I/O thread to take what the
 * server sent: far longer than it ever takes. */
#define P9_SETTLE_NS 1000000000ull

/* The server's end of virtio-9p's socket: where it is in the stream of
 * requests it reads, the requests not answered yet (a ring), and where
 * the device is in the stream of replies, as the device frames it. */
struct p9_server {
	int fd;
	uint8_t hdr[P9_HEADER_SIZE];
	size_t hdr_got;
	uint64_t skip;		/* bytes of the request being read after its header */
	uint16_t tags[P9_PENDING];
	uint8_t types[P9_PENDING];
	unsigned first, count;
	uint8_t size_field[4];	/* the device's reading of the reply stream */
	size_t size_got;
	uint64_t reply_left;	/* bytes of the reply it reads after the size field */
};

static const uint8_t fuzz_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct machine {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct virtio_blk blk;
	struct virtio_net net;
	struct virtio_input input;
	struct virtio_9p p9;
	struct p9_server server;
	int disk_fd;
	uint8_t disk_bytes[DISK_BYTES];
	/* A byte per byte of RAM: set where the program wrote or a device
	 * reported a write; page_marked says which pages of it to clear. */
	uint8_t *allowed;
	uint8_t page_marked[RAM_PAGES];
	/* Per device and queue: the used ring last allowed, so that an
	 * unchanged ring is not marked again after every record. */
	uint64_t used_marked[VDEV_COUNT][MAX_QUEUES];
	uint16_t size_marked[VDEV_COUNT][MAX_QUEUES];
	uint64_t sink;		/* what reads returned, so none is optimised away */
};

static struct virtio_pci *transport(struct machine *m, enum vfuzz_dev dev)
{
	switch (dev) {
	case VDEV_BLK:
		return &m->blk.vp;
	case VDEV_NET:
		return &m->net.vp;
	case VDEV_INPUT:
		return &m->input.vp;
	default:
		return &m->p9.vp;
	}
}

static void allow(struct machine *m, uint64_t gpa, uint64_t len)
{
	if (!len)
		return;
	fuzz_require(gpa < VFUZZ_RAM_BYTES && len <= VFUZZ_RAM_BYTES - gpa,
		     "a device reported a write outside guest RAM");
	memset(m->allowed + gpa, 1, len);
	for (uint64_t p = gpa / PAGE; p <= (gpa + len - 1) / PAGE; p++)
		m->page_marked[p] = 1;
}

static void on_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	allow(opaque, gpa, len);
}

/* The board sleeps on these; the harness polls at its own moments. */
static void on_notify(void *opaque)
{
	(void)opaque;
}

static void on_transmit(void *opaque, const uint8_t *frame, size_t len)
{
	struct machine *m = opaque;
	fuzz_require(len >= VIRTIO_NET_ETH_HLEN && len <= VIRTIO_NET_MAX_FRAME,
		     "virtio-net transmitted a frame of an impossible length");
	m->sink += frame[0] + frame[len - 1];
}

static void on_isa_irq(void *opaque, unsigned irq, int level)
{
	struct machine *m = opaque;
	m->sink += irq + (unsigned)level;
}

/* Waits until virtio-blk's I/O threads have served every request queued
 * for them; what they finished stays for virtio_blk_poll. */
static void blk_settle(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->queued || b->serving)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

/* What firmware does after a machine reset: each device's INTA routed,
 * its BAR 4 placed, memory decoding and bus mastering on, the PCI
 * configuration access window aimed nowhere, virtio-input's configuration
 * selecting nothing. */
static void firmware(struct machine *m)
{
	for (unsigned d = 0; d < VDEV_COUNT; d++) {
		struct virtio_pci *vp = transport(m, (enum vfuzz_dev)d);
		unsigned slot = VFUZZ_SLOT_BASE + d, devfn = slot << 3;
		unsigned pirq = pci_host_pirq(slot, PCI_PIN_INTA);
		pci_host_config_write(&m->pci, 0, PCI_ISA_BRIDGE_DEVFN, PCI_PIIX_PIRQ_ROUTE + pirq,
				      1, VFUZZ_IRQ_BASE + d);
		pci_host_config_write(&m->pci, 0, devfn, PCI_REG_BAR0 + 4 * VIRTIO_PCI_BAR, 4,
				      VFUZZ_BAR_BASE + d * VFUZZ_BAR_STRIDE);
		pci_host_config_write(&m->pci, 0, devfn, PCI_REG_COMMAND, 2,
				      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		for (unsigned reg = 4; reg < 16; reg += 4)
			pci_host_config_write(&m->pci, 0, devfn, vp->cfg_cap + reg, 4, 0);
	}
	uint64_t input_cfg = VFUZZ_BAR_BASE + VDEV_INPUT * VFUZZ_BAR_STRIDE + VIRTIO_PCI_DEVICE_OFFSET;
	bus_write(&m->bus, BUS_SPACE_MMIO, input_cfg + VIRTIO_INPUT_CFG_SELECT, 1, 0);
	bus_write(&m->bus, BUS_SPACE_MMIO, input_cfg + VIRTIO_INPUT_CFG_SUBSEL, 1, 0);
}

/* The image's bytes (each sector says which it is), in a temporary file
 * that goes once the device has it open: disk_image_open takes a path it
 * can resolve, which a memfd's is not. */
static void make_disk(struct machine *m, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	for (unsigned i = 0; i < DISK_BYTES; i++)
		m->disk_bytes[i] = (uint8_t)(i / VIRTIO_BLK_SECTOR_SIZE * 7 + i % VIRTIO_BLK_SECTOR_SIZE + 1);
	snprintf(path, len, "%s/btvm-fuzz-virtio-XXXXXX", dir && *dir ? dir : "/tmp");
	m->disk_fd = mkstemp(path);
	fuzz_require(m->disk_fd >= 0, "no temporary file for the disk image");
	fuzz_require(pwrite(m->disk_fd, m->disk_bytes, DISK_BYTES, 0) == (ssize_t)DISK_BYTES,
		     "cannot write the disk image");
}

static void machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	m->ram.memfd = -1;
	m->ram.size = m->ram.low_size = VFUZZ_RAM_BYTES;
	m->ram.devmem_gpa = GUEST_DEVMEM_UNMAPPED;
	m->ram.host = aligned_alloc(PAGE, VFUZZ_RAM_BYTES);
	m->allowed = calloc(VFUZZ_RAM_BYTES, 1);
	fuzz_require(m->ram.host && m->allowed, "no memory for guest RAM");
	memset(m->ram.host, 0, VFUZZ_RAM_BYTES);

	bus_init(&m->bus);
	pci_host_init(&m->pci);
	m->pci.set_isa_irq = on_isa_irq;
	m->pci.irq_opaque = m;

	char path[4096], err[256];
	make_disk(m, path, sizeof(path));
	int opened = virtio_blk_open(&m->blk, path, false, false, false, err, sizeof(err));
	unlink(path);
	if (opened != 0) {
		fprintf(stderr, "fuzz_virtio: %s\n", err);
		fuzz_require(false, "the disk image would not open");
	}
	/* No spinning I/O threads: the harness waits for them itself. */
	virtio_blk_set_poll_ns(&m->blk, 0);
	virtio_blk_set_serial(&m->blk, "fuzz-virtio");
	struct virtio_blk_host blk_host = {
		.notify = on_notify, .guest_written = on_guest_written, .opaque = m,
	};
	fuzz_require(virtio_blk_attach(&m->blk, (VFUZZ_SLOT_BASE + VDEV_BLK) << 3, &m->ram,
				       &m->bus, &blk_host) == 0,
		     "virtio-blk would not attach");
	struct virtio_net_host net_host = {
		.notify = on_notify, .guest_written = on_guest_written, .opaque = m,
	};
	struct virtio_net_backend backend = { .transmit = on_transmit, .opaque = m };
	fuzz_require(virtio_net_attach(&m->net, (VFUZZ_SLOT_BASE + VDEV_NET) << 3, fuzz_mac,
				       &m->ram, &m->bus, &net_host, &backend) == 0,
		     "virtio-net would not attach");
	struct virtio_input_host input_host = { .guest_written = on_guest_written, .opaque = m };
	fuzz_require(virtio_input_attach(&m->input, (VFUZZ_SLOT_BASE + VDEV_INPUT) << 3, &m->ram,
					 &m->bus, &input_host) == 0,
		     "virtio-input would not attach");
	m->server.fd = -1;
}

/* Whether virtio-9p and its server are as a new pair would be: the stream
 * alive with no message under way either way, no request outstanding (an
 * orphan's reply would still be dropped), no fid held. A pair that is can
 * serve the next input as it stands: a thread and a socket fewer. */
static bool p9_clean(struct machine *m)
{
	struct virtio_9p *d = &m->p9;
	const struct p9_server *sv = &m->server;
	int unread = 0, unsent = 0;
	if (!d->attached || atomic_load(&d->dead) || d->nreqs || d->nfids || d->fids_overflow ||
	    sv->hdr_got || sv->skip || sv->size_got)
		return false;
	pthread_mutex_lock(&d->lock);
	bool queued = d->out || d->in;
	pthread_mutex_unlock(&d->lock);
	return !queued && ioctl(d->fd, FIONREAD, &unread) == 0 && !unread &&
	       ioctl(sv->fd, FIONREAD, &unsent) == 0 && !unsent;
}

/* A new socket to virtio-9p (the old stream may be dead or mid-message),
 * the device attached to it afresh, every device plugged in again (the
 * re-attached one's INTx wired anew) and placed. */
static void p9_restart(struct machine *m)
{
	int sv[2];
	virtio_9p_close(&m->p9);
	if (m->server.fd >= 0)
		close(m->server.fd);
	memset(&m->server, 0, sizeof(m->server));
	fuzz_require(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
		     "no socketpair for virtio-9p");
	m->server.fd = sv[0];
	struct virtio_9p_host host = {
		.notify = on_notify, .guest_written = on_guest_written, .opaque = m,
	};
	fuzz_require(virtio_9p_attach(&m->p9, (VFUZZ_SLOT_BASE + VDEV_9P) << 3, "fuzz", "/export",
				      1000, sv[1], &m->ram, &m->bus, &host) == 0,
		     "virtio-9p would not attach");
	pci_host_init(&m->pci);
	m->pci.set_isa_irq = on_isa_irq;
	m->pci.irq_opaque = m;
	for (unsigned d = 0; d < VDEV_COUNT; d++)
		fuzz_require(pci_host_add(&m->pci, &transport(m, (enum vfuzz_dev)d)->pci) == 0,
			     "a virtio device would not plug in");
	firmware(m);
}

/* The board's machine reset, and what the firmware does after it. */
static void machine_reset(struct machine *m)
{
	blk_settle(&m->blk);
	virtio_blk_reset(&m->blk);
	virtio_net_reset(&m->net);
	virtio_input_reset(&m->input);
	virtio_9p_reset(&m->p9);
	pci_host_reset(&m->pci);
	firmware(m);
}

static void device_reset(struct machine *m, enum vfuzz_dev dev)
{
	switch (dev) {
	case VDEV_BLK:
		blk_settle(&m->blk);
		virtio_blk_reset(&m->blk);
		break;
	case VDEV_NET:
		virtio_net_reset(&m->net);
		break;
	case VDEV_INPUT:
		virtio_input_reset(&m->input);
		break;
	default:
		virtio_9p_reset(&m->p9);
		break;
	}
}

/* Back to where every input starts: the machine reset, RAM zeroed (the
 * pages the last input touched), the image as made. */
static void start_input(struct machine *m)
{
	machine_reset(m);
	if (!p9_clean(m))
		p9_restart(m);
	m->server.count = m->server.first = 0;
	for (unsigned p = 0; p < RAM_PAGES; p++) {
		if (!m->page_marked[p])
			continue;
		memset(m->ram.host + (uint64_t)p * PAGE, 0, PAGE);
		memset(m->allowed + (uint64_t)p * PAGE, 0, PAGE);
		m->page_marked[p] = 0;
	}
	memset(m->used_marked, 0, sizeof(m->used_marked));
	memset(m->size_marked, 0, sizeof(m->size_marked));
	fuzz_require(pwrite(m->disk_fd, m->disk_bytes, DISK_BYTES, 0) == (ssize_t)DISK_BYTES,
		     "cannot put the disk image back");
}

static void ram_write(struct machine *m, uint64_t gpa, unsigned len, uint64_t value)
{
	if (gpa >= VFUZZ_RAM_BYTES)
		return;
	if (len > VFUZZ_RAM_BYTES - gpa)
		len = (unsigned)(VFUZZ_RAM_BYTES - gpa);
	for (unsigned i = 0; i < len; i++)
		m->ram.host[gpa + i] = (uint8_t)(value >> (8 * i));
	allow(m, gpa, len);
}

static void bar_access(struct machine *m, enum vfuzz_dev dev, bool write, unsigned width,
		       uint64_t offset, uint64_t value)
{
	struct virtio_pci *vp = transport(m, dev);
	uint64_t base = vp->pci.bar[VIRTIO_PCI_BAR].mapped;
	/* A BAR the guest unmapped or moved: the access goes where the bus
	 * has it now (nowhere, for an unmapped one). */
	uint64_t addr = (base == PCI_BAR_UNMAPPED ? 0 : base) + offset % VIRTIO_PCI_BAR_SIZE;
	if (write)
		bus_write(&m->bus, BUS_SPACE_MMIO, addr, width, value);
	else
		m->sink += bus_read(&m->bus, BUS_SPACE_MMIO, addr, width);
}

static void config_access(struct machine *m, enum vfuzz_dev dev, bool write, unsigned width,
			  uint64_t offset, uint64_t value)
{
	unsigned devfn = (VFUZZ_SLOT_BASE + dev) << 3;
	unsigned reg = (unsigned)(offset % 256) & ~(width - 1);
	if (width > 4)
		width = 4;
	if (write)
		pci_host_config_write(&m->pci, 0, devfn, reg, width, (uint32_t)value);
	else
		m->sink += pci_host_config_read(&m->pci, 0, devfn, reg, width);
}

static void net_receive(struct machine *m, uint64_t offset, uint64_t value, bool poll)
{
	uint8_t frame[VFUZZ_RX_MAX];
	size_t len = (size_t)(offset % VFUZZ_RX_MAX);
	for (size_t i = 0; i < len; i++)
		frame[i] = (uint8_t)((value >> (8 * (i % 8))) + i / 8);
	m->sink += (uint64_t)virtio_net_receive(&m->net, frame, len);
	if (poll)
		virtio_net_poll(&m->net);
}

static void pointer(struct machine *m, uint64_t value)
{
	uint32_t x = (uint32_t)(value & 0xffff) % (VIRTIO_INPUT_ABS_MAX + 1);
	uint32_t y = (uint32_t)(value >> 16 & 0xffff) % (VIRTIO_INPUT_ABS_MAX + 1);
	int dz = (int8_t)(value >> 32);
	unsigned buttons = (unsigned)(value >> 40) & 7;
	virtio_input_pointer(&m->input, x, y, dz, buttons);
}

static void device_poll(struct machine *m, enum vfuzz_dev dev)
{
	switch (dev) {
	case VDEV_BLK:
		blk_settle(&m->blk);
		virtio_blk_poll(&m->blk);
		blk_settle(&m->blk);
		break;
	case VDEV_NET:
		virtio_net_poll(&m->net);
		break;
	case VDEV_INPUT:
		break;
	default:
		virtio_9p_poll(&m->p9);
		break;
	}
}

/* Reads what virtio-9p sent the server so far: each request's tag and type
 * go on the ring of those to answer (the oldest dropped when it is full). */
static void server_read(struct machine *m)
{
	struct p9_server *sv = &m->server;
	uint8_t buf[4096];
	ssize_t n;
	while ((n = recv(sv->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (size_t at = 0; at < (size_t)n;) {
			if (sv->skip) {
				size_t take = (size_t)n - at < sv->skip ? (size_t)n - at : (size_t)sv->skip;
				sv->skip -= take;
				at += take;
				continue;
			}
			sv->hdr[sv->hdr_got++] = buf[at++];
			if (sv->hdr_got < P9_HEADER_SIZE)
				continue;
			uint32_t size = (uint32_t)sv->hdr[0] | (uint32_t)sv->hdr[1] << 8 |
					(uint32_t)sv->hdr[2] << 16 | (uint32_t)sv->hdr[3] << 24;
			fuzz_require(size >= P9_HEADER_SIZE && size <= VIRTIO_9P_MSIZE_MAX,
				     "virtio-9p sent a request of an impossible size");
			sv->skip = size - P9_HEADER_SIZE;
			sv->hdr_got = 0;
			if (sv->count == P9_PENDING) {
				sv->first = (sv->first + 1) % P9_PENDING;
				sv->count--;
			}
			unsigned slot = (sv->first + sv->count++) % P9_PENDING;
			sv->tags[slot] = (uint16_t)(sv->hdr[5] | sv->hdr[6] << 8);
			sv->types[slot] = sv->hdr[4];
		}
	}
}

/* Follows the device's framing of the reply stream over bytes just sent:
 * how many replies they complete; *lost when a size field ends it. */
static unsigned replies_completed(struct p9_server *sv, const uint8_t *p, size_t len, bool *lost)
{
	unsigned done = 0;
	for (size_t at = 0; at < len && !*lost;) {
		if (sv->size_got < sizeof(sv->size_field)) {
			sv->size_field[sv->size_got++] = p[at++];
			if (sv->size_got < sizeof(sv->size_field))
				continue;
			uint32_t size = (uint32_t)sv->size_field[0] | (uint32_t)sv->size_field[1] << 8 |
					(uint32_t)sv->size_field[2] << 16 |
					(uint32_t)sv->size_field[3] << 24;
			if (size < P9_HEADER_SIZE || size > VIRTIO_9P_MSIZE_MAX)
				*lost = true;
			sv->reply_left = size - sizeof(sv->size_field);
		} else {
			size_t take = len - at < sv->reply_left ? len - at : (size_t)sv->reply_left;
			sv->reply_left -= take;
			at += take;
		}
		if (!*lost && sv->size_got == sizeof(sv->size_field) && !sv->reply_left) {
			done++;
			sv->size_got = 0;
		}
	}
	return done;
}

/* Waits until the device's I/O thread has read everything the server
 * sent and queued the replies that completed (want_ready), or found the
 * stream lost (want_dead); then the board's poll. */
static void p9_settle(struct machine *m, bool want_ready, bool want_dead)
{
	struct virtio_9p *d = &m->p9;
	uint64_t deadline = host_monotonic_ns() + P9_SETTLE_NS;
	while (host_monotonic_ns() < deadline) {
		int unread = 0;
		bool dead = atomic_load(&d->dead);
		if (dead || (!want_dead && ioctl(d->fd, FIONREAD, &unread) == 0 && unread == 0 &&
			     (!want_ready || atomic_load(&d->ready))))
			break;
		sched_yield();
	}
	virtio_9p_poll(d);
	server_read(m);
}

static void p9_reply(struct machine *m, bool oldest, uint64_t offset, uint64_t value)
{
	struct p9_server *sv = &m->server;
	uint8_t msg[P9_HEADER_SIZE + VFUZZ_9P_PAYLOAD_MAX];
	size_t len = 0;

	server_read(m);
	virtio_9p_poll(&m->p9);
	if (atomic_load(&m->p9.dead))
		return;
	if (offset & VFUZZ_9P_CLOSE) {
		shutdown(sv->fd, SHUT_RDWR);
		p9_settle(m, false, true);
		return;
	}
	size_t payload = (size_t)(offset % VFUZZ_9P_PAYLOAD_MAX);
	uint32_t size = (uint32_t)(P9_HEADER_SIZE + payload);
	uint8_t type = (uint8_t)value;
	uint16_t tag = (uint16_t)(value >> 8);
	if (oldest && sv->count) {
		tag = sv->tags[sv->first];
		if (!type)
			type = (uint8_t)(sv->types[sv->first] + 1);
		sv->first = (sv->first + 1) % P9_PENDING;
		sv->count--;
	}
	if (offset & VFUZZ_9P_RAW)
		size = (uint32_t)(value >> 32);
	for (unsigned i = 0; i < 4; i++)
		msg[len++] = (uint8_t)(size >> (8 * i));
	if (!(offset & VFUZZ_9P_RAW)) {
		msg[len++] = type;
		msg[len++] = (uint8_t)tag;
		msg[len++] = (uint8_t)(tag >> 8);
	}
	for (size_t i = 0; i < payload; i++)
		msg[len++] = (uint8_t)((value >> (24 + 8 * (i % 5))) + i / 5);
	ssize_t sent = send(sv->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent <= 0)
		return;
	bool lost = false;
	unsigned done = replies_completed(sv, msg, (size_t)sent, &lost);
	p9_settle(m, done > 0, lost);
}

/* A queue's used ring is the device's to write while it is enabled. */
static void allow_used_rings(struct machine *m, enum vfuzz_dev dev)
{
	struct virtio_pci *vp = transport(m, dev);
	for (unsigned q = 0; q < vp->p.num_queues && q < MAX_QUEUES; q++) {
		const struct virtq *vq = &vp->p.queues[q];
		if (!vq->used || (m->used_marked[dev][q] == vq->used_addr + 1 &&
				  m->size_marked[dev][q] == vq->size))
			continue;
		allow(m, vq->used_addr, virtq_used_ring_bytes(vq));
		m->used_marked[dev][q] = vq->used_addr + 1;
		m->size_marked[dev][q] = vq->size;
	}
}

/* Chains taken and not yet returned: none for a device that returns each
 * before the operation ends, at most its requests for virtio-blk. A broken
 * or reset queue says nothing. */
static void check_queues(struct machine *m, enum vfuzz_dev dev, unsigned in_flight_max)
{
	struct virtio_pci *vp = transport(m, dev);
	for (unsigned q = 0; q < vp->p.num_queues; q++) {
		const struct virtq *vq = &vp->p.queues[q];
		if (!vq->enabled || vq->error != VIRTQ_ERR_NONE)
			continue;
		uint16_t out = (uint16_t)(vq->last_avail - vq->used_idx);
		fuzz_require(out <= in_flight_max, "a device returned more chains than it took");
		fuzz_require(vq->published == vq->used_idx || dev == VDEV_BLK,
			     "a device returned chains without publishing them");
	}
}

static void check_machine(struct machine *m)
{
	for (unsigned d = 0; d < VDEV_COUNT; d++)
		allow_used_rings(m, (enum vfuzz_dev)d);
	check_queues(m, VDEV_BLK, VIRTIO_BLK_QUEUE_SIZE);
	check_queues(m, VDEV_NET, 0);
	check_queues(m, VDEV_INPUT, 0);
	check_queues(m, VDEV_9P, P9_OUTSTANDING);
}

/* Every byte of RAM that is not zero any more: written by the program,
 * reported by a device, or in a used ring. */
static void check_ram(struct machine *m)
{
	static const uint8_t zero[PAGE];
	for (unsigned p = 0; p < RAM_PAGES; p++) {
		const uint8_t *page = m->ram.host + (uint64_t)p * PAGE;
		if (!memcmp(page, zero, PAGE))
			continue;
		const uint8_t *ok = m->allowed + (uint64_t)p * PAGE;
		for (unsigned i = 0; i < PAGE; i++)
			if (page[i] && !ok[i]) {
				fprintf(stderr, "fuzz_virtio: guest RAM %#x changed unreported\n",
					p * PAGE + i);
				fuzz_require(false, "a device wrote guest RAM it did not report");
			}
		m->page_marked[p] = 1;
	}
}

static void run_record(struct machine *m, unsigned op, unsigned flags, uint64_t offset,
		       uint64_t value)
{
	bool flag = flags & VFUZZ_FLAG_SET;
	unsigned width = 1u << ((flags >> VFUZZ_WIDTH_SHIFT) & 3);
	enum vfuzz_dev dev = (enum vfuzz_dev)((flags >> VFUZZ_DEV_SHIFT & 3) % VDEV_COUNT);

	switch ((enum vfuzz_op)op) {
	case VOP_BAR:
		bar_access(m, dev, flag, width, offset, value);
		break;
	case VOP_CONFIG:
		config_access(m, dev, flag, width, offset, value);
		break;
	case VOP_RAM:
		ram_write(m, offset << 5 | flags >> 3, (flags & 7) + 1, value);
		break;
	case VOP_NET_RX:
		net_receive(m, offset, value, flag);
		break;
	case VOP_POLL:
		device_poll(m, dev);
		break;
	case VOP_POINTER:
		pointer(m, value);
		break;
	case VOP_RESET:
		if (flag)
			machine_reset(m);
		else
			device_reset(m, dev);
		break;
	case VOP_9P_REPLY:
		p9_reply(m, flag, offset, value);
		break;
	case VOP_COUNT:
		break;
	}
	/* A BAR access (a notify, DRIVER_OK) or a bus-master access may have
	 * given the I/O threads work: done before the program goes on; the
	 * requests virtio-9p sent read by the server. */
	blk_settle(&m->blk);
	server_read(m);
	check_machine(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine *m;
	if (!m) {
		m = calloc(1, sizeof(*m));
		fuzz_require(m != NULL, "no memory for the machine");
		machine_init(m);
	}
	start_input(m);
	struct fuzz_input in = { .data = data, .size = size };
	for (unsigned n = 0; fuzz_input_left(&in) && n < VFUZZ_MAX_RECORDS; n++) {
		unsigned op = (unsigned)(fuzz_take(&in, 1) % VOP_COUNT);
		unsigned flags = (unsigned)fuzz_take(&in, 1);
		uint64_t offset = fuzz_take(&in, 2);
		uint64_t value = fuzz_take(&in, 8);
		run_record(m, op, flags, offset, value);
	}
	/* What the board's next poll would bring, then the RAM check. */
	device_poll(m, VDEV_BLK);
	device_poll(m, VDEV_NET);
	device_poll(m, VDEV_9P);
	check_machine(m);
	check_ram(m);
	return 0;
}
