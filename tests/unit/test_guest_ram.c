/* Guest RAM's layout (mmu/guest_ram.h): a guest physical address of RAM
 * to its memfd offset, low RAM 1:1 up to low_size, RAM from 4 GiB on at
 * low_size + (gpa - 4 GiB), the hole between and everything past the end
 * no RAM; memfd pages back to guest physical addresses, device memory
 * after RAM, and the write log indexed by memfd page. The high range is
 * laid out by hand here (guest_ram_init refuses it while the CPU paths'
 * physical addresses are 32-bit); nothing dereferences the host view. */
#include "check.h"
#include "mmu/guest_ram.h"

#include <errno.h>
#include <stdlib.h>

#define GIB (1ull << 30)
#define MIB (1ull << 20)

/* 3 GiB below 4 GiB, 1 GiB above, 16 MiB of device memory after. */
static struct guest_ram split_layout(void)
{
	return (struct guest_ram){ .memfd = -1, .size = 4 * GIB, .low_size = 3 * GIB,
				   .devmem_size = 16 * MIB, .devmem_gpa = 0xfd000000u };
}

static void test_offsets(void)
{
	struct guest_ram ram = split_layout();
	uint64_t off = 0;
	CHECK_EQ(guest_ram_high_size(&ram), GIB);
	CHECK(guest_ram_offset(&ram, 0, 1, &off) && off == 0);
	CHECK(guest_ram_offset(&ram, 3 * GIB - 4096, 4096, &off) && off == 3 * GIB - 4096);
	CHECK(!guest_ram_offset(&ram, 3 * GIB - 4096, 4097, &off));   /* into the hole */
	CHECK(!guest_ram_offset(&ram, 3 * GIB, 1, &off));
	CHECK(!guest_ram_offset(&ram, 4 * GIB - 1, 1, &off));
	CHECK(!guest_ram_offset(&ram, 4 * GIB - 1, 2, &off));         /* across 4 GiB */
	CHECK(guest_ram_offset(&ram, 4 * GIB, 1, &off) && off == 3 * GIB);
	CHECK(guest_ram_offset(&ram, 5 * GIB - 8, 8, &off) && off == 4 * GIB - 8);
	CHECK(!guest_ram_offset(&ram, 5 * GIB - 8, 9, &off));
	CHECK(!guest_ram_offset(&ram, 5 * GIB, 1, &off));
	CHECK(!guest_ram_offset(&ram, 4 * GIB + 8, UINT64_MAX, &off));   /* no wrap */
	CHECK(!guest_ram_offset(&ram, UINT64_MAX, 1, &off));
	CHECK(guest_ram_contains(&ram, 4 * GIB + 12345, 100));
	CHECK(!guest_ram_contains(&ram, 0xfee00000u, 4));

	CHECK_EQ(guest_ram_page(&ram, 4 * GIB + 0x5678), (3 * GIB) >> 12 | 5);
	CHECK_EQ(guest_ram_page(&ram, 3 * GIB + 0x5678), GUEST_RAM_NO_PAGE);
	CHECK_EQ(guest_ram_page(&ram, 0x1234), 1);

	uint32_t page = 0;
	CHECK(guest_mem_page(&ram, 4 * GIB + 0x2000, &page) && page == ((3 * GIB) >> 12) + 2);
	CHECK(guest_mem_page(&ram, 0xfd000000u + 0x3000, &page) && page == ((4 * GIB) >> 12) + 3);
	CHECK(!guest_mem_page(&ram, 3 * GIB + 0x2000, &page));
	CHECK_EQ(guest_mem_page_gpa(&ram, 7), 0x7000);
	CHECK_EQ(guest_mem_page_gpa(&ram, (uint32_t)((3 * GIB) >> 12) + 9), 4 * GIB + 0x9000);
	CHECK_EQ(guest_mem_page_gpa(&ram, (uint32_t)((4 * GIB) >> 12) + 1), 0xfd001000u);
	/* Every RAM page there and back. */
	for (uint64_t gpa = 0; gpa < 5 * GIB; gpa += 64 * MIB - 4096) {
		if (!guest_mem_page(&ram, gpa, &page)) {
			CHECK(gpa >= 3 * GIB && gpa < 4 * GIB);
			continue;
		}
		CHECK_EQ(guest_mem_page_gpa(&ram, page), gpa & ~4095ull);
	}
}

/* Without RAM above 4 GiB (what guest_ram_init makes up to 3 GiB) the
 * offset is the address and the hole is all past the end. */
static void test_low_only(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, 64, 4096), 0);
	CHECK_EQ(ram.low_size, 64 * MIB);
	CHECK_EQ(guest_ram_high_size(&ram), 0);
	CHECK(guest_ram_ptr(&ram, 64 * MIB - 4, 4) == ram.host + 64 * MIB - 4);
	CHECK(!guest_ram_ptr(&ram, 64 * MIB - 4, 5));
	CHECK(!guest_ram_ptr(&ram, 4 * GIB, 1));   /* no high range: nothing at 4 GiB */
	guest_ram_destroy(&ram);
	CHECK_EQ(guest_ram_init(&ram, GUEST_RAM_MAX_MIB + 1, 0), -EINVAL);
}

static void test_write_log(void)
{
	struct guest_ram ram = split_layout();
	uint8_t *log = calloc(ram.size >> 12, 1);
	CHECK(log != NULL);
	if (!log)
		return;
	ram.written = log;
	guest_ram_written(&ram, 4 * GIB + 0x1ffc, 8);     /* memfd pages low+1, low+2 */
	guest_ram_written(&ram, 3 * GIB - 4, 100);          /* clipped at the low range's end */
	guest_ram_written(&ram, 3 * GIB + 0x1000, 4096);    /* the hole: nothing */
	guest_ram_written(&ram, 5 * GIB - 4, 100);          /* clipped at RAM's end */
	uint32_t low = (uint32_t)((3 * GIB) >> 12);
	unsigned n = 0;
	for (uint64_t p = 0; p < ram.size >> 12; p++)
		n += log[p];
	CHECK_EQ(n, 4);
	CHECK(log[low + 1] && log[low + 2] && log[low - 1] && log[(ram.size >> 12) - 1]);
	free(log);
}

int main(void)
{
	test_offsets();
	test_low_only();
	test_write_log();
	return check_report("test_guest_ram");
}
