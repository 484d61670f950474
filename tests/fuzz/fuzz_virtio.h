/* The record format of fuzz_virtio.c's programs and the machine it builds
 * (where each device sits, how much guest RAM and disk there is), shared
 * with seeds_virtio.c, which writes programs in it. Each record is 12
 * bytes:
 *
 *   byte 0     the operation (enum vfuzz_op), modulo VOP_COUNT
 *   byte 1     flags: bit 0 write (or poll after, a machine reset, the
 *              oldest request's tag),
 *              bits 1-2 log2 of the width, bits 3-4 the device (modulo
 *              VDEV_COUNT); VOP_RAM uses them otherwise (see there)
 *   bytes 2-3  offset
 *   bytes 4-11 value
 *
 * Fields are little-endian; a short last record reads zeros past the
 * input's end. */
#ifndef BTVM_TESTS_FUZZ_FUZZ_VIRTIO_H
#define BTVM_TESTS_FUZZ_FUZZ_VIRTIO_H

#define VFUZZ_RECORD_BYTES 12u
#define VFUZZ_MAX_RECORDS 1024u
/* Guest RAM: VOP_RAM reaches every byte of it (16-bit offset, 5 bits of
 * flags). */
#define VFUZZ_RAM_BYTES (2u << 20)
#define VFUZZ_DISK_SECTORS 128u	/* 64 KiB */

enum vfuzz_op {
	VOP_BAR,	/* BAR 4 of the device, offset modulo its size, through the bus */
	VOP_CONFIG,	/* its PCI configuration space, offset modulo 256 (aligned down) */
	/* Bytes into guest RAM at offset << 5 | flags >> 3: flags & 7 plus one
	 * of them, from value's low byte up, cut at RAM's end. */
	VOP_RAM,
	/* A frame from the network backend, offset modulo VFUZZ_RX_MAX bytes
	 * long (short and long ones included), its bytes made from value;
	 * flag: virtio_net_poll after it. */
	VOP_NET_RX,
	/* The board's poll of the device: virtio-blk's completions (the I/O
	 * threads finished, virtio_blk_poll), virtio-net's backlog. */
	VOP_POLL,
	/* The host pointer for virtio-input: value bits 0-15 x, 16-31 y
	 * (modulo VIRTIO_INPUT_ABS_MAX + 1), 32-39 the wheel (signed), 40-42
	 * the buttons. */
	VOP_POINTER,
	/* flag clear: the device's reset (virtio_*_reset, as the board's);
	 * set: a machine reset, every device and the PCI host, the firmware's
	 * placement after it. */
	VOP_RESET,
	/* The 9P server's side of virtio-9p's socket: a reply of 7 + offset
	 * % VFUZZ_9P_PAYLOAD_MAX bytes, type value bits 0-7, tag bits 8-23,
	 * the payload made from bits 24-63. Flag: the tag (and, with type 0,
	 * the type) of the oldest request the server has not answered.
	 * Offset bit 15: the server closes its end instead; bit 14: a raw
	 * size field (value bits 32-63) and the payload, no header. */
	VOP_9P_REPLY,
	VOP_COUNT,
};

enum vfuzz_dev { VDEV_BLK, VDEV_NET, VDEV_INPUT, VDEV_9P, VDEV_COUNT };

#define VFUZZ_FLAG_SET 1u
#define VFUZZ_WIDTH_SHIFT 1u
#define VFUZZ_DEV_SHIFT 3u
#define VFUZZ_RX_MAX 1600u
#define VFUZZ_9P_PAYLOAD_MAX 8192u
#define VFUZZ_9P_CLOSE 0x8000u
#define VFUZZ_9P_RAW 0x4000u

/* Where the firmware puts each device: slot, INTA's ISA line, BAR 4. */
#define VFUZZ_SLOT_BASE 4u	/* the device's slot: VFUZZ_SLOT_BASE + dev */
#define VFUZZ_IRQ_BASE 9u	/* its IRQ: VFUZZ_IRQ_BASE + dev */
#define VFUZZ_BAR_BASE 0xfe000000u	/* its BAR 4: + dev * VFUZZ_BAR_STRIDE */
#define VFUZZ_BAR_STRIDE 0x10000u

#endif
