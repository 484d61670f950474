/* The firmware configuration device through the bus, as SeaBIOS drives it:
 * the signature and feature bits, items read byte by byte, the sorted file
 * directory, DMA reads, skips and selects into guest RAM, and every
 * refusal: bad keys and names, a full directory, DMA writes, descriptors
 * and buffers outside RAM (nothing written there, the error bit set where
 * the descriptor can take it). Also the registers through a snapshot. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <linux/qemu_fw_cfg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/fw_cfg.h"
#include "host/snapfile.h"

struct harness {
	struct bus bus;
	struct guest_ram ram;
	struct fw_cfg fw;
	uint64_t written_lo, written_hi;   /* the span guest_written reported */
	unsigned written_calls;
};

static void record_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	if (!h->written_calls || gpa < h->written_lo)
		h->written_lo = gpa;
	if (!h->written_calls || gpa + len > h->written_hi)
		h->written_hi = gpa + len;
	h->written_calls++;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	CHECK_EQ(guest_ram_init(&h->ram, 4, 0), 0);
	fw_cfg_init(&h->fw, &h->ram, record_written, h);
	CHECK_EQ(fw_cfg_attach(&h->fw, &h->bus), 0);
}

static void teardown(struct harness *h)
{
	fw_cfg_destroy(&h->fw);
	guest_ram_destroy(&h->ram);
}

static void select_key(struct harness *h, uint16_t key)
{
	bus_write(&h->bus, BUS_SPACE_PIO, FW_CFG_PORT_SELECTOR, 2, key);
}

static uint8_t data(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, FW_CFG_PORT_DATA, 1);
}

static void read_item(struct harness *h, uint16_t key, void *dst, size_t len)
{
	select_key(h, key);
	for (size_t i = 0; i < len; i++)
		((uint8_t *)dst)[i] = data(h);
}

static void test_signature_and_items(void)
{
	struct harness h;
	setup(&h);
	char sig[5] = { 0 };
	read_item(&h, FW_CFG_SIGNATURE, sig, 4);
	CHECK(strcmp(sig, "QEMU") == 0);
	/* Past the end: zeros. */
	CHECK_EQ(data(&h), 0);
	/* Selecting again starts over. */
	select_key(&h, FW_CFG_SIGNATURE);
	CHECK_EQ(data(&h), 'Q');
	/* A byte at the selector port is data too (QEMU's pair), and a byte
	 * write there selects nothing. */
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_SELECTOR, 1), 'E');
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_SELECTOR, 1, FW_CFG_ID);
	CHECK_EQ(data(&h), 'M');

	uint32_t id;
	read_item(&h, FW_CFG_ID, &id, 4);
	CHECK_EQ(le32toh(id), FW_CFG_VERSION | FW_CFG_VERSION_DMA);

	CHECK_EQ(fw_cfg_set_u64(&h.fw, FW_CFG_RAM_SIZE, 0x12345678abull), 0);
	CHECK_EQ(fw_cfg_set_u16(&h.fw, FW_CFG_NB_CPUS, 1), 0);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_ARCH_LOCAL | 3, 0xa1b2c3d4), 0);
	uint64_t ram;
	read_item(&h, FW_CFG_RAM_SIZE, &ram, 8);
	CHECK_EQ(le64toh(ram), 0x12345678abull);
	uint16_t cpus;
	read_item(&h, FW_CFG_NB_CPUS, &cpus, 2);
	CHECK_EQ(le16toh(cpus), 1);
	uint32_t arch;
	read_item(&h, FW_CFG_ARCH_LOCAL | 3, &arch, 4);
	CHECK_EQ(le32toh(arch), 0xa1b2c3d4);
	/* A key selected for writing reads as the key; data writes change
	 * nothing. */
	select_key(&h, FW_CFG_WRITE_CHANNEL | FW_CFG_NB_CPUS);
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DATA, 1, 0x77);
	read_item(&h, FW_CFG_NB_CPUS, &cpus, 2);
	CHECK_EQ(le16toh(cpus), 1);
	/* Keys with no item read zeros. */
	select_key(&h, FW_CFG_KERNEL_SIZE);
	CHECK_EQ(data(&h), 0);
	select_key(&h, 0x7fff);
	CHECK_EQ(data(&h), 0);
	select_key(&h, FW_CFG_ARCH_LOCAL | 0x100);
	CHECK_EQ(data(&h), 0);
	/* After a reset nothing is selected. */
	select_key(&h, FW_CFG_SIGNATURE);
	fw_cfg_reset(&h.fw);
	CHECK_EQ(data(&h), 0);

	/* The device's own keys and keys of no kind are refused. */
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_SIGNATURE, 1), -EINVAL);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_ID, 1), -EINVAL);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_FILE_DIR, 1), -EINVAL);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_FILE_FIRST, 1), -EINVAL);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_WRITE_CHANNEL | 3, 1), -EINVAL);
	CHECK_EQ(fw_cfg_set_u32(&h.fw, FW_CFG_ARCH_LOCAL | FW_CFG_ARCH_KEYS, 1), -EINVAL);
	teardown(&h);
}

static void test_files(void)
{
	struct harness h;
	setup(&h);
	uint32_t count;
	read_item(&h, FW_CFG_FILE_DIR, &count, 4);
	CHECK_EQ(be32toh(count), 0);

	static const char order[] = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";
	uint8_t e820[40];
	for (size_t i = 0; i < sizeof(e820); i++)
		e820[i] = (uint8_t)(i * 3 + 1);
	uint16_t k_zeta, k_boot, k_e820, k_empty;
	CHECK_EQ(fw_cfg_add_file(&h.fw, "etc/zeta", "z", 1, &k_zeta), 0);
	CHECK_EQ(fw_cfg_add_file(&h.fw, "bootorder", order, sizeof(order) - 1, &k_boot), 0);
	CHECK_EQ(fw_cfg_add_file(&h.fw, "etc/e820", e820, sizeof(e820), &k_e820), 0);
	CHECK_EQ(fw_cfg_add_file(&h.fw, "etc/empty", NULL, 0, &k_empty), 0);
	CHECK_EQ(k_zeta, FW_CFG_FILE_FIRST);
	CHECK(k_boot != k_zeta && k_e820 != k_boot && k_empty != k_e820);

	/* The directory: big-endian, sorted by name, each file's key. */
	struct {
		uint32_t count;
		struct fw_cfg_file f[4];
	} __attribute__((packed)) dir;
	read_item(&h, FW_CFG_FILE_DIR, &dir, sizeof(dir));
	CHECK_EQ(be32toh(dir.count), 4);
	CHECK(strcmp(dir.f[0].name, "bootorder") == 0);
	CHECK(strcmp(dir.f[1].name, "etc/e820") == 0);
	CHECK(strcmp(dir.f[2].name, "etc/empty") == 0);
	CHECK(strcmp(dir.f[3].name, "etc/zeta") == 0);
	CHECK_EQ(be16toh(dir.f[0].select), k_boot);
	CHECK_EQ(be16toh(dir.f[1].select), k_e820);
	CHECK_EQ(be16toh(dir.f[3].select), k_zeta);
	CHECK_EQ(be32toh(dir.f[0].size), sizeof(order) - 1);
	CHECK_EQ(be32toh(dir.f[1].size), sizeof(e820));
	CHECK_EQ(be32toh(dir.f[2].size), 0);

	uint8_t back[sizeof(e820) + 2];
	read_item(&h, k_e820, back, sizeof(back));
	CHECK(memcmp(back, e820, sizeof(e820)) == 0);
	CHECK_EQ(back[sizeof(e820)], 0);
	select_key(&h, k_empty);
	CHECK_EQ(data(&h), 0);

	/* Refusals. */
	CHECK_EQ(fw_cfg_add_file(&h.fw, "bootorder", "x", 1, NULL), -EEXIST);
	CHECK_EQ(fw_cfg_add_file(&h.fw, "", "x", 1, NULL), -EINVAL);
	CHECK_EQ(fw_cfg_add_file(&h.fw, NULL, "x", 1, NULL), -EINVAL);
	char name[FW_CFG_MAX_FILE_PATH + 1];
	memset(name, 'n', sizeof(name));
	name[FW_CFG_MAX_FILE_PATH] = 0;
	CHECK_EQ(fw_cfg_add_file(&h.fw, name, "x", 1, NULL), -EINVAL);
	name[FW_CFG_MAX_FILE_PATH - 1] = 0;   /* 55 bytes and the NUL: fits */
	CHECK_EQ(fw_cfg_add_file(&h.fw, name, "x", 1, NULL), 0);
	for (unsigned i = h.fw.nfiles; i < FW_CFG_MAX_FILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%u", i);
		CHECK_EQ(fw_cfg_add_file(&h.fw, n, &i, sizeof(i), NULL), 0);
	}
	CHECK_EQ(fw_cfg_add_file(&h.fw, "one-too-many", "x", 1, NULL), -ENOSPC);
	read_item(&h, FW_CFG_FILE_DIR, &count, 4);
	CHECK_EQ(be32toh(count), FW_CFG_MAX_FILES);
	teardown(&h);
}

/* A descriptor at gpa in guest RAM, then the two address writes. */
static void dma(struct harness *h, uint64_t gpa, uint32_t control, uint32_t length,
		uint64_t address)
{
	struct fw_cfg_dma_access a = { .control = htobe32(control), .length = htobe32(length),
				       .address = htobe64(address) };
	uint8_t *p = guest_ram_ptr(&h->ram, gpa, sizeof(a));
	if (p)
		memcpy(p, &a, sizeof(a));
	bus_write(&h->bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA, 4, htobe32((uint32_t)(gpa >> 32)));
	bus_write(&h->bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA + 4, 4, htobe32((uint32_t)gpa));
}

static uint32_t control_at(struct harness *h, uint64_t gpa)
{
	uint32_t c;
	memcpy(&c, h->ram.host + gpa, 4);
	return be32toh(c);
}

static void test_dma(void)
{
	struct harness h;
	setup(&h);
	uint8_t blob[300];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i ^ 0x5a);
	uint16_t key;
	CHECK_EQ(fw_cfg_add_file(&h.fw, "etc/blob", blob, sizeof(blob), &key), 0);

	/* The signature at the DMA port, as many bytes as asked. */
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA, 4), FW_CFG_DMA_SIGNATURE >> 32);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA + 4, 4),
		 FW_CFG_DMA_SIGNATURE & 0xffffffffu);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA, 1), 'Q');

	/* Select and read 100 bytes: control comes back 0. */
	const uint64_t desc = 0x1000, buf = 0x20000;
	memset(h.ram.host + buf, 0xee, 1024);
	dma(&h, desc, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 100, buf);
	CHECK_EQ(control_at(&h, desc), 0);
	CHECK(memcmp(h.ram.host + buf, blob, 100) == 0);
	CHECK_EQ(h.ram.host[buf + 100], 0xee);
	CHECK(h.written_calls >= 1);
	CHECK(h.written_lo <= buf && h.written_hi >= buf + 100);
	/* Skip 50, then read past the end: the rest of the item, then zeros. */
	dma(&h, desc, FW_CFG_DMA_CTL_SKIP, 50, 0);
	CHECK_EQ(control_at(&h, desc), 0);
	dma(&h, desc, FW_CFG_DMA_CTL_READ, 400, buf);
	CHECK_EQ(control_at(&h, desc), 0);
	CHECK(memcmp(h.ram.host + buf, blob + 150, 150) == 0);
	bool zeros = true;
	for (unsigned i = 150; i < 400; i++)
		zeros &= h.ram.host[buf + i] == 0;
	CHECK(zeros);
	CHECK_EQ(h.ram.host[buf + 400], 0xee);
	/* The port interface carries on from where DMA left the offset. */
	CHECK_EQ(data(&h), 0);
	dma(&h, desc, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT, 0, 0);
	CHECK_EQ(control_at(&h, desc), 0);
	CHECK_EQ(data(&h), blob[0]);

	/* A buffer that covers its own descriptor: control still ends 0. */
	dma(&h, desc, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 16, desc);
	CHECK_EQ(control_at(&h, desc), 0);

	/* Writes are refused with the error bit, and write nothing. */
	uint64_t stats_errors = h.fw.stats.dma_errors;
	memset(h.ram.host + buf, 0xee, 1024);
	dma(&h, desc, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 8, buf);
	CHECK_EQ(control_at(&h, desc), FW_CFG_DMA_CTL_ERROR);
	read_item(&h, key, h.ram.host + buf + 512, 8);
	CHECK(memcmp(h.ram.host + buf + 512, blob, 8) == 0);
	CHECK_EQ(h.fw.stats.dma_errors, stats_errors + 1);

	/* Buffers outside RAM: past its end, straddling it, at 2^64 - 1, the
	 * longest length. Nothing written, the error bit set. */
	const uint64_t end = h.ram.size;
	static const struct { uint64_t address; uint32_t length; } bad[] = {
		{ 0x100000000ull, 16 }, { 0, 0 }, { UINT64_MAX, 2 }, { 0x1000, UINT32_MAX },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t address = i == 1 ? end - 8 : bad[i].address;
		uint32_t length = i == 1 ? 16 : bad[i].length;
		memset(h.ram.host + end - 64, 0xcc, 64);
		dma(&h, desc, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, length,
		    address);
		CHECK_EQ(control_at(&h, desc), FW_CFG_DMA_CTL_ERROR);
		CHECK_EQ(h.ram.host[end - 1], 0xcc);
		CHECK_EQ(h.ram.host[end - 8], 0xcc);
	}
	/* A descriptor outside RAM (or straddling its end): nothing at all is
	 * written, the transfer counts as an error. */
	stats_errors = h.fw.stats.dma_errors;
	unsigned calls = h.written_calls;
	dma(&h, 0x200000000ull, FW_CFG_DMA_CTL_READ, 4, buf);
	dma(&h, end - 8, FW_CFG_DMA_CTL_READ, 4, buf);
	CHECK_EQ(h.fw.stats.dma_errors, stats_errors + 2);
	CHECK_EQ(h.written_calls, calls);
	CHECK_EQ(h.ram.host[end - 1], 0xcc);
	/* Half an address and other widths start nothing. */
	uint64_t transfers = h.fw.stats.dma_transfers;
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA, 4, 0);
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA + 4, 2, 0);
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA + 4, 1, 0);
	CHECK_EQ(h.fw.stats.dma_transfers, transfers);
	teardown(&h);
}

static void test_snapshot(void)
{
	struct harness h;
	setup(&h);
	uint16_t key;
	CHECK_EQ(fw_cfg_add_file(&h.fw, "etc/x", "abcdef", 6, &key), 0);
	select_key(&h, key);
	CHECK_EQ(data(&h), 'a');
	CHECK_EQ(data(&h), 'b');
	bus_write(&h.bus, BUS_SPACE_PIO, FW_CFG_PORT_DMA, 4, htobe32(0x12));

	int fd = memfd_create("fw_cfg.snap", 0);
	CHECK(fd >= 0);
	struct snap_writer w;
	CHECK_EQ(snapw_open_fd(&w, fd, "fw_cfg.snap", 1), 0);
	fw_cfg_save(&h.fw, &w);
	CHECK_EQ(snapw_close(&w), 0);

	fw_cfg_reset(&h.fw);
	CHECK_EQ(data(&h), 0);
	struct snap_reader r;
	CHECK_EQ(snapr_open_fd(&r, fd, "fw_cfg.snap"), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(strcmp(r.tag, "FWCF") == 0);
	CHECK_EQ(fw_cfg_load(&h.fw, &r), 0);
	snapr_close(&r);
	CHECK_EQ(data(&h), 'c');
	CHECK_EQ(h.fw.dma_high, 0x12);
	close(fd);
	teardown(&h);
}

int main(void)
{
	test_signature_and_items();
	test_files();
	test_dma();
	test_snapshot();
	return check_report("test_fw_cfg");
}
