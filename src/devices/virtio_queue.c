/* Split virtqueue rings and descriptor chains, device side: see
 * virtio_queue.h. The host is x86-64, little-endian like virtio 1.x, so
 * ring fields are read and written as they lie in guest RAM. */
#include "devices/virtio_queue.h"
#include "host/snapfile.h"

#include <errno.h>
#include <string.h>

/* Ring layouts (virtio 1.x 2.7): the descriptor table is 16 bytes an
 * entry; the avail ring is flags, idx, ring[size], used_event; the used
 * ring is flags, idx, ring[size] of {id, len}, avail_event. */
#define AVAIL_IDX	2u
#define AVAIL_RING	4u
#define USED_IDX	2u
#define USED_RING	4u
#define USED_ELEM_SIZE	8u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct desc) == VIRTQ_DESC_SIZE, "descriptor layout");

static uint64_t desc_bytes(uint16_t size)
{
	return (uint64_t)VIRTQ_DESC_SIZE * size;
}

static uint64_t avail_bytes(uint16_t size)
{
	return AVAIL_RING + 2ull * size + 2;
}

static uint64_t used_bytes(uint16_t size)
{
	return USED_RING + (uint64_t)USED_ELEM_SIZE * size + 2;
}

/* The idx fields are shared with a guest that may run on another CPU one
 * day: read with acquire so the entries they cover are read after them,
 * published with release so the entries are seen before them. The rings'
 * alignment (checked in virtq_start) makes these naturally aligned. */
static uint16_t load_acquire16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
}

static void store16(uint8_t *p, uint16_t value, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, value, order);
}

void virtq_reset(struct virtq *vq)
{
	uint16_t max = vq->max_size;

	memset(vq, 0, sizeof(*vq));
	vq->max_size = max;
	vq->size = max;
}

void virtq_init(struct virtq *vq, uint16_t max_size)
{
	vq->max_size = max_size;
	virtq_reset(vq);
}

bool virtq_size_valid(const struct virtq *vq, uint32_t size)
{
	return size && !(size & (size - 1)) && size <= vq->max_size;
}

static int fail(struct virtq *vq, enum virtq_error error)
{
	if (vq->error == VIRTQ_ERR_NONE)
		vq->error = error;
	return -EIO;
}

int virtq_start(struct virtq *vq, const struct guest_ram *ram, bool event_idx, bool indirect)
{
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->desc = guest_ram_ptr(ram, vq->desc_addr, desc_bytes(vq->size));
	vq->avail = guest_ram_ptr(ram, vq->avail_addr, avail_bytes(vq->size));
	vq->used = guest_ram_ptr(ram, vq->used_addr, used_bytes(vq->size));
	vq->ram = ram;
	vq->enabled = true;
	if (!vq->desc || !vq->avail || !vq->used || vq->desc_addr % 16 || vq->avail_addr % 2 ||
	    vq->used_addr % 4) {
		vq->desc = vq->avail = vq->used = NULL;
		fail(vq, VIRTQ_ERR_RING);
		return -EFAULT;
	}
	return 0;
}

static void add_seg(struct virtq_chain *chain, struct virtq_seg *seg, unsigned cap,
		    uint8_t *ptr, uint32_t len, bool writable)
{
	struct virtq_seg s = { .ptr = ptr, .len = len, .writable = writable };

	if (writable)
		chain->writable += len;
	else
		chain->readable += len;
	if (chain->nseg < cap) {
		seg[chain->nseg++] = s;
	} else {
		seg[cap - 1] = s;
		chain->truncated = true;
	}
}

/* Follows the chain from head through the descriptor table and at most one
 * indirect table. walked counts descriptors in the current table: a chain
 * without a loop visits each entry at most once. */
static int walk_chain(struct virtq *vq, const struct guest_ram *ram, uint16_t head,
		      struct virtq_chain *chain, struct virtq_seg *seg, unsigned cap)
{
	const uint8_t *table = vq->desc;
	uint32_t entries = vq->size, i = head, walked = 0;
	bool in_indirect = false, seen_writable = false;

	*chain = (struct virtq_chain){ .head = head };
	if (head >= vq->size)
		return fail(vq, VIRTQ_ERR_HEAD);
	for (;;) {
		struct desc d;

		if (++walked > entries)
			return fail(vq, VIRTQ_ERR_LOOP);
		memcpy(&d, table + (uint64_t)VIRTQ_DESC_SIZE * i, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* The table replaces the rest of the chain: NEXT beside
			 * INDIRECT is forbidden to the driver, and so is an
			 * indirect descriptor inside a table. */
			if (!vq->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT) ||
			    d.len == 0 || d.len % VIRTQ_DESC_SIZE ||
			    d.len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE)
				return fail(vq, VIRTQ_ERR_INDIRECT);
			table = guest_ram_ptr(ram, d.addr, d.len);
			if (!table)
				return fail(vq, VIRTQ_ERR_INDIRECT);
			entries = d.len / VIRTQ_DESC_SIZE;
			in_indirect = true;
			i = 0;
			walked = 0;
			continue;
		}
		bool writable = d.flags & VIRTQ_DESC_F_WRITE;
		if (!writable && seen_writable)
			return fail(vq, VIRTQ_ERR_ORDER);
		seen_writable |= writable;
		if (d.len) {
			uint8_t *p = guest_ram_ptr(ram, d.addr, d.len);
			/* A buffer the device would write in the BIOS area
			 * while the PAM registers lock it: the chipset would
			 * drop the data, but the I/O threads write buffers
			 * directly, so the device refuses it instead. */
			if (!p || (writable && guest_ram_range_locked(ram, d.addr, d.len)))
				return fail(vq, VIRTQ_ERR_BUFFER);
			add_seg(chain, seg, cap, p, d.len, writable);
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		i = d.next;
		if (i >= entries)
			return fail(vq, VIRTQ_ERR_NEXT);
	}
}

/* avail_event: where the driver should notify next. The full fence orders
 * this store before the avail idx is read again, so that a buffer the
 * driver adds meanwhile is either seen or notified. */
/* The device wrote the used ring: RAM's write log must know. */
static void used_written(const struct virtq *vq)
{
	guest_ram_written(vq->ram, vq->used_addr, used_bytes(vq->size));
}

static void set_avail_event(struct virtq *vq, uint16_t value)
{
	store16(vq->used + USED_RING + USED_ELEM_SIZE * vq->size, value, __ATOMIC_RELAXED);
	used_written(vq);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int virtq_pop(struct virtq *vq, const struct guest_ram *ram, struct virtq_chain *chain,
	      struct virtq_seg *seg, unsigned cap)
{
	if (vq->error != VIRTQ_ERR_NONE)
		return -EIO;
	if (!vq->enabled || cap == 0)
		return 0;
	uint16_t pending = (uint16_t)(load_acquire16(vq->avail + AVAIL_IDX) - vq->last_avail);
	if (pending == 0 && vq->event_idx) {
		set_avail_event(vq, vq->last_avail);
		pending = (uint16_t)(load_acquire16(vq->avail + AVAIL_IDX) - vq->last_avail);
	}
	if (pending > vq->size)
		return fail(vq, VIRTQ_ERR_AVAIL_IDX);
	if (pending == 0)
		return 0;
	uint16_t head = load16(vq->avail + AVAIL_RING + 2u * (vq->last_avail % vq->size));
	vq->last_avail++;
	if (vq->event_idx) {
		store16(vq->used + USED_RING + USED_ELEM_SIZE * vq->size, vq->last_avail,
			__ATOMIC_RELAXED);
		used_written(vq);
	}
	return walk_chain(vq, ram, head, chain, seg, cap);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (!vq->used)
		return;
	uint8_t *elem = vq->used + USED_RING + USED_ELEM_SIZE * (vq->used_idx % vq->size);
	uint32_t id = head;

	memcpy(elem, &id, sizeof(id));
	memcpy(elem + 4, &len, sizeof(len));
	used_written(vq);
	vq->used_idx++;
}

/* vring_need_event: whether the driver's used_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_flush(struct virtq *vq)
{
	if (!vq->used || vq->used_idx == vq->published)
		return false;
	store16(vq->used + USED_IDX, vq->used_idx, __ATOMIC_RELEASE);
	used_written(vq);
	vq->published = vq->used_idx;
	/* The idx store before the read of the driver's suppression fields:
	 * otherwise a driver re-enabling interrupts after its last look at
	 * the used idx could miss this one. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t old = vq->signalled;
		bool valid = vq->signalled_valid;
		vq->signalled = vq->used_idx;
		vq->signalled_valid = true;
		uint16_t event = load16(vq->avail + AVAIL_RING + 2u * vq->size);
		return !valid || need_event(event, vq->used_idx, old);
	}
	return !(load16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

uint64_t virtq_used_ring_bytes(const struct virtq *vq)
{
	return used_bytes(vq->size);
}

const char *virtq_error_name(enum virtq_error error)
{
	switch (error) {
	case VIRTQ_ERR_NONE:
		return "none";
	case VIRTQ_ERR_RING:
		return "ring outside RAM or misaligned";
	case VIRTQ_ERR_AVAIL_IDX:
		return "avail index moved past the queue size";
	case VIRTQ_ERR_HEAD:
		return "avail entry past the descriptor table";
	case VIRTQ_ERR_NEXT:
		return "next index past the descriptor table";
	case VIRTQ_ERR_LOOP:
		return "descriptor loop";
	case VIRTQ_ERR_BUFFER:
		return "buffer outside RAM";
	case VIRTQ_ERR_INDIRECT:
		return "bad indirect table";
	case VIRTQ_ERR_ORDER:
		return "readable descriptor after a writable one";
	}
	return "unknown";
}

/* ---- Snapshots ---------------------------------------------------------- */

void virtq_save(const struct virtq *vq, struct snap_writer *w)
{
	snapw_u16(w, vq->size);
	snapw_bool(w, vq->enabled);
	snapw_u64(w, vq->desc_addr);
	snapw_u64(w, vq->avail_addr);
	snapw_u64(w, vq->used_addr);
	snapw_bool(w, vq->event_idx);
	snapw_bool(w, vq->indirect);
	snapw_u16(w, vq->last_avail);
	snapw_u16(w, vq->used_idx);
	snapw_u16(w, vq->published);
	snapw_u16(w, vq->signalled);
	snapw_bool(w, vq->signalled_valid);
	snapw_u8(w, (uint8_t)vq->error);
}

void virtq_load(struct virtq *vq, const struct guest_ram *ram, struct snap_reader *r)
{
	uint16_t size = snapr_u16(r);
	bool enabled = snapr_bool(r);
	uint64_t desc = snapr_u64(r), avail = snapr_u64(r), used = snapr_u64(r);
	bool event_idx = snapr_bool(r), indirect = snapr_bool(r);
	uint16_t last_avail = snapr_u16(r), used_idx = snapr_u16(r), published = snapr_u16(r);
	uint16_t signalled = snapr_u16(r);
	bool signalled_valid = snapr_bool(r);
	uint8_t error = snapr_u8(r);
	if (r->err)
		return;
	if (!virtq_size_valid(vq, size) || error > VIRTQ_ERR_ORDER) {
		snapr_fail(r, "queue size %u (at most %u) or error %u out of range", size,
			   vq->max_size, error);
		return;
	}
	virtq_reset(vq);
	vq->size = size;
	vq->desc_addr = desc;
	vq->avail_addr = avail;
	vq->used_addr = used;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	/* A ring outside RAM leaves the queue broken, as it was saved. */
	if (enabled)
		virtq_start(vq, ram, event_idx, indirect);
	vq->last_avail = last_avail;
	vq->used_idx = used_idx;
	vq->published = published;
	vq->signalled = signalled;
	vq->signalled_valid = signalled_valid;
	if (error != VIRTQ_ERR_NONE || vq->error == VIRTQ_ERR_NONE)
		vq->error = (enum virtq_error)error;
}
