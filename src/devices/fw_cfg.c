/* The firmware configuration device: items, the file directory, the port
 * pair and DMA into guest RAM. See fw_cfg.h for the interface the guest
 * sees and what is refused. */
#include "devices/fw_cfg.h"

#include <endian.h>
#include <errno.h>
#include <linux/qemu_fw_cfg.h>
#include <stdlib.h>
#include <string.h>

#include "host/snapfile.h"

#define FW_CFG_SNAP_VERSION 1u

_Static_assert(sizeof(struct fw_cfg_file) == 64, "a directory entry is 64 bytes");
_Static_assert(sizeof(struct fw_cfg_dma_access) == 16, "a DMA descriptor is 16 bytes");
_Static_assert(sizeof(((struct fw_cfg *)0)->file_names[0]) == FW_CFG_MAX_FILE_PATH,
	       "file names as long as the directory's");

static void blob_free(struct fw_cfg_blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static int blob_set(struct fw_cfg_blob *b, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return -EFBIG;
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	blob_free(b);
	b->data = copy;
	b->len = (uint32_t)len;
	return 0;
}

/* The item behind a key, the write-channel bit ignored (nothing is
 * writable, so a key selected for writing reads like the key itself);
 * NULL for a key with no item. */
static const struct fw_cfg_blob *item(const struct fw_cfg *fw, uint16_t key)
{
	uint16_t index = key & FW_CFG_ENTRY_MASK;
	if (key & FW_CFG_ARCH_LOCAL)
		return index < FW_CFG_ARCH_KEYS ? &fw->arch[index] : NULL;
	if (index < FW_CFG_LEGACY_KEYS)
		return &fw->legacy[index];
	index -= FW_CFG_FILE_FIRST;
	return index < fw->nfiles ? &fw->files[index] : NULL;
}

/* The directory, names in order: a count, then one entry a file, all
 * big-endian. */
static int write_directory(struct fw_cfg *fw)
{
	size_t len = 4 + (size_t)fw->nfiles * sizeof(struct fw_cfg_file);
	uint8_t *dir = calloc(1, len);
	if (!dir)
		return -ENOMEM;
	uint32_t count = htobe32(fw->nfiles);
	memcpy(dir, &count, 4);
	unsigned order[FW_CFG_MAX_FILES];
	for (unsigned i = 0; i < fw->nfiles; i++) {
		unsigned j = i;
		for (; j > 0 && strcmp(fw->file_names[order[j - 1]], fw->file_names[i]) > 0; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (unsigned i = 0; i < fw->nfiles; i++) {
		struct fw_cfg_file f = { 0 };
		unsigned n = order[i];
		f.size = htobe32(fw->files[n].len);
		f.select = htobe16((uint16_t)(FW_CFG_FILE_FIRST + n));
		memcpy(f.name, fw->file_names[n], sizeof(f.name));
		memcpy(dir + 4 + (size_t)i * sizeof(f), &f, sizeof(f));
	}
	struct fw_cfg_blob *d = &fw->legacy[FW_CFG_FILE_DIR];
	blob_free(d);
	d->data = dir;
	d->len = (uint32_t)len;
	return 0;
}

void fw_cfg_init(struct fw_cfg *fw, const struct guest_ram *ram,
		 void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len), void *opaque)
{
	memset(fw, 0, sizeof(*fw));
	fw->ram = ram;
	fw->guest_written = guest_written;
	fw->opaque = opaque;
	/* Small enough to live inline; the allocations cannot fail here
	 * without the process failing anyway, so a failure leaves the item
	 * empty and the firmware finds no fw_cfg. */
	(void)blob_set(&fw->legacy[FW_CFG_SIGNATURE], "QEMU", FW_CFG_SIG_SIZE);
	uint32_t id = htole32(FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	(void)blob_set(&fw->legacy[FW_CFG_ID], &id, sizeof(id));
	(void)write_directory(fw);
	fw_cfg_reset(fw);
}

int fw_cfg_set_item(struct fw_cfg *fw, uint16_t key, const void *data, size_t len)
{
	if (key & FW_CFG_WRITE_CHANNEL)
		return -EINVAL;
	if (key & FW_CFG_ARCH_LOCAL) {
		uint16_t index = key & FW_CFG_ENTRY_MASK;
		return index < FW_CFG_ARCH_KEYS ? blob_set(&fw->arch[index], data, len) : -EINVAL;
	}
	if (key >= FW_CFG_LEGACY_KEYS || key == FW_CFG_SIGNATURE || key == FW_CFG_ID ||
	    key == FW_CFG_FILE_DIR)
		return -EINVAL;
	return blob_set(&fw->legacy[key], data, len);
}

int fw_cfg_set_u16(struct fw_cfg *fw, uint16_t key, uint16_t value)
{
	uint16_t le = htole16(value);
	return fw_cfg_set_item(fw, key, &le, sizeof(le));
}

int fw_cfg_set_u32(struct fw_cfg *fw, uint16_t key, uint32_t value)
{
	uint32_t le = htole32(value);
	return fw_cfg_set_item(fw, key, &le, sizeof(le));
}

int fw_cfg_set_u64(struct fw_cfg *fw, uint16_t key, uint64_t value)
{
	uint64_t le = htole64(value);
	return fw_cfg_set_item(fw, key, &le, sizeof(le));
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len,
		    uint16_t *key)
{
	size_t name_len = name ? strnlen(name, FW_CFG_MAX_FILE_PATH) : 0;
	if (name_len == 0 || name_len >= FW_CFG_MAX_FILE_PATH)
		return -EINVAL;
	for (unsigned i = 0; i < fw->nfiles; i++)
		if (strcmp(fw->file_names[i], name) == 0)
			return -EEXIST;
	if (fw->nfiles == FW_CFG_MAX_FILES)
		return -ENOSPC;
	unsigned n = fw->nfiles;
	int ret = blob_set(&fw->files[n], data, len);
	if (ret)
		return ret;
	memcpy(fw->file_names[n], name, name_len + 1);
	fw->nfiles++;
	ret = write_directory(fw);
	if (ret) {
		fw->nfiles--;
		blob_free(&fw->files[n]);
		return ret;
	}
	if (key)
		*key = (uint16_t)(FW_CFG_FILE_FIRST + n);
	return 0;
}

static void select_key(struct fw_cfg *fw, uint16_t key)
{
	fw->selector = key;
	fw->offset = 0;
	fw->stats.selects++;
}

static uint8_t data_byte(struct fw_cfg *fw)
{
	const struct fw_cfg_blob *b = item(fw, fw->selector);
	fw->stats.data_reads++;
	if (!b || fw->offset >= b->len)
		return 0;
	return b->data[fw->offset++];
}

/* 0x510-0x511: a 16-bit write selects; any byte access is a data access
 * (QEMU's port pair decodes by width, not by address). */
static uint64_t fw_cfg_port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct fw_cfg *fw = opaque;
	(void)offset;
	if (width != 1)
		return 0;
	return data_byte(fw);
}

static void fw_cfg_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct fw_cfg *fw = opaque;
	if (width == 2 && offset == 0)
		select_key(fw, (uint16_t)value);
	/* Byte writes are data writes, which no item takes. */
}

static const struct bus_ops fw_cfg_port_ops = {
	.read = fw_cfg_port_read,
	.write = fw_cfg_port_write,
	.max_width = 2,
};

/* [gpa, gpa + len) of guest RAM to be written by the device, or NULL. */
static uint8_t *dma_target(const struct fw_cfg *fw, uint64_t gpa, uint64_t len)
{
	return fw->ram ? guest_ram_ptr(fw->ram, gpa, len) : NULL;
}

static void dma_wrote(struct fw_cfg *fw, uint64_t gpa, uint64_t len)
{
	if (!len)
		return;
	guest_ram_written(fw->ram, gpa, len);
	if (fw->guest_written)
		fw->guest_written(fw->opaque, gpa, len);
}

/* Zeros to [gpa, gpa + len) of RAM, the caller checked; through
 * guest_ram_dma_write, which drops what the PAM registers lock. */
static void dma_zero(const struct fw_cfg *fw, uint64_t gpa, uint64_t len)
{
	static const uint8_t zero[4096];
	for (uint64_t n; len; gpa += n, len -= n) {
		n = len < sizeof(zero) ? len : sizeof(zero);
		guest_ram_dma_write(fw->ram, gpa, zero, n);
	}
}

/* One transfer as the descriptor at gpa asks (fw_cfg.h); false on error. */
static bool dma_run(struct fw_cfg *fw, uint32_t control, uint32_t length, uint64_t address)
{
	if (control & FW_CFG_DMA_CTL_SELECT)
		select_key(fw, (uint16_t)(control >> 16));
	if (control & FW_CFG_DMA_CTL_WRITE)
		return false;
	bool read = control & FW_CFG_DMA_CTL_READ;
	if (!read && !(control & FW_CFG_DMA_CTL_SKIP))
		return true;	/* a select alone */
	const struct fw_cfg_blob *b = item(fw, fw->selector);
	uint32_t have = b && fw->offset < b->len ? b->len - fw->offset : 0;
	uint32_t from_item = length < have ? length : have;
	if (read) {
		if (!dma_target(fw, address, length))
			return false;
		if (from_item)
			guest_ram_dma_write(fw->ram, address, b->data + fw->offset, from_item);
		dma_zero(fw, address + from_item, length - from_item);
		dma_wrote(fw, address, length);
		fw->stats.bytes_dma += length;
	}
	fw->offset += from_item;
	return true;
}

static void dma_start(struct fw_cfg *fw, uint32_t low)
{
	uint64_t gpa = (uint64_t)fw->dma_high << 32 | low;
	fw->dma_high = 0;
	fw->stats.dma_transfers++;
	uint8_t *desc = dma_target(fw, gpa, sizeof(struct fw_cfg_dma_access));
	if (!desc) {
		fw->stats.dma_errors++;
		return;
	}
	struct fw_cfg_dma_access a;
	memcpy(&a, desc, sizeof(a));
	bool ok = dma_run(fw, be32toh(a.control), be32toh(a.length), be64toh(a.address));
	if (!ok)
		fw->stats.dma_errors++;
	uint32_t control = htobe32(ok ? 0 : FW_CFG_DMA_CTL_ERROR);
	/* The buffer may have covered the descriptor: write the field again
	 * where it is now. */
	guest_ram_dma_write(fw->ram, gpa + offsetof(struct fw_cfg_dma_access, control), &control,
			    sizeof(control));
	dma_wrote(fw, gpa + offsetof(struct fw_cfg_dma_access, control), sizeof(control));
}

/* 0x514-0x51b: the address register, big-endian in two halves; reads give
 * the signature, as many bytes of it as asked from the offset on. */
static uint64_t fw_cfg_dma_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	if (offset + width > 8)
		return 0;
	unsigned shift = (unsigned)(8 - offset - width) * 8;
	uint64_t mask = width == 8 ? UINT64_MAX : (1ull << (width * 8)) - 1;
	return (FW_CFG_DMA_SIGNATURE >> shift) & mask;
}

static void fw_cfg_dma_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct fw_cfg *fw = opaque;
	if (width != 4)
		return;
	/* The guest wrote the big-endian half as a little-endian port value. */
	uint32_t half = be32toh((uint32_t)value);
	if (offset == 0)
		fw->dma_high = half;
	else if (offset == 4)
		dma_start(fw, half);
}

static const struct bus_ops fw_cfg_dma_ops = {
	.read = fw_cfg_dma_read,
	.write = fw_cfg_dma_write,
	.max_width = 4,
};

int fw_cfg_attach(struct fw_cfg *fw, struct bus *bus)
{
	int ret = bus_register(bus, BUS_SPACE_PIO, "fw_cfg", FW_CFG_PORT_SELECTOR, 2,
			       &fw_cfg_port_ops, fw);
	if (!ret)
		ret = bus_register(bus, BUS_SPACE_PIO, "fw_cfg_dma", FW_CFG_PORT_DMA, 8,
				   &fw_cfg_dma_ops, fw);
	return ret;
}

void fw_cfg_reset(struct fw_cfg *fw)
{
	fw->selector = FW_CFG_INVALID;
	fw->offset = 0;
	fw->dma_high = 0;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	for (unsigned i = 0; i < FW_CFG_LEGACY_KEYS; i++)
		blob_free(&fw->legacy[i]);
	for (unsigned i = 0; i < FW_CFG_ARCH_KEYS; i++)
		blob_free(&fw->arch[i]);
	for (unsigned i = 0; i < fw->nfiles; i++)
		blob_free(&fw->files[i]);
	fw->nfiles = 0;
}

void fw_cfg_save(const struct fw_cfg *fw, struct snap_writer *w)
{
	snapw_begin(w, "FWCF", FW_CFG_SNAP_VERSION, false);
	snapw_u16(w, fw->selector);
	snapw_u32(w, fw->offset);
	snapw_u32(w, fw->dma_high);
	snapw_end(w);
}

int fw_cfg_load(struct fw_cfg *fw, struct snap_reader *r)
{
	if (r->version != FW_CFG_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  FW_CFG_SNAP_VERSION);
	fw->selector = snapr_u16(r);
	fw->offset = snapr_u32(r);
	fw->dma_high = snapr_u32(r);
	/* An offset past its item reads zeros, as it would have. */
	return snapr_end(r);
}
