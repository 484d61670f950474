/* Writes the fuzzers' seed corpus, built by hand here instead of checked in
 * as binaries: OUTDIR/bzimage/ (small valid bzImages at protocol 2.06,
 * 2.10 and 2.15), OUTDIR/multiboot/ (small Multiboot ELF kernels: one
 * segment, two with a bss and a note, a higher-half one, and the one-segment
 * ones again with e_phnum = PN_XNUM), OUTDIR/devices/
 * (for each device, the programming a guest driver does, in
 * fuzz_devices.c's record format, and all of them in one) and
 * OUTDIR/translator/ (real instruction sequences, one family each, in
 * fuzz_translator.c's format: a placement and an environment byte, the
 * block length, the code), OUTDIR/virtio/ (seeds_virtio.c) and
 * OUTDIR/storage/ (seeds_storage.c). A few dozen KiB in all.
 * Usage: fuzz_seeds OUTDIR */
#define _POSIX_C_SOURCE 200809L
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seeds.h"

#define MAX_SEED 4096u

struct seed {
	uint8_t data[MAX_SEED];
	size_t size;
};

static const char *outdir;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void write_seed(const char *target, const char *name, const struct seed *s)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->data, 1, s->size, f) != s->size || fclose(f) != 0) {
		fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
		exit(1);
	}
}

/* A bzImage with one setup sector and a 64-byte protected-mode part,
 * small enough for the fuzzers' 8 MiB of RAM. */
static void bzimage(const char *name, uint16_t version)
{
	struct seed s = { .size = 2 * 512 + 64 };
	uint8_t *d = s.data;
	d[0x1f1] = 1;                 /* setup_sects */
	put16(d + 0x1fe, 0xaa55);     /* boot_flag */
	d[0x200] = 0xeb;              /* jmp to the end of the header */
	d[0x201] = version >= 0x020a ? 0x6a : 0x3a;
	memcpy(d + 0x202, "HdrS", 4);
	put16(d + 0x206, version);
	d[0x211] = 0x01;              /* loadflags: LOADED_HIGH */
	put32(d + 0x214, 0x100000);   /* code32_start */
	put32(d + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(d + 0x238, 255);        /* cmdline_size */
	if (version >= 0x020a) {
		put32(d + 0x258, 0x100000);   /* pref_address */
		put32(d + 0x260, 0x200000);   /* init_size */
	}
	for (unsigned i = 0; i < 64; i++)
		d[1024 + i] = (uint8_t)(0x90 + i);
	write_seed("bzimage", name, &s);
}

struct segment_spec {
	uint32_t type, offset, vaddr, paddr, filesz, memsz;
};

/* An ELF32 executable: the header, the program headers right after it,
 * the Multiboot header at header_at, entry as given, size bytes in all. */
static void multiboot(const char *name, const struct segment_spec *segs, unsigned nseg,
		      uint32_t entry, uint32_t header_at, size_t size)
{
	static struct seed s;
	memset(&s, 0, sizeof(s));
	s.size = size;
	uint8_t *d = s.data;
	memcpy(d, ELFMAG, SELFMAG);
	d[EI_CLASS] = ELFCLASS32;
	d[EI_DATA] = ELFDATA2LSB;
	d[EI_VERSION] = EV_CURRENT;
	put16(d + offsetof(Elf32_Ehdr, e_type), ET_EXEC);
	put16(d + offsetof(Elf32_Ehdr, e_machine), EM_386);
	put32(d + offsetof(Elf32_Ehdr, e_version), EV_CURRENT);
	put32(d + offsetof(Elf32_Ehdr, e_entry), entry);
	put32(d + offsetof(Elf32_Ehdr, e_phoff), sizeof(Elf32_Ehdr));
	put16(d + offsetof(Elf32_Ehdr, e_ehsize), sizeof(Elf32_Ehdr));
	put16(d + offsetof(Elf32_Ehdr, e_phentsize), sizeof(Elf32_Phdr));
	put16(d + offsetof(Elf32_Ehdr, e_phnum), (uint16_t)nseg);
	for (unsigned i = 0; i < nseg; i++) {
		uint8_t *p = d + sizeof(Elf32_Ehdr) + i * sizeof(Elf32_Phdr);
		put32(p + offsetof(Elf32_Phdr, p_type), segs[i].type);
		put32(p + offsetof(Elf32_Phdr, p_offset), segs[i].offset);
		put32(p + offsetof(Elf32_Phdr, p_vaddr), segs[i].vaddr);
		put32(p + offsetof(Elf32_Phdr, p_paddr), segs[i].paddr);
		put32(p + offsetof(Elf32_Phdr, p_filesz), segs[i].filesz);
		put32(p + offsetof(Elf32_Phdr, p_memsz), segs[i].memsz);
		put32(p + offsetof(Elf32_Phdr, p_flags), PF_R | PF_X);
		put32(p + offsetof(Elf32_Phdr, p_align), 4);
	}
	uint32_t flags = 0x3;   /* page-align modules, memory information */
	put32(d + header_at, 0x1BADB002u);
	put32(d + header_at + 4, flags);
	put32(d + header_at + 8, -(0x1BADB002u + flags));
	for (size_t i = header_at + 12; i < size; i++)
		d[i] = 0xf4;    /* hlt */
	write_seed("multiboot", name, &s);
	if (nseg != 1)
		return;
	/* The same with e_phnum = PN_XNUM: the count is section 0's sh_info
	 * (and the section count its sh_size). */
	char xname[64];
	snprintf(xname, sizeof(xname), "%s-pn-xnum", name);
	uint8_t *sh = d + size;
	s.size = size + sizeof(Elf32_Shdr);
	put32(sh + offsetof(Elf32_Shdr, sh_size), 1);
	put32(sh + offsetof(Elf32_Shdr, sh_info), nseg);
	put32(d + offsetof(Elf32_Ehdr, e_shoff), (uint32_t)size);
	put16(d + offsetof(Elf32_Ehdr, e_shentsize), sizeof(Elf32_Shdr));
	put16(d + offsetof(Elf32_Ehdr, e_phnum), PN_XNUM);
	write_seed("multiboot", xname, &s);
}

/* fuzz_devices.c's records: target, flags (bit 0 write, bits 1-2 log2 of
 * the width), offset, value. */
enum {
	DEV_UART, DEV_PIT, DEV_PIC, DEV_RTC, DEV_I8042, DEV_LAPIC, DEV_IOAPIC, DEV_PCI,
	DEV_ACPI_PM, DEV_PORT92, DEV_DEBUG_EXIT, DEV_TESTDEV,
	OP_ADVANCE, OP_INTA, OP_ISA_IRQ, OP_UART_RX, OP_KEY, OP_APIC_BASE, OP_PIT_GATE,
	OP_POWER_BUTTON, OP_KEY_BYTES, OP_DISPLAY, OP_DISPLAY_RENDER,
};

static void record(struct seed *s, unsigned target, unsigned flags, uint16_t offset,
		   uint64_t value)
{
	if (s->size + 12 > MAX_SEED) {
		fprintf(stderr, "fuzz_seeds: a device seed is too long\n");
		exit(1);
	}
	uint8_t *r = s->data + s->size;
	r[0] = (uint8_t)target;
	r[1] = (uint8_t)flags;
	put16(r + 2, offset);
	put32(r + 4, (uint32_t)value);
	put32(r + 8, (uint32_t)(value >> 32));
	s->size += 12;
}

static void out(struct seed *s, unsigned dev, uint16_t offset, unsigned log2_width, uint64_t value)
{
	record(s, dev, log2_width << 1 | 1, offset, value);
}

static void in(struct seed *s, unsigned dev, uint16_t offset, unsigned log2_width)
{
	record(s, dev, log2_width << 1, offset, 0);
}

/* A step of about ns nanoseconds (the record's mantissa, unshifted). */
static void wait_ns(struct seed *s, uint32_t ns)
{
	record(s, OP_ADVANCE, 0, 0, ns & 0xffffff);
}

static void uart_program(struct seed *s)
{
	out(s, DEV_UART, 3, 0, 0x80);   /* DLAB */
	out(s, DEV_UART, 0, 0, 0x01);   /* 115200 baud */
	out(s, DEV_UART, 1, 0, 0x00);
	out(s, DEV_UART, 3, 0, 0x03);   /* 8N1 */
	out(s, DEV_UART, 2, 0, 0xc7);   /* FIFOs on, cleared */
	out(s, DEV_UART, 4, 0, 0x0b);   /* DTR RTS OUT2 */
	out(s, DEV_UART, 1, 0, 0x0f);   /* every interrupt */
	out(s, DEV_UART, 0, 0, 'A');
	in(s, DEV_UART, 2, 0);
	in(s, DEV_UART, 5, 0);
	record(s, OP_UART_RX, 0, 0, 'z');
	in(s, DEV_UART, 0, 0);
	out(s, DEV_UART, 4, 0, 0x10);   /* loopback */
	out(s, DEV_UART, 0, 0, 'B');
	in(s, DEV_UART, 0, 0);
}

static void pit_program(struct seed *s)
{
	out(s, DEV_PIT, 3, 0, 0x34);    /* channel 0, LSB then MSB, mode 2 */
	out(s, DEV_PIT, 0, 0, 0x9c);
	out(s, DEV_PIT, 0, 0, 0x2e);    /* 11932: 100 Hz */
	wait_ns(s, 15000000);
	out(s, DEV_PIT, 3, 0, 0x00);    /* latch channel 0 */
	in(s, DEV_PIT, 0, 0);
	in(s, DEV_PIT, 0, 0);
	out(s, DEV_PIT, 3, 0, 0xb6);    /* channel 2, mode 3 */
	out(s, DEV_PIT, 2, 0, 0x00);
	out(s, DEV_PIT, 2, 0, 0x10);
	record(s, OP_PIT_GATE, 1, 2, 0);
	out(s, DEV_PIT, 3, 0, 0xe2);    /* read-back: status of channel 0 */
	in(s, DEV_PIT, 0, 0);
	wait_ns(s, 3000000);
}

static void pic_program(struct seed *s)
{
	out(s, DEV_PIC, 0, 0, 0x11);    /* ICW1 */
	out(s, DEV_PIC, 1, 0, 0x20);    /* ICW2: vectors 0x20 */
	out(s, DEV_PIC, 1, 0, 0x04);    /* ICW3: slave on IRQ 2 */
	out(s, DEV_PIC, 1, 0, 0x01);    /* ICW4: 8086 */
	out(s, DEV_PIC, 2, 0, 0x11);
	out(s, DEV_PIC, 3, 0, 0x28);
	out(s, DEV_PIC, 3, 0, 0x02);
	out(s, DEV_PIC, 3, 0, 0x01);
	out(s, DEV_PIC, 1, 0, 0xf8);    /* unmask 0-2 */
	out(s, DEV_PIC, 3, 0, 0xfe);    /* unmask 8 */
	out(s, DEV_PIC, 4, 0, 0x00);    /* ELCR */
	record(s, OP_ISA_IRQ, 1, 1, 0);
	record(s, OP_INTA, 0, 0, 0);
	out(s, DEV_PIC, 0, 0, 0x0b);    /* OCW3: read ISR */
	in(s, DEV_PIC, 0, 0);
	out(s, DEV_PIC, 0, 0, 0x20);    /* EOI */
	record(s, OP_ISA_IRQ, 1, 8, 0);
	record(s, OP_INTA, 0, 0, 0);
	out(s, DEV_PIC, 2, 0, 0x20);
	out(s, DEV_PIC, 0, 0, 0x20);
}

static void rtc_program(struct seed *s)
{
	out(s, DEV_RTC, 0, 0, 0x0a);
	in(s, DEV_RTC, 1, 0);
	out(s, DEV_RTC, 0, 0, 0x0b);
	out(s, DEV_RTC, 1, 0, 0x52);    /* periodic and update interrupts, 24 h */
	out(s, DEV_RTC, 0, 0, 0x0a);
	out(s, DEV_RTC, 1, 0, 0x26);    /* 1024 Hz */
	wait_ns(s, 2000000);
	out(s, DEV_RTC, 0, 0, 0x0c);
	in(s, DEV_RTC, 1, 0);
	out(s, DEV_RTC, 0, 0, 0x00);
	in(s, DEV_RTC, 1, 0);
	out(s, DEV_RTC, 0, 0, 0x8b);    /* NMI masked */
	out(s, DEV_RTC, 1, 0, 0x80);    /* SET: stop updates */
	out(s, DEV_RTC, 0, 0, 0x04);
	out(s, DEV_RTC, 1, 0, 0x23);
	out(s, DEV_RTC, 0, 0, 0x0b);
	out(s, DEV_RTC, 1, 0, 0x02);
	out(s, DEV_RTC, 0, 0, 0x32);    /* century */
	in(s, DEV_RTC, 1, 0);
}

static void i8042_program(struct seed *s)
{
	out(s, DEV_I8042, 1, 0, 0x20);  /* read the command byte */
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 1, 0, 0x60);  /* write it */
	out(s, DEV_I8042, 0, 0, 0x47);
	out(s, DEV_I8042, 1, 0, 0xaa);  /* self-test */
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 0, 0, 0xff);  /* keyboard reset */
	in(s, DEV_I8042, 1, 0);
	in(s, DEV_I8042, 0, 0);
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 0, 0, 0xf0);  /* scancode set */
	out(s, DEV_I8042, 0, 0, 0x02);
	record(s, OP_KEY, 1, 0x1c, 0);   /* A */
	record(s, OP_KEY, 0, 0x1c, 0);
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 1, 0, 0xd1);  /* write the output port */
	out(s, DEV_I8042, 0, 0, 0xdf);  /* A20 on */
	out(s, DEV_I8042, 1, 0, 0xd4);  /* to the mouse */
	out(s, DEV_I8042, 0, 0, 0xf4);
	out(s, DEV_I8042, 0, 0, 0xed);  /* LEDs */
	out(s, DEV_I8042, 0, 0, 0x02);
	out(s, DEV_I8042, 0, 0, 0xf2);  /* identify */
	out(s, DEV_I8042, 0, 0, 0xee);  /* echo */
	out(s, DEV_I8042, 0, 0, 0xf3);  /* typematic */
	out(s, DEV_I8042, 0, 0, 0x20);
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 1, 0, 0xd0);  /* read the output port */
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 1, 0, 0xd2);  /* write the keyboard buffer */
	out(s, DEV_I8042, 0, 0, 0x1c);
	out(s, DEV_I8042, 1, 0, 0xa7);  /* mouse port off */
	out(s, DEV_I8042, 0, 0, 0xf0);  /* scancode set 1 */
	out(s, DEV_I8042, 0, 0, 0x01);
	record(s, OP_KEY_BYTES, 0, 3, 0x1cf0e0ull);    /* a release with a prefix */
	record(s, OP_KEY_BYTES, 1, 2, 0xfaaaull);      /* raw bytes */
	in(s, DEV_I8042, 0, 0);
	out(s, DEV_I8042, 1, 0, 0xfe);  /* pulse reset */
}

static void lapic_program(struct seed *s)
{
	out(s, DEV_LAPIC, 0xf0, 2, 0x1ff);      /* SVR: enabled, spurious 0xff */
	out(s, DEV_LAPIC, 0x80, 2, 0);          /* TPR */
	out(s, DEV_LAPIC, 0x3e0, 2, 0xb);       /* divide by 1 */
	out(s, DEV_LAPIC, 0x320, 2, 0x20030);   /* periodic, vector 0x30 */
	out(s, DEV_LAPIC, 0x380, 2, 100000);
	wait_ns(s, 2000000);
	in(s, DEV_LAPIC, 0x390, 2);
	record(s, OP_INTA, 0, 0, 0);
	in(s, DEV_LAPIC, 0x100 + 0x10, 2);      /* ISR 32-63 */
	out(s, DEV_LAPIC, 0xb0, 2, 0);          /* EOI */
	out(s, DEV_LAPIC, 0x310, 2, 0);         /* ICR: a fixed IPI to self */
	out(s, DEV_LAPIC, 0x300, 2, 0x40041);
	in(s, DEV_LAPIC, 0x280, 2);
	out(s, DEV_LAPIC, 0x280, 2, 0);
	out(s, DEV_LAPIC, 0x350, 2, 0x700);     /* LINT0 ExtINT */
	record(s, OP_APIC_BASE, 0, 0, 0xfee00900u);
	in(s, DEV_LAPIC, 0x30, 2);
}

static void ioapic_program(struct seed *s)
{
	out(s, DEV_LAPIC, 0xf0, 2, 0x1ff);
	out(s, DEV_IOAPIC, 0x00, 2, 0x01);      /* version */
	in(s, DEV_IOAPIC, 0x10, 2);
	out(s, DEV_IOAPIC, 0x00, 2, 0x12);      /* pin 1, low dword */
	out(s, DEV_IOAPIC, 0x10, 2, 0x8031);    /* level, vector 0x31 */
	out(s, DEV_IOAPIC, 0x00, 2, 0x13);
	out(s, DEV_IOAPIC, 0x10, 2, 0);
	record(s, OP_ISA_IRQ, 1, 1, 0);
	record(s, OP_INTA, 0, 0, 0);
	out(s, DEV_LAPIC, 0xb0, 2, 0);
	record(s, OP_ISA_IRQ, 0, 1, 0);
	out(s, DEV_IOAPIC, 0x00, 2, 0x14);      /* pin 2, the PIT */
	out(s, DEV_IOAPIC, 0x10, 2, 0x0032);
	out(s, DEV_IOAPIC, 0x40, 2, 0x32);      /* EOI register */
}

static void pci_program(struct seed *s)
{
	out(s, DEV_PCI, 0, 2, 0x80000000u);     /* 00:00.0 register 0 */
	in(s, DEV_PCI, 4, 2);
	out(s, DEV_PCI, 0, 2, 0x80000804u);     /* 00:01.0 command */
	out(s, DEV_PCI, 4, 1, 0x0007);
	in(s, DEV_PCI, 6, 1);
	out(s, DEV_PCI, 0, 2, 0x80000860u);     /* PIRQ routing */
	out(s, DEV_PCI, 5, 0, 0x0b);
	in(s, DEV_PCI, 4, 2);
	out(s, DEV_PCI, 0, 2, 0x80ff0000u);     /* bus 0xff: nothing */
	in(s, DEV_PCI, 4, 2);
	out(s, DEV_PCI, 3, 0, 0x00);
	in(s, DEV_PCI, 0, 2);
}

static void acpi_pm_program(struct seed *s)
{
	in(s, DEV_ACPI_PM, 8, 2);               /* PM timer */
	out(s, DEV_ACPI_PM, 2, 1, 0x0121);      /* enable TMR, power button, RTC */
	out(s, DEV_ACPI_PM, 4, 1, 0x0001);      /* SCI_EN */
	wait_ns(s, 0xffffff);
	record(s, OP_ADVANCE, 0, 0, 0x0a000001);
	in(s, DEV_ACPI_PM, 0, 1);
	out(s, DEV_ACPI_PM, 0, 1, 0x0001);      /* clear TMR_STS */
	record(s, OP_POWER_BUTTON, 0, 0, 0);
	in(s, DEV_ACPI_PM, 0, 1);
	out(s, DEV_ACPI_PM, 0, 1, 0x0100);
	out(s, DEV_ACPI_PM, 4, 1, 0x3401);      /* S5 */
}

static void small_devices_program(struct seed *s)
{
	in(s, DEV_PORT92, 0, 0);
	out(s, DEV_PORT92, 0, 0, 0x02);
	out(s, DEV_PORT92, 0, 0, 0x03);         /* fast reset */
	out(s, DEV_TESTDEV, 0x10, 3, 0x0123456789abcdefull);
	in(s, DEV_TESTDEV, 0x10, 2);
	in(s, DEV_TESTDEV, 0x10c, 2);
	in(s, DEV_TESTDEV, 0x100, 2);
	in(s, DEV_TESTDEV, 0xffe, 3);
	in(s, DEV_DEBUG_EXIT, 0, 0);
	out(s, DEV_DEBUG_EXIT, 0, 2, 0x10);
}

/* OP_DISPLAY's places (offset bits 0-1) and the DISPI registers. */
enum { AT_DISPI_PORTS, AT_BAR2, AT_BAR0, AT_BOOT_MODE };
enum {
	DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK, DISPI_VIRT_WIDTH,
	DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET, DISPI_VIDEO_MEMORY_64K,
};

static void display_out(struct seed *s, unsigned at, uint16_t where, unsigned log2_width,
			uint64_t value)
{
	record(s, OP_DISPLAY, log2_width << 1 | 1, (uint16_t)(where << 2 | at), value);
}

static void display_in(struct seed *s, unsigned at, uint16_t where, unsigned log2_width)
{
	record(s, OP_DISPLAY, log2_width << 1, (uint16_t)(where << 2 | at), 0);
}

static void dispi_mmio(struct seed *s, unsigned reg, uint16_t value)
{
	display_out(s, AT_BAR2, (uint16_t)(0x500 + 2 * reg), 1, value);
}

/* Linux's bochs-drm probing the display, setting 1024x768x32 and flipping
 * pages, the window drawing it; then the BIOS-style ports, a 16 bpp mode
 * and the boot-time mode set. */
static void display_program(struct seed *s)
{
	display_in(s, AT_BAR2, 0x500 + 2 * DISPI_ID, 1);
	display_in(s, AT_BAR2, 0x500 + 2 * DISPI_VIDEO_MEMORY_64K, 1);
	display_in(s, AT_BAR2, 0x600, 2);                       /* QEMU extension size */
	display_out(s, AT_BAR2, 0x604, 2, 0x1e1e1e1e);          /* little endian */
	display_out(s, AT_BAR2, 0x402, 0, 0x01);                /* VGA MIS_W */
	display_in(s, AT_BAR2, 0x41a, 0);                       /* IS1_RC */
	display_out(s, AT_BAR2, 0x400, 0, 0x20);                /* unblank */
	dispi_mmio(s, DISPI_ENABLE, 0);
	dispi_mmio(s, DISPI_BPP, 32);
	dispi_mmio(s, DISPI_XRES, 1024);
	dispi_mmio(s, DISPI_YRES, 768);
	dispi_mmio(s, DISPI_BANK, 0);
	dispi_mmio(s, DISPI_VIRT_WIDTH, 1024);
	dispi_mmio(s, DISPI_VIRT_HEIGHT, 4096);
	dispi_mmio(s, DISPI_X_OFFSET, 0);
	dispi_mmio(s, DISPI_Y_OFFSET, 0);
	dispi_mmio(s, DISPI_ENABLE, 0x41);
	display_out(s, AT_BAR0, 0x10, 3, 0x00ff00ff00ff00ffull);
	record(s, OP_DISPLAY_RENDER, 1, 0, 0);
	display_out(s, AT_BAR0, 0x3ff, 2, 0x00123456);
	record(s, OP_DISPLAY_RENDER, 0, 0, 0);
	dispi_mmio(s, DISPI_Y_OFFSET, 768);                     /* page flip */
	record(s, OP_DISPLAY_RENDER, 0, 0, 0);
	display_out(s, AT_DISPI_PORTS, 0, 1, DISPI_ENABLE);     /* ports: index, data */
	display_out(s, AT_DISPI_PORTS, 1, 1, 0x02);             /* GETCAPS */
	display_out(s, AT_DISPI_PORTS, 0, 1, DISPI_XRES);
	display_in(s, AT_DISPI_PORTS, 1, 1);
	display_out(s, AT_DISPI_PORTS, 1, 1, 800);
	display_out(s, AT_DISPI_PORTS, 0, 1, DISPI_BPP);
	display_out(s, AT_DISPI_PORTS, 1, 1, 16);
	display_out(s, AT_DISPI_PORTS, 0, 1, DISPI_ENABLE);
	display_out(s, AT_DISPI_PORTS, 1, 1, 0xc1);             /* keep VRAM */
	record(s, OP_DISPLAY_RENDER, 0, 0, 0);
	record(s, OP_DISPLAY, 1, AT_BOOT_MODE, 32u << 24 | 600u << 12 | 800u);
}

/* fuzz_translator.c's header bits. */
enum {
	AT_PAGE_END = 0x20, AT_NEXT_NO_RAM = 0x40, AT_NEXT_ABSENT = 0x80,
	ENV_SELFCHECK = 0x01, ENV_ADAPTIVE = 0x02, ENV_IBL_MIX = 0x04, ENV_TSC_NATIVE = 0x08,
	ENV_ONE_INSN = 0x10, ENV_TRACE = 0x20, ENV_NEXT_SUPERVISOR = 0x40,
	BYTE2_CONCURRENT = 0x40,
};

static void translator_with(const char *name, uint8_t at, uint8_t env, uint8_t byte2,
			    const char *hex)
{
	struct seed s = { .size = 3 };
	s.data[0] = at;
	s.data[1] = env;
	s.data[2] = byte2;
	for (const char *p = hex; *p;) {
		unsigned byte;
		int used;
		if (sscanf(p, " %2x%n", &byte, &used) != 1 || s.size == MAX_SEED) {
			fprintf(stderr, "fuzz_seeds: bad code in translator seed %s\n", name);
			exit(1);
		}
		s.data[s.size++] = (uint8_t)byte;
		p += used;
		while (*p == ' ')
			p++;
	}
	write_seed("translator", name, &s);
}

/* The translator's own block length; the cache not concurrent. */
static void translator(const char *name, uint8_t at, uint8_t env, const char *hex)
{
	translator_with(name, at, env, 0, hex);
}

/* What compilers and kernels emit, a family per seed, so that the fuzzer
 * starts inside the translator's every path rather than at #UD. */
static void translator_seeds(void)
{
	static const char prologue[] =
		"55 89 e5 83 ec 10 8b 45 08 03 45 0c 89 45 fc 8b 4d fc 01 c8 c9 c3";
	translator("prologue", 0, 0, prologue);
	translator("prologue-one-insn-traced", 0, ENV_ONE_INSN | ENV_TRACE, prologue);
	/* rep movsd, rep stosb, repe cmpsb, lodsw, scasd and movsb with
	 * 16-bit addressing, fs: movsb, cs: movsd */
	translator("strings", 0, 0, "f3 a5 f3 aa f3 a6 66 ad 67 af 67 f3 a4 64 a4 2e a5 f2 ae");
	/* pusha, popa, push [eax], pop [esp+4], enter 8,0, pushfd, push imm,
	 * pop esp, push esp, 16-bit push and pop */
	translator("stack", 0, 0, "60 61 ff 30 8f 44 24 04 c8 08 00 00 9c 68 78 56 34 12 5c 54 66 50 66 5b");
	/* fs: and gs: operands, 16-bit addressing, 16-bit LEA, XLAT in every
	 * addressing form, a bare disp32 above 2 GiB */
	translator("addressing", 0, 0,
		   "64 8b 43 04 65 89 0e 66 67 8b 40 02 66 67 8d 03 d7 67 d7 64 d7 "
		   "a1 00 10 00 80 a3 fc ff ff ff 8b 0d 00 00 00 90 8b 04 24 8b 44 8c 7f");
	/* AH/CH/DH/BH beside operands that need REX (ESP is r12) */
	translator("high-bytes", 0, 0, "8a 24 24 02 2c 1c 0f b0 24 24 88 74 24 04 86 e3 8a 3c 24");
	/* BT m,r in both widths (and locked), BT r,imm */
	translator("bit-ops", 0, 0, "0f a3 08 66 0f ab 56 08 f0 0f b3 07 0f bb 0c 24 0f ba f8 05");
	/* LOCK CMPXCHG8B, XADD, LOCK ADD, CMPXCHG, XCHG m,r */
	translator("atomics", 0, 0, "f0 0f c7 0e 0f c1 08 f0 83 00 01 0f b1 0b 87 06");
	translator("loop", 0, 0, "49 e2 fd");
	translator("loop16", 0, 0, "67 e2 fd");
	translator("jcxz16", 0, 0, "67 e3 10");
	translator("loope", 0, 0, "e1 fe");
	translator("jcc", 0, 0, "85 c0 74 05 0f 85 00 01 00 00");
	/* With several vCPUs running: exits padded, polls through a pointer. */
	translator_with("jcc-concurrent", 0, 0, BYTE2_CONCURRENT, "85 c0 74 05 0f 85 00 01 00 00");
	translator_with("loop-concurrent", 0, ENV_SELFCHECK, BYTE2_CONCURRENT, "49 e2 fd f3 90");
	translator("call-indirect", 0, 0, "ff 50 04");
	translator("jmp-indirect", 0, 0, "ff e0");
	translator("ret-imm", 0, 0, "c2 08 00");
	translator("call-direct", 0, 0, "e8 00 00 00 00");
	/* CLI, STI, IN, OUT, RDTSC, MOV from CR0, CPUID, INT 0x80 */
	translator("sensitive", 0, 0, "fa fb ec ee 0f 31 0f 20 c0 0f a2 cd 80");
	translator("iret", 0, 0, "cf");
	translator("segment-loads", 0, 0, "8e d8 8e e0 0f a1 8c c8");
	/* RDTSC inline and the lookup's BMI2 hash */
	translator("rdtsc-native", 0, ENV_TSC_NATIVE | ENV_IBL_MIX, "0f 31 ff e0");
	/* x87, SSE, SSE2, MMX, FNSTENV, FNSAVE, FXSAVE, MASKMOVQ */
	translator("fpu-sse", 0, 0,
		   "d9 00 d8 c1 dd 1b 0f 28 06 66 0f d4 c8 0f 6f 07 d9 34 24 dd 34 24 "
		   "0f ae 00 0f f7 c1 66 0f f7 c1 0f 77");
	/* reserved NOPs, TZCNT as BSF, PREFETCH, ENDBR32, then CLZERO (#UD) */
	translator("nops-and-ud", 0, 0, "0f 1f 00 f3 0f bc c1 0f 18 00 f3 0f 1e fb 0f 01 fc");
	translator("vex", 0, 0, "c5 f9 f7 c1");
	/* memory writes in self-checking blocks, every instruction adaptive */
	translator("adaptive-selfcheck", 0, ENV_SELFCHECK | ENV_ADAPTIVE,
		   "89 18 83 46 04 01 0f a3 08 0f ab 08 8b 44 24 08 ff 23");
	translator("adaptive-stack", 0, ENV_ADAPTIVE, "ff 30 8f 00 ff 10");
	translator("adaptive-strings", 0, ENV_ADAPTIVE, "a5");
	/* an instruction that crosses into the next page: mapped, absent,
	 * supervisor-only, without RAM */
	static const char crossing[] = "b8 44 33 22 11 90 90";
	translator("cross-page", AT_PAGE_END | 28, 0, crossing);
	translator("cross-page-absent", AT_PAGE_END | 28 | AT_NEXT_ABSENT, 0, crossing);
	translator("cross-page-supervisor", AT_PAGE_END | 28, ENV_NEXT_SUPERVISOR, crossing);
	translator("cross-page-no-ram", AT_PAGE_END | 28 | AT_NEXT_NO_RAM, ENV_SELFCHECK, crossing);
	/* a block that runs to the page's end with instructions left */
	translator("to-page-end", AT_PAGE_END, 0,
		   "90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 "
		   "8b 80 00 10 00 00");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	make_dir(outdir);

	bzimage("v2.06", 0x0206);
	bzimage("v2.10", 0x020a);
	bzimage("v2.15", 0x020f);

	const struct segment_spec one[] = {
		{ PT_LOAD, 0, 0x100000, 0x100000, 160, 0x1000 },
	};
	multiboot("one-segment", one, 1, 0x100000 + 96, 84, 160);
	const struct segment_spec two[] = {
		{ PT_LOAD, 0, 0x100000, 0x100000, 176, 176 },
		{ PT_LOAD, 176, 0x200000, 0x200000, 32, 0x3000 },
		{ PT_NOTE, 176, 0, 0, 32, 32 },
	};
	multiboot("two-segments", two, 3, 0x100000 + 160, 148, 208);
	const struct segment_spec high[] = {
		{ PT_LOAD, 0, 0xc0100000u, 0x100000, 160, 0x2000 },
	};
	multiboot("higher-half", high, 1, 0xc0100000u + 96, 84, 160);

	static void (*const programs[])(struct seed *) = {
		uart_program, pit_program, pic_program, rtc_program, i8042_program, lapic_program,
		ioapic_program, pci_program, acpi_pm_program, small_devices_program,
		display_program,
	};
	static const char *const names[] = {
		"uart", "pit", "pic", "rtc", "i8042", "lapic", "ioapic", "pci", "acpi-pm", "small",
		"display",
	};
	struct seed all = { .size = 0 };
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		struct seed s = { .size = 0 };
		programs[i](&s);
		write_seed("devices", names[i], &s);
		if (all.size + s.size <= MAX_SEED) {
			memcpy(all.data + all.size, s.data, s.size);
			all.size += s.size;
		}
	}
	write_seed("devices", "all", &all);

	translator_seeds();
	virtio_seeds(outdir);
	storage_seeds(outdir);
	return 0;
}
