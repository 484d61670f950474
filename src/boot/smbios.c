/* SMBIOS 2.8 entry point and structure table builder (see smbios.h).
 * Structure layouts are those of DSP0134 version 2.8, section 7; every
 * multi-byte field is little-endian. Each structure is its formatted
 * area followed by its strings, each NUL-terminated, and one more NUL
 * (two when there are none). Handles are the type times 0x100, as
 * SeaBIOS numbers them. */
#include "boot/smbios.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "boot/table_bytes.h"

#define SMBIOS_MAJOR 2u
#define SMBIOS_MINOR 8u
#define SMBIOS_BCD_REVISION 0x28u

/* Formatted-area lengths of the 2.8 structures. */
#define TYPE0_LEN 0x18u
#define TYPE1_LEN 0x1bu
#define TYPE3_LEN 0x16u
#define TYPE4_LEN 0x2au
#define TYPE16_LEN 0x17u
#define TYPE17_LEN 0x28u
#define TYPE19_LEN 0x1fu
#define TYPE32_LEN 0x0bu
#define TYPE127_LEN 0x04u

#define HANDLE_NONE 0xffffu     /* "not provided": no cache structures */
#define HANDLE_NO_ERROR 0xfffeu /* no error information structure */

#define GIB4 0x100000000ull
/* Type 19's 32-bit fields count KiB up to this; beyond, the extended
 * 64-bit byte addresses hold the range. */
#define KIB_FIELD_MAX 0xfffffffeull
/* Type 17's size field: MiB below 32 GiB - 1 MiB, else the extended one. */
#define SIZE_FIELD_MAX_MIB 0x7fffu

#define BIOS_VENDOR "btvm"
#define BIOS_VERSION "btvm"
/* SeaBIOS's date (mm/dd/yyyy). Linux keys quirks to the BIOS's year
 * (from 2023 on, say, it ignores E820 reservations for host bridge
 * windows): this one takes the paths Linux takes under QEMU, and those a
 * direct boot took while it had no DMI at all (an unknown year is old). */
#define BIOS_DATE "04/01/2014"
#define BIOS_SEGMENT 0xe800u    /* as SeaBIOS: its 96 KiB image's start */
/* Characteristics: bit 3, "not supported" (no BIOS services to list);
 * extension byte 2: bit 4, the table describes a virtual machine. */
#define BIOS_CHARACTERISTICS 0x08u
#define BIOS_CHARACTERISTICS_EXT2 0x10u
#define SYSTEM_VENDOR "btvm"
#define SYSTEM_PRODUCT "Standard PC (i440FX + PIIX, 1996)"
#define WAKE_POWER_SWITCH 6u
#define CHASSIS_OTHER 1u
#define STATE_SAFE 3u
#define SECURITY_UNKNOWN 2u
#define CPU_CENTRAL 3u
/* Processor family "Intel Core i7" (DSP0134, table 23). */
#define CPU_FAMILY_CORE_I7 0xc6u
#define CPU_POPULATED_ENABLED 0x41u
#define CPU_UPGRADE_OTHER 1u
#define MEM_ON_BOARD 3u
#define MEM_USE_SYSTEM 3u
#define MEM_ECC_NONE 3u
#define MEM_FORM_DIMM 9u
#define MEM_TYPE_RAM 7u
#define MEM_DETAIL_OTHER 2u

struct smbios_writer {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
	uint16_t count;          /* structures written */
	uint16_t max_size;       /* the largest, strings included */
	size_t start;            /* of the structure being written */
	uint8_t strings;         /* its strings so far */
};

static void put_byte(struct smbios_writer *w, uint8_t b)
{
	if (w->len < w->cap)
		w->buf[w->len] = b;
	else
		w->overflow = true;
	w->len++;
}

/* Opens a structure: its header, then a zeroed formatted area of len
 * bytes that the caller fills through field(). */
static void begin(struct smbios_writer *w, uint8_t type, uint8_t len, uint16_t handle)
{
	w->start = w->len;
	w->strings = 0;
	put_byte(w, type);
	put_byte(w, len);
	put_byte(w, (uint8_t)handle);
	put_byte(w, (uint8_t)(handle >> 8));
	for (unsigned i = 4; i < len; i++)
		put_byte(w, 0);
}

/* The formatted area's byte at off (begin() wrote the whole area), or
 * NULL once the buffer overflowed. */
static uint8_t *field(struct smbios_writer *w, uint32_t off)
{
	return w->overflow ? NULL : w->buf + w->start + off;
}

static void set8(struct smbios_writer *w, uint32_t off, uint8_t v)
{
	uint8_t *p = field(w, off);
	if (p)
		*p = v;
}

static void set16(struct smbios_writer *w, uint32_t off, uint16_t v)
{
	uint8_t *p = field(w, off);
	if (p)
		put16(p, 0, v);
}

static void set32(struct smbios_writer *w, uint32_t off, uint32_t v)
{
	uint8_t *p = field(w, off);
	if (p)
		put32(p, 0, v);
}

static void set64(struct smbios_writer *w, uint32_t off, uint64_t v)
{
	set32(w, off, (uint32_t)v);
	set32(w, off + 4, (uint32_t)(v >> 32));
}

/* Appends a string to the structure's set and stores its number at off
 * (an empty or absent string is number 0, "none"). */
static void set_string(struct smbios_writer *w, uint32_t off, const char *s)
{
	if (!s || !*s)
		return;
	set8(w, off, ++w->strings);
	for (; *s; s++)
		put_byte(w, (uint8_t)*s);
	put_byte(w, 0);
}

static void end(struct smbios_writer *w)
{
	if (!w->strings)
		put_byte(w, 0);
	put_byte(w, 0);
	size_t size = w->len - w->start;
	if (size > w->max_size)
		w->max_size = (uint16_t)size;
	w->count++;
}

static void bios_information(struct smbios_writer *w)
{
	begin(w, 0, TYPE0_LEN, 0x0000);
	set16(w, 0x06, BIOS_SEGMENT);
	set8(w, 0x09, 0);       /* ROM size: 64 KiB * (n + 1) */
	set64(w, 0x0a, BIOS_CHARACTERISTICS);
	set8(w, 0x13, BIOS_CHARACTERISTICS_EXT2);
	set8(w, 0x16, 0xff);    /* no embedded controller firmware */
	set8(w, 0x17, 0xff);
	set_string(w, 0x04, BIOS_VENDOR);
	set_string(w, 0x05, BIOS_VERSION);
	set_string(w, 0x08, BIOS_DATE);
	end(w);
}

/* UUID all zeros: present but not set (all ones would say absent). */
static void system_information(struct smbios_writer *w)
{
	begin(w, 1, TYPE1_LEN, 0x0100);
	set8(w, 0x18, WAKE_POWER_SWITCH);
	set_string(w, 0x04, SYSTEM_VENDOR);
	set_string(w, 0x05, SYSTEM_PRODUCT);
	end(w);
}

static void chassis(struct smbios_writer *w)
{
	begin(w, 3, TYPE3_LEN, 0x0300);
	set8(w, 0x05, CHASSIS_OTHER);
	set8(w, 0x09, STATE_SAFE);      /* boot-up */
	set8(w, 0x0a, STATE_SAFE);      /* power supply */
	set8(w, 0x0b, STATE_SAFE);      /* thermal */
	set8(w, 0x0c, SECURITY_UNKNOWN);
	set_string(w, 0x04, SYSTEM_VENDOR);
	end(w);
}

/* One socket, one core, one thread, as CPUID leaves 4 and 0xB say. The
 * ID is leaf 1's EAX and EDX; no L1-L3 structures (handles 0xFFFF); not
 * 64-bit capable (characteristics 0: the model has no long mode). */
static void processor(struct smbios_writer *w, const struct smbios_config *cfg)
{
	begin(w, 4, TYPE4_LEN, 0x0400);
	set8(w, 0x05, CPU_CENTRAL);
	set8(w, 0x06, CPU_FAMILY_CORE_I7);
	set32(w, 0x08, cfg->cpu_signature);
	set32(w, 0x0c, cfg->cpu_features);
	uint16_t mhz = cfg->cpu_mhz <= UINT16_MAX ? (uint16_t)cfg->cpu_mhz : 0;
	set16(w, 0x14, mhz);    /* maximum speed */
	set16(w, 0x16, mhz);    /* current speed */
	set8(w, 0x18, CPU_POPULATED_ENABLED);
	set8(w, 0x19, CPU_UPGRADE_OTHER);
	set16(w, 0x1a, HANDLE_NONE);
	set16(w, 0x1c, HANDLE_NONE);
	set16(w, 0x1e, HANDLE_NONE);
	set8(w, 0x23, 1);       /* cores */
	set8(w, 0x24, 1);       /* enabled */
	set8(w, 0x25, 1);       /* threads */
	set16(w, 0x28, CPU_FAMILY_CORE_I7);
	set_string(w, 0x04, "CPU 0");
	set_string(w, 0x07, cfg->cpu_vendor);
	set_string(w, 0x10, cfg->cpu_brand);
	end(w);
}

static void memory_array(struct smbios_writer *w, uint64_t ram)
{
	uint64_t kib = ram >> 10;
	begin(w, 16, TYPE16_LEN, 0x1000);
	set8(w, 0x04, MEM_ON_BOARD);
	set8(w, 0x05, MEM_USE_SYSTEM);
	set8(w, 0x06, MEM_ECC_NONE);
	if (kib < 0x80000000ull) {
		set32(w, 0x07, (uint32_t)kib);
	} else {
		set32(w, 0x07, 0x80000000u);   /* see the extended capacity */
		set64(w, 0x0f, ram);
	}
	set16(w, 0x0b, HANDLE_NO_ERROR);
	set16(w, 0x0d, 1);      /* devices */
	end(w);
}

static void memory_device(struct smbios_writer *w, uint64_t ram)
{
	uint64_t mib = ram >> 20;
	begin(w, 17, TYPE17_LEN, 0x1100);
	set16(w, 0x04, 0x1000);         /* the array */
	set16(w, 0x06, HANDLE_NO_ERROR);
	set16(w, 0x08, 0xffff);         /* total width unknown */
	set16(w, 0x0a, 0xffff);         /* data width unknown */
	if (mib < SIZE_FIELD_MAX_MIB) {
		set16(w, 0x0c, (uint16_t)mib);
	} else {
		set16(w, 0x0c, SIZE_FIELD_MAX_MIB);
		set32(w, 0x1c, (uint32_t)mib);
	}
	set8(w, 0x0e, MEM_FORM_DIMM);
	set8(w, 0x12, MEM_TYPE_RAM);
	set16(w, 0x13, MEM_DETAIL_OTHER);
	set_string(w, 0x10, "DIMM 0");
	set_string(w, 0x17, SYSTEM_VENDOR);
	end(w);
}

/* A range of RAM, start and length in bytes: KiB fields below 4 TiB,
 * else the extended byte addresses (the KiB fields then all ones). */
static void mapped_range(struct smbios_writer *w, uint16_t handle, uint64_t start, uint64_t len)
{
	uint64_t last = start + len - 1;
	begin(w, 19, TYPE19_LEN, handle);
	if (last >> 10 <= KIB_FIELD_MAX) {
		set32(w, 0x04, (uint32_t)(start >> 10));
		set32(w, 0x08, (uint32_t)(last >> 10));
	} else {
		set32(w, 0x04, 0xffffffffu);
		set32(w, 0x08, 0xffffffffu);
		set64(w, 0x0f, start);
		set64(w, 0x17, last);
	}
	set16(w, 0x0c, 0x1000);         /* the array */
	set8(w, 0x0e, 1);               /* partition width: one device */
	end(w);
}

static void boot_status(struct smbios_writer *w)
{
	begin(w, 32, TYPE32_LEN, 0x2000);
	set8(w, 0x0a, 0);       /* no errors detected */
	end(w);
}

int smbios_build(uint8_t *buf, size_t cap, uint32_t phys_base, const struct smbios_config *cfg)
{
	if (phys_base & 15 || !cfg->ram_low)
		return -EINVAL;
	if (cap < SMBIOS_TABLE_OFFSET)
		return -ENOSPC;
	memset(buf, 0, SMBIOS_TABLE_OFFSET);
	struct smbios_writer w = { .buf = buf, .cap = cap, .len = SMBIOS_TABLE_OFFSET };
	uint64_t ram = cfg->ram_low + cfg->ram_high;

	bios_information(&w);
	system_information(&w);
	chassis(&w);
	processor(&w, cfg);
	memory_array(&w, ram);
	memory_device(&w, ram);
	mapped_range(&w, 0x1300, 0, cfg->ram_low);
	if (cfg->ram_high)
		mapped_range(&w, 0x1301, GIB4, cfg->ram_high);
	boot_status(&w);
	begin(&w, 127, TYPE127_LEN, 0x7f00);
	end(&w);
	if (w.overflow)
		return -ENOSPC;
	size_t table_len = w.len - SMBIOS_TABLE_OFFSET;
	if (table_len > UINT16_MAX)
		return -ENOSPC;

	/* The entry point: the anchor, its own length and checksum, the
	 * version, the largest structure; then the intermediate "_DMI_"
	 * part with the table's length, address and count, checksummed
	 * over its 15 bytes; the outer checksum over all 31. */
	memcpy(buf, "_SM_", 4);
	buf[0x05] = SMBIOS_ENTRY_LEN;
	buf[0x06] = SMBIOS_MAJOR;
	buf[0x07] = SMBIOS_MINOR;
	put16(buf, 0x08, w.max_size);
	memcpy(buf + 0x10, "_DMI_", 5);
	put16(buf, 0x16, (uint16_t)table_len);
	put32(buf, 0x18, phys_base + SMBIOS_TABLE_OFFSET);
	put16(buf, 0x1c, w.count);
	buf[0x1e] = SMBIOS_BCD_REVISION;
	buf[0x15] = checksum(buf + 0x10, 15);
	buf[0x04] = checksum(buf, SMBIOS_ENTRY_LEN);
	return (int)w.len;
}
