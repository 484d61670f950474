/* Wires the PC together: which device answers at which port, MMIO page
 * and PCI slot, where each interrupt line goes (the ISA lines, the IDE
 * channels' IRQ 14 and 15 among them, to both interrupt controllers,
 * PCI's PIRQs, the I/O APIC to the local APIC),
 * every device's reset, and what firmware leaves behind (PCI BARs, the
 * display's mode, the ACPI and MP tables, the loaded kernel), at power-on
 * and at a reset. Only this file knows the PC's port map. */
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <linux/qemu_fw_cfg.h>

#include "boot/acpi.h"
#include "boot/acpi_loader.h"
#include "boot/boot.h"
#include "boot/mptable.h"
#include "boot/pci_firmware.h"
#include "boot/smbios.h"
#include "host/console.h"
#include "isa/cpuid.h"

#define COM1_PORT 0x3f8
#define POST_PORT 0x80
#define PCI_DISPLAY_DEVFN 0x10  /* 00:02.0, where QEMU puts its VGA */
#define PCI_DISK_SLOT 4         /* disks at 00:04.0 on */
#define PCI_NET_SLOT 3          /* the network card at 00:03.0, where QEMU puts its first */
#define PCI_TABLET_SLOT 8       /* the tablet at 00:08.0, after the disks */
#define PCI_SHARE_SLOT 12       /* shared folders at 00:0c.0 on */
/* The ISA IRQs the firmware routes PCI's PIRQ lines to (A, B: 10; C, D:
 * 11; pci_firmware_config_default). */
#define PCI_IRQ_A 10
#define PCI_IRQ_B 11
#define PORT_B 0x61        /* system control port B: PIT channel 2, speaker */

/* The least time between two periodic timer interrupts (PIT, local APIC).
 * An interrupt costs the guest its handler plus the monitor's round trip
 * (host timer signal, the poll fault, delivery, the EOI and IRET
 * callouts): 5-30 us depending on the host. A guest whose timer period is
 * shorter than that would only ever run its handler, so faster periodic
 * timers are coalesced to one interrupt per 100 us (10 kHz): at most a
 * few tenths of the guest's time go to interrupts, however fast the timer
 * was programmed. Counter reads keep the programmed rate, and every rate
 * a PC OS uses for its tick (up to the RTC's 8 kHz) is untouched. KVM
 * clamps periodic timers the same way (min_timer_period_us, 200 us). */
#define TIMER_IRQ_MIN_INTERVAL_NS 100000ull
/* Periodic timer interrupts (PIT, local APIC, RTC) that came due while
 * the guest could not take them (a host stall it saw, or the previous one
 * not acknowledged yet) are delivered late, one per holdoff, rather than
 * lost, up to this much of them: PC OSes count ticks (Linux's jiffies,
 * which its clocksource watchdog checks the TSC against), as KVM's PIT
 * reinjects lost ticks and QEMU's RTC slews. Past it they are lost. */
#define TIMER_IRQ_BACKLOG_MAX_NS 1000000000ull

/* An ISA interrupt line goes to both controllers; the guest chooses which
 * one it listens to by masking the other. */
static void isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct board *board = opaque;
	pic8259_set_irq(&board->pic, irq, level);
	ioapic_set_irq(&board->ioapic, board__isa_irq_pin(irq), level);
}

/* An I/O APIC pin no ISA line reaches (the HPET's 20-23). */
static void ioapic_pin_set(void *opaque, unsigned pin, int level)
{
	struct board *board = opaque;
	ioapic_set_irq(&board->ioapic, pin, level);
}

/* Whether the PIT's last IRQ 0 pulse still waits where it went: in the
 * 8259's IRR (IRQ 0 unmasked, the APIC passing the 8259 on), or through
 * I/O APIC pin 2 in the local APIC's IRR. */
static bool pit_irq_pending(void *opaque)
{
	const struct board *board = opaque;
	const struct pic8259 *master = &board->pic.chip[0];
	const struct lapic *lapic = &board->vcpus[0].lapic;   /* both controllers' CPU: board__bsp */
	uint64_t pin = board->ioapic.redir[board__isa_irq_pin(PIT_IRQ)];
	if (lapic_accepts_pic(lapic) && (master->irr & ~master->imr & (1u << PIT_IRQ)))
		return true;
	return !(pin & IOAPIC_MASKED) && lapic_hw_enabled(lapic) &&
	       lapic_vector_pending(lapic, (uint8_t)(pin & IOAPIC_VECTOR_MASK));
}

/* The 8259's INT goes to the bootstrap processor's LINT0 (ExtINT there,
 * or an NMI for a guest that routes it so). */
static void pic_output_changed(void *opaque, int level)
{
	struct board *board = opaque;
	lapic_set_lint(&board__bsp(board)->lapic, 0, level != 0);
	if (level)
		cpu_request_attention(&board__bsp(board)->cpu);
}

/* Port 0x61: bit 0 gates PIT channel 2, bit 1 enables the speaker, bits 2
 * and 3 disable the SERR# and IOCHK NMI sources (set: disabled), bit 4
 * toggles with DRAM refresh (firmware and Linux use it to pace delays),
 * bit 5 shows channel 2's output, bits 6 and 7 the IOCHK and SERR#
 * latches. Setting bit 3 clears the IOCHK latch and holds it clear, as
 * on the AT and Intel's ICH; nothing here asserts SERR#, so bit 7 reads
 * 0. */
static uint64_t port_b_read(void *opaque, uint64_t offset, unsigned width)
{
	struct board *board = opaque;
	(void)offset;
	(void)width;
	board->refresh_toggle = !board->refresh_toggle;
	uint64_t now = board__clock_ns(board);
	return (board->port_b & (PORT_B_WRITABLE | PORT_B_IOCHK_STATUS)) |
	       (board->refresh_toggle ? 0x10 : 0) |
	       (pit8254_get_output(&board->pit, 2, now) ? 0x20 : 0);
}

static void port_b_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct board *board = opaque;
	(void)offset;
	(void)width;
	uint8_t status = board->port_b & PORT_B_IOCHK_STATUS;
	if (value & PORT_B_IOCHK_DISABLE)
		status = 0;
	board->port_b = (uint8_t)((value & PORT_B_WRITABLE) | status);
	pit8254_set_gate(&board->pit, 2, (int)(value & 1), board__clock_ns(board));
	board__chipset_nmi_update(board);
}

/* The chipset's NMI output: a latched source whose enable is on, unless
 * port 0x70 bit 7 masks them all (a masked source stays latched and
 * raises its NMI when unmasked). It drives the BSP's LINT1, the PC's NMI
 * wire (the CPU's NMI pin itself when the APIC is hardware-disabled). */
static bool chipset_nmi_level(const struct board *board)
{
	return !board->rtc.nmi_masked && (board->port_b & PORT_B_IOCHK_STATUS);
}

void board__chipset_nmi_update(struct board *board)
{
	lapic_set_lint(&board__bsp(board)->lapic, 1, chipset_nmi_level(board));
}

void board__chipset_nmi_restore(struct board *board)
{
	lapic_restore_lint(&board__bsp(board)->lapic, 1, chipset_nmi_level(board));
}

void board__iochk_assert(struct board *board)
{
	if (board->port_b & PORT_B_IOCHK_DISABLE)
		return;
	board->port_b |= PORT_B_IOCHK_STATUS;
	board__chipset_nmi_update(board);
}

static void rtc_nmi_mask_changed(void *opaque)
{
	board__chipset_nmi_update(opaque);
}

static const struct bus_ops port_b_ops = {
	.read = port_b_read,
	.write = port_b_write,
	.max_width = 1,
};

/* isa-debug-exit: the run ends with the status the guest wrote. */
static void debug_exit_request(void *opaque, int status)
{
	board_request_exit(opaque, status);
}

/* The keyboard controller's reset line or port 0x92's fast reset: the
 * run loop restarts the PC once the access has returned. */
static void reset_line(void *opaque)
{
	board_request_reset(opaque);
}

/* The PC's A20 gate is open while either source opens it: the chipset ORs
 * the keyboard controller's A20GATE output (its output port's bit 1) with
 * port 0x92's bit 1 (Intel's ICH datasheets: ALT_A20_GATE "is OR'd with
 * the A20GATE input signal to generate A20M#"). QEMU's pc lets the last write of either device set the line
 * instead ("add logic to handle multiple A20 line sources", hw/i386/pc.c);
 * the two agree whenever the other source is closed, which is how
 * firmware and operating systems use them (SeaBIOS only ever writes port
 * 0x92, over a keyboard controller that keeps the gate open). The gate is
 * the bootstrap processor's A20M# pin, as QEMU wires it to its first CPU:
 * A20 masking is a real-mode matter, before the other processors start. */
void board__a20_update(struct board *board)
{
	if (!board->cpu_ready)
		return;   /* cpu_init leaves the pin open, as the devices' reset does */
	bool open = i8042_a20_enabled(&board->kbc) || port92_a20_enabled(&board->port92);
	cpu_set_a20(&board__bsp(board)->cpu, open);
}

static void a20_changed(void *opaque, bool enabled)
{
	(void)enabled;   /* the other source may hold the gate open */
	board__a20_update(opaque);
}

/* PAM (devices/pci_host.h): a write the CPU, the monitor's callouts or
 * a device's DMA makes to a page whose write enable is clear is dropped,
 * as the 82441FX sends it to PCI where the ROM ignores it. The paths read
 * ram.pam_locked; the shadow maps such pages read-only in every window,
 * so translated code still reads and runs them natively and only a write
 * faults (shadow_fault sends it to the memory callouts, which drop it).
 * Nothing else changes: reads come from RAM in every state, so no
 * translation or shadow entry goes stale. */
void board__pam_reprotect(struct board *board, uint64_t pages)
{
	if (!board->shadow_ready)
		return;   /* shadow_init's caller applies what is locked by then */
	for (unsigned i = 0; i < GUEST_PAM_PAGES; i++)
		if (pages >> i & 1)
			shadow_reprotect(&board->sh, GUEST_PAM_BASE / GUEST_PAGE_SIZE + i);
}

void board__pam_update(struct board *board)
{
	uint64_t locked = pci_host_pam_write_locked(&board->pci);
	uint64_t changed = locked ^ board->ram.pam_locked;
	board->ram.pam_locked = locked;
	board__pam_reprotect(board, changed);
}

static void pam_changed(void *opaque)
{
	board__pam_update(opaque);
}

/* A vCPU's own LAPIC has an interrupt for it (opaque: its slot). One
 * that sleeps in HLT while another has the turn ends that turn at the
 * running vCPU's next poll, so that an IPI or a device's interrupt is
 * taken at once rather than a slice later. */
static void lapic_output_changed(void *opaque, int level)
{
	struct board_vcpu *v = opaque;
	if (!level)
		return;
	cpu_request_attention(&v->cpu);
	struct board *board = v->board;
	if (board->nvcpus > 1 && !board->threaded && v != board->running && v->cpu.halted) {
		board->slice_end_ns = 0;
		cpu_request_attention(&board->running->cpu);
	}
}

/* A vCPU's own LAPIC passes it an NMI (opaque: its slot). */
static void lapic_nmi(void *opaque)
{
	struct board_vcpu *v = opaque;
	cpu_raise_nmi(&v->cpu);
}

/* ACPI S5 (what Linux's poweroff does): the machine is off, btvm ends
 * with status 0. */
static void board_power_off(void *opaque)
{
	board_request_exit(opaque, 0);
}

static void com1_transmit(void *opaque, uint8_t byte)
{
	struct board *board = opaque;
	if (board->cfg.serial == SERIAL_STDIO)
		console_write(&byte, 1);
}

/* The POST diagnostic port: firmware and Linux (as an I/O delay) write it;
 * nothing is there to answer. */
static uint64_t post_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return ~0ULL;
}

static void post_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)width;
	(void)value;
}

static const struct bus_ops post_ops = {
	.read = post_read,
	.write = post_write,
	.max_width = 4,
};

/* The firmware ROM below 4 GiB, for the monitor's accesses (translated
 * code reads it through the window's alias): the bytes of the RAM it
 * aliases (guest_rom_alias), writes ignored as a ROM ignores them. */
static uint64_t rom_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct board *board = opaque;
	uint32_t gpa;
	uint64_t value = 0;
	if (!guest_rom_alias(&board->ram, (1ull << 32) - board->ram.rom_size + offset, &gpa))
		return ~0ull;
	memcpy(&value, board->ram.host + gpa, width);
	return value;
}

static void rom_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)width;
	(void)value;
}

static const struct bus_ops rom_ops = {
	.read = rom_read,
	.write = rom_write,
	.max_width = 8,
};

/* --debugcon FILE: the firmware's log, as it comes. */
static void debugcon_output(void *opaque, uint8_t byte)
{
	struct board *board = opaque;
	fputc(byte, board->debugcon_file);
}

/* fw_cfg's DMA wrote guest RAM: as a disk's DMA does. */
static void disk_guest_written(void *opaque, uint64_t gpa, uint64_t len);

static void board_acpi_config(const struct board *board, struct acpi_config *cfg);

/* The ACPI tables through fw_cfg's table loader: SeaBIOS places them. */
static int firmware_acpi(struct board *board)
{
	struct acpi_config cfg;
	board_acpi_config(board, &cfg);
	struct acpi_loader_files *files = malloc(sizeof(*files));
	if (!files)
		return -ENOMEM;
	int err = acpi_loader_build(&cfg, files);
	if (!err)
		err = fw_cfg_add_file(&board->fw_cfg, "etc/acpi/tables", files->tables,
				      files->tables_len, NULL);
	if (!err)
		err = fw_cfg_add_file(&board->fw_cfg, "etc/acpi/rsdp", files->rsdp,
				      sizeof(files->rsdp), NULL);
	if (!err)
		err = fw_cfg_add_file(&board->fw_cfg, "etc/table-loader", files->loader,
				      files->loader_len, NULL);
	free(files);
	return err;
}

/* SeaBIOS's bootorder file: the drives' device paths (Open Firmware
 * style, as QEMU writes them for bootindex) in the order --boot order=
 * gives, "dc" by default (the CD-ROM, then the disks); SeaBIOS tries
 * them in that order, then whatever it found and the list leaves out.
 * Of the disks the first --disk comes first, as a PC user expects. */
static size_t bootorder_ide(char *out, size_t len, size_t out_len, unsigned slot)
{
	return len + (size_t)snprintf(out + len, out_len - len, "/pci@i0cf8/ide@1,1/drive@%u/disk@%u\n",
				      slot / IDE_UNITS, slot % IDE_UNITS);
}

static size_t firmware_bootorder(const struct board *board, char *out, size_t out_len)
{
	const struct board_config *c = &board->cfg;
	const char *order = c->boot_order[0] ? c->boot_order : "dc";
	size_t len = 0;
	/* --kernel through the firmware: its ROM's boot entry before any
	 * drive, as QEMU's bootindex 0 puts it. */
	if (board->fw_kernel.image)
		len += (size_t)snprintf(out, out_len, "/rom@%s\n", LINUX_FWCFG_ROM_NAME);
	for (const char *o = order; *o; o++) {
		if (*o == 'd') {
			for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
				if (c->ide[slot].kind == BOARD_IDE_CDROM)
					len = bootorder_ide(out, len, out_len, slot);
			continue;
		}
		/* The disks: an IDE first disk is the lowest IDE disk slot
		 * (they take the slots in the order given). */
		unsigned first_ide = BOARD_IDE_SLOTS;
		for (unsigned slot = 0; c->first_disk_ide && slot < first_ide; slot++)
			if (c->ide[slot].kind == BOARD_IDE_DISK)
				first_ide = slot;
		if (first_ide < BOARD_IDE_SLOTS)
			len = bootorder_ide(out, len, out_len, first_ide);
		for (unsigned i = 0; i < c->ndisks; i++)
			len += (size_t)snprintf(out + len, out_len - len, "/pci@i0cf8/scsi@%x/disk@0,0\n",
						PCI_DISK_SLOT + i);
		for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
			if (c->ide[slot].kind == BOARD_IDE_DISK && slot != first_ide)
				len = bootorder_ide(out, len, out_len, slot);
	}
	assert(len < out_len);
	return len;
}

/* --kernel through the firmware, as QEMU's -kernel: the kernel's parts
 * with their addresses in the legacy keys linuxboot_dma.bin reads, and the
 * ROM as a "genroms/" file, which SeaBIOS runs as an option ROM whose boot
 * entry (its PnP BEV) firmware_bootorder puts first: the kernel boots
 * ahead of any disk. */
static int firmware_kernel(struct board *board)
{
	struct fw_cfg *fw = &board->fw_cfg;
	const struct board_fw_kernel *k = &board->fw_kernel;
	const struct linux_fwcfg *p = &k->parts;
	int err = fw_cfg_set_u32(fw, FW_CFG_SETUP_ADDR, p->setup_addr);
	if (!err)
		err = fw_cfg_set_u32(fw, FW_CFG_SETUP_SIZE, (uint32_t)p->setup_size);
	if (!err)
		err = fw_cfg_set_item(fw, FW_CFG_SETUP_DATA, p->setup, p->setup_size);
	if (!err)
		err = fw_cfg_set_u32(fw, FW_CFG_KERNEL_ADDR, p->kernel_addr);
	if (!err)
		err = fw_cfg_set_u32(fw, FW_CFG_KERNEL_SIZE, (uint32_t)p->kernel_size);
	if (!err)
		err = fw_cfg_set_item(fw, FW_CFG_KERNEL_DATA, p->kernel, p->kernel_size);
	if (!err)
		err = fw_cfg_set_u32(fw, FW_CFG_CMDLINE_ADDR, p->cmdline_addr);
	if (!err)
		err = fw_cfg_set_u32(fw, FW_CFG_CMDLINE_SIZE, (uint32_t)p->cmdline_size);
	if (!err)
		err = fw_cfg_set_item(fw, FW_CFG_CMDLINE_DATA, p->cmdline, p->cmdline_size);
	if (!err && k->initrd_size) {
		err = fw_cfg_set_u32(fw, FW_CFG_INITRD_ADDR, p->initrd_addr);
		if (!err)
			err = fw_cfg_set_u32(fw, FW_CFG_INITRD_SIZE, (uint32_t)k->initrd_size);
		if (!err)
			err = fw_cfg_set_item(fw, FW_CFG_INITRD_DATA, k->initrd, k->initrd_size);
	}
	if (!err)
		err = fw_cfg_add_file(fw, LINUX_FWCFG_ROM_NAME, k->rom, k->rom_size, NULL);
	return err;
}

/* What SeaBIOS reads through fw_cfg (QEMU's names and layouts): the RAM
 * and the e820 map, the CPU count, the boot menu, the ACPI tables. */
static int firmware_config(struct board *board)
{
	struct fw_cfg *fw = &board->fw_cfg;
	fw_cfg_init(fw, &board->ram, disk_guest_written, board);
	int err = fw_cfg_set_u64(fw, FW_CFG_RAM_SIZE, board->ram.size);
	if (!err)
		err = firmware_acpi(board);
	if (!err)
		err = fw_cfg_set_u16(fw, FW_CFG_NB_CPUS, (uint16_t)board->nvcpus);
	if (!err)
		err = fw_cfg_set_u16(fw, FW_CFG_MAX_CPUS, (uint16_t)board->nvcpus);
	if (!err)
		err = fw_cfg_set_u16(fw, FW_CFG_BOOT_MENU, board->cfg.boot_menu);
	if (!err && board->cfg.boot_menu_ms) {
		uint16_t ms = (uint16_t)board->cfg.boot_menu_ms;
		err = fw_cfg_add_file(fw, "etc/boot-menu-wait", &ms, sizeof(ms), NULL);
	}
	char bootorder[(BOARD_IDE_SLOTS + BOARD_MAX_DISKS + 1) * 48];
	size_t bootorder_len = firmware_bootorder(board, bootorder, sizeof(bootorder));
	if (!err && bootorder_len)
		err = fw_cfg_add_file(fw, "bootorder", bootorder, bootorder_len, NULL);
	/* The text screen on the serial console too (SeaBIOS's sercon: its
	 * own messages, the boot menu, a boot loader's INT 10h output), and
	 * keys typed there taken as the keyboard's. */
	uint16_t sercon = COM1_PORT;
	if (!err && board->cfg.serial == SERIAL_STDIO)
		err = fw_cfg_add_file(fw, "etc/sercon-port", &sercon, sizeof(sercon), NULL);
	/* Nothing to boot: SeaBIOS says so and restarts after this many ms
	 * (its default: a minute); under --no-reboot at once, so that btvm
	 * ends with the message on the console rather than wait. */
	uint32_t fail_wait_ms = 0;
	if (!err && board->cfg.no_reboot)
		err = fw_cfg_add_file(fw, "etc/boot-fail-wait", &fail_wait_ms, sizeof(fail_wait_ms),
				      NULL);
	/* RAM below 4 GiB, and the RAM from 4 GiB up if any; the firmware
	 * reserves its own areas. Packed as QEMU's struct e820_entry: u64
	 * address, u64 length, u32 type. */
	uint8_t e820[40] = { 0 };
	uint64_t ranges[2][2] = { { 0, board->ram.low_size },
				  { GUEST_RAM_HIGH_BASE, guest_ram_high_size(&board->ram) } };
	uint32_t type = 1;   /* E820_RAM */
	size_t e820_len = 0;
	for (unsigned i = 0; i < 2; i++) {
		if (!ranges[i][1])
			continue;
		memcpy(e820 + e820_len, &ranges[i][0], 8);
		memcpy(e820 + e820_len + 8, &ranges[i][1], 8);
		memcpy(e820 + e820_len + 16, &type, 4);
		e820_len += 20;
	}
	if (!err)
		err = fw_cfg_add_file(fw, "etc/e820", e820, e820_len, NULL);
	/* The display's option ROM, by the name SeaBIOS looks for before it
	 * reads a ROM BAR (the std VGA here has none). */
	if (!err)
		err = fw_cfg_add_file(fw, "pci1234,1111.rom", board->vga_rom, board->vga_rom_size,
				      NULL);
	if (!err && board->fw_kernel.image)
		err = firmware_kernel(board);
	if (!err)
		err = fw_cfg_attach(fw, &board->bus);
	return err;
}

/* A PCI interrupt routed (PIIX3 PIRQ) to ISA IRQ irq. PCI's INTx# wires
 * are level-triggered and active low: the 8259 (its ELCR set by the OS)
 * takes the level as asserted-high, the I/O APIC pin the wire itself, as
 * btvm's ACPI tables describe it (for a direct boot, and for firmware's
 * through the table loader). SeaBIOS's own MP table says active high, as
 * QEMU's PC has it: an OS that ignores ACPI and reads the MP table
 * misreads these two pins (docs/DESIGN.md, "Known gaps"). */
static void pci_isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct board *board = opaque;
	pic8259_set_irq(&board->pic, irq, level);
	if (irq == PCI_IRQ_A || irq == PCI_IRQ_B)
		ioapic_set_irq(&board->ioapic, irq, !level);
}

/* A device wrote guest RAM behind the write protection of code pages:
 * drop the translations made from those pages. */
static void drop_translations(struct board *board, uint64_t gpa, uint64_t len)
{
	/* The lookup table is the bootstrap processor's: the only one yet
	 * (docs/DESIGN.md, "One machine, several vCPUs"). */
	uint64_t off;
	if (!len || !guest_ram_offset(&board->ram, gpa, len, &off))
		return;
	for (uint64_t p = off / GUEST_PAGE_SIZE; p <= (off + len - 1) / GUEST_PAGE_SIZE; p++)
		if (tcache_page_traced(&board->tc, (uint32_t)p))
			tcache_invalidate_page(&board->tc, &board__bsp(board)->cpu.ibl_table,
					       (uint32_t)p);
}

/* A disk's I/O thread read into guest RAM: logged for the write log, and
 * its pages' translations dropped. */
static void disk_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct board *board = opaque;
	if (!len)
		return;
	guest_ram_written(&board->ram, gpa, len);
	drop_translations(board, gpa, len);
}

/* The IDE bus master wrote guest RAM, inside the port write that started
 * it (the vCPU thread, in a callout: one that drops translations sends
 * the vCPU back to the run loop after the instruction). The device logs
 * the write itself. */
static void ide_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	if (len)
		drop_translations(opaque, gpa, len);
}

void board__device_wrote(void *opaque, uint64_t gpa, uint64_t len)
{
	ide_guest_written(opaque, gpa, len);
}

/* The network backend's frames for the guest, on its thread. */
void board__net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct board *board = opaque;
	virtio_net_receive(&board->net, frame, len);
}

/* The guest's frames, on the vCPU thread: slirp_net copies them. */
static void net_transmit(void *opaque, const uint8_t *frame, size_t len)
{
	struct board *board = opaque;
	slirp_net_transmit(board->slirp, frame, len);
}

/* Every device to its power-on state; also the reset path, so it only
 * initializes: the bus regions stay registered. */
static void board_reset_devices(struct board *board)
{
	struct irq_line com1_irq = { .set_level = isa_irq_set, .opaque = board, .line = COM1_IRQ };
	/* The PIT's and the RTC's lines pass through the HPET's legacy
	 * replacement multiplexer. */
	struct irq_line pit_irq = { .set_level = hpet_isa_input, .opaque = &board->hpet,
				    .line = PIT_IRQ };
	struct irq_line sci_irq = { .set_level = isa_irq_set, .opaque = board, .line = ACPI_PM_SCI_IRQ };
	struct irq_line kbd_irq = { .set_level = isa_irq_set, .opaque = board, .line = I8042_KBD_IRQ };
	struct irq_line aux_irq = { .set_level = isa_irq_set, .opaque = board, .line = I8042_AUX_IRQ };

	/* The interrupt controllers first: the devices below drive lines.
	 * Each vCPU's LAPIC calls back with its slot. */
	for (unsigned i = 0; i < board->nvcpus; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		lapic_init(&v->lapic, board__vcpu_clock_ns, v);
		lapic_virtual_wire(&v->lapic);
		v->lapic.deadline_changed = board__vcpu_deadline_changed;
		v->lapic.output_changed = lapic_output_changed;
		v->lapic.nmi = lapic_nmi;
		v->lapic.eoi_broadcast = ioapic_eoi_broadcast;
		v->lapic.eoi_opaque = &board->ioapic;
		v->lapic.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
		v->lapic.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	}
	/* The I/O APIC's messages go to the bootstrap processor, with one
	 * vCPU; board__smp_reset routes them to any with more. */
	ioapic_init(&board->ioapic, lapic_deliver_message, &board__bsp(board)->lapic);
	board->ioapic.deliver_nmi = lapic_deliver_nmi_message;
	board__smp_reset(board);
	/* The PCI interrupt wires idle high (active low). */
	ioapic_set_irq(&board->ioapic, PCI_IRQ_A, 1);
	ioapic_set_irq(&board->ioapic, PCI_IRQ_B, 1);
	pic8259_init(&board->pic, pic_output_changed, board);
	hpet_reset(&board->hpet);
	pit8254_init(&board->pit, &pit_irq, board__clock_ns, board);
	board->pit.deadline_changed = board__deadline_changed;
	board->pit.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	board->pit.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	board->pit.irq_pending = pit_irq_pending;
	mc146818_reset(&board->rtc, board__clock_ns(board));
	acpi_pm_init(&board->pm, &sci_irq, board__clock_ns, board);
	board->pm.power_off = board_power_off;
	board->pm.deadline_changed = board__deadline_changed;
	uart16550_init(&board->com1, &com1_irq, com1_transmit, board);
	/* Both drive the A20 gate (board__a20_update); their reset opens it
	 * through the keyboard controller's output port. */
	i8042_init(&board->kbc, &kbd_irq, &aux_irq, a20_changed, reset_line, board);
	port92_init(&board->port92, a20_changed, reset_line, board);
	board__a20_update(board);
	/* The PAM registers at 0: the BIOS area drops writes until the
	 * firmware opens it (or board__firmware, for a direct boot). */
	pci_host_reset(&board->pci);
	board__pam_update(board);
	vga_init(&board->vga);
	bochs_display_reset(&board->bochs);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_reset(&board->disks[i]);
	/* Attaching resets it too (the first call here comes before that). */
	if (board->ide.attached)
		ide_reset(&board->ide);
	virtio_net_reset(&board->net);
	virtio_input_reset(&board->tablet);
	ac97_reset(&board->ac97);
	for (unsigned i = 0; i < board->cfg.nshares; i++)
		virtio_9p_reset(&board->shares[i]);
	/* What the VGA BIOS leaves in video memory: its font in plane 2 and
	 * a blank screen (0xa0000-0xbffff is guest RAM, see vga.h). */
	vga_init_memory(board->ram.host + VGA_LEGACY_BASE);
	if (board->firmware)
		fw_cfg_reset(&board->fw_cfg);
	board->reset_requested = false;
	board->port_b = 0;
	board->refresh_toggle = false;
	board__chipset_nmi_update(board);
	testdev_init(&board->testdev);
}

static void board_vram_moved(void *opaque, uint64_t gpa);

/* A virtio-9p device per --share, each with its server's connection. */
static int wire_shares(struct board *board)
{
	const struct virtio_9p_host host = {
		.notify = board__console_notify,
		.guest_written = disk_guest_written,
		.opaque = board,
	};
	for (unsigned i = 0; i < board->cfg.nshares; i++) {
		int fd = board->share_fds[i];
		board->share_fds[i] = -1;   /* the device's now, even on failure */
		int err = virtio_9p_attach(&board->shares[i], (uint8_t)pci_host_devfn(PCI_SHARE_SLOT + i, 0),
					   board->cfg.shares[i].tag, SHARE_SERVER_EXPORT,
					   SHARE_SERVER_UID, fd,
					   &board->ram, &board->bus, &host);
		if (!err)
			err = pci_host_add(&board->pci, &board->shares[i].vp.pci);
		if (err)
			return err;
	}
	return 0;
}

int board__wire_devices(struct board *board)
{
	int err;

	/* The CMOS clock is battery-backed: set once, only reset after. */
	hpet_init(&board->hpet, board__clock_ns, isa_irq_set, ioapic_pin_set, board);
	board->hpet.deadline_changed = board__deadline_changed;
	board->hpet.min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	struct irq_line rtc_irq = { .set_level = hpet_isa_input, .opaque = &board->hpet,
				    .line = RTC_IRQ };
	mc146818_init(&board->rtc, &rtc_irq, (int64_t)time(NULL), board__clock_ns, board);
	board->rtc.deadline_changed = board__deadline_changed;
	board->rtc.nmi_mask_changed = rtc_nmi_mask_changed;
	board->rtc.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	board->rtc.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	mc146818_set_memory_size(&board->rtc, board->ram.low_size);
	mc146818_set_memory_above_4g(&board->rtc, guest_ram_high_size(&board->ram));
	/* PCI at power-on, and the display's function with its VRAM: the
	 * device memory after RAM in the guest's memfd. */
	pci_host_init(&board->pci);
	board->pci.set_isa_irq = pci_isa_irq_set;
	board->pci.irq_opaque = board;
	board->pci.reset_request = reset_line;
	board->pci.pam_changed = pam_changed;
	bochs_display_init(&board->bochs, PCI_DISPLAY_DEVFN, guest_devmem_ptr(&board->ram, 0),
			   &board->vga);
	board->bochs.vram_moved = board_vram_moved;
	board->bochs.opaque = board;
	board_reset_devices(board);
	err = mc146818_attach(&board->rtc, &board->bus);
	if (err)
		return err;
	err = acpi_pm_attach(&board->pm, &board->bus, ACPI_PM_BASE_PORT);
	if (err)
		return err;
	err = hpet_attach(&board->hpet, &board->bus, HPET_BASE);
	if (err)
		return err;
	/* One MMIO page for the one vCPU; with several, each reaches its own
	 * LAPIC there (smp.c). */
	err = board->nvcpus > 1 ? board__smp_attach_lapics(board)
				: lapic_attach(&board__bsp(board)->lapic, &board->bus, LAPIC_DEFAULT_BASE);
	if (err)
		return err;
	err = ioapic_attach(&board->ioapic, &board->bus, IOAPIC_DEFAULT_BASE);
	if (err)
		return err;
	err = i8042_attach(&board->kbc, &board->bus);
	if (err)
		return err;
	err = port92_attach(&board->port92, &board->bus);
	if (err)
		return err;
	err = pci_host_attach(&board->pci, &board->bus);
	if (err)
		return err;
	err = pic8259_attach(&board->pic, &board->bus);
	if (err)
		return err;
	err = pit8254_attach(&board->pit, &board->bus);
	if (err)
		return err;
	err = bus_register(&board->bus, BUS_SPACE_PIO, "port-b", PORT_B, 1, &port_b_ops, board);
	if (err)
		return err;
	err = uart16550_attach(&board->com1, &board->bus, COM1_PORT);
	if (err)
		return err;
	err = vga_attach(&board->vga, &board->bus);
	if (err)
		return err;
	err = bochs_display_attach(&board->bochs, &board->bus);
	if (!err)
		err = pci_host_add(&board->pci, &board->bochs.pci);
	if (err)
		return err;
	const struct virtio_blk_host disk_host = {
		.notify = board__console_notify,
		.guest_written = disk_guest_written,
		.opaque = board,
	};
	for (unsigned i = 0; i < board->cfg.ndisks; i++) {
		struct virtio_blk *disk = &board->disks[i];
		err = virtio_blk_attach(disk, (uint8_t)pci_host_devfn(PCI_DISK_SLOT + i, 0),
					&board->ram, &board->bus, &disk_host);
		if (!err)
			err = pci_host_add(&board->pci, &disk->vp.pci);
		if (err)
			return err;
	}
	/* The PIIX3's IDE function beside its ISA bridge, whatever drives
	 * there are: as on QEMU's pc machine, firmware and the OS find the
	 * same chipset with or without them (an empty channel reads 0). Its
	 * channels are ISA devices on IRQ 14 and 15, to both controllers. */
	const struct irq_line ide_irq[IDE_CHANNELS] = {
		{ .set_level = isa_irq_set, .opaque = board, .line = IDE_PRIMARY_IRQ },
		{ .set_level = isa_irq_set, .opaque = board, .line = IDE_SECONDARY_IRQ },
	};
	const struct ide_host ide_host = { .guest_written = ide_guest_written, .opaque = board };
	err = ide_attach(&board->ide, &board->ram, &board->bus, ide_irq, &ide_host);
	if (!err)
		err = pci_host_add(&board->pci, &board->ide.pci);
	if (err)
		return err;
	if (board->slirp) {
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		const struct virtio_net_host net_host = {
			.notify = board__console_notify,
			.guest_written = disk_guest_written,
			.opaque = board,
		};
		const struct virtio_net_backend backend = { .transmit = net_transmit, .opaque = board };
		err = virtio_net_attach(&board->net, (uint8_t)pci_host_devfn(PCI_NET_SLOT, 0), mac,
					&board->ram, &board->bus, &net_host, &backend);
		if (!err)
			err = pci_host_add(&board->pci, &board->net.vp.pci);
		if (err)
			return err;
	}
	if (board->cfg.tablet == TABLET_ON) {
		const struct virtio_input_host tablet_host = {
			.guest_written = disk_guest_written,
			.opaque = board,
		};
		err = virtio_input_attach(&board->tablet, (uint8_t)pci_host_devfn(PCI_TABLET_SLOT, 0),
					  &board->ram, &board->bus, &tablet_host);
		if (!err)
			err = pci_host_add(&board->pci, &board->tablet.vp.pci);
		if (err)
			return err;
	}
	err = wire_shares(board);
	if (err)
		return err;
	err = board__audio_wire(board);
	if (err)
		return err;
	board->debug_exit.request_exit = debug_exit_request;
	board->debug_exit.opaque = board;
	err = isa_debug_exit_attach(&board->debug_exit, &board->bus, ISA_DEBUG_EXIT_PORT);
	if (err)
		return err;
	err = testdev_attach(&board->testdev, &board->bus, TESTDEV_BASE);
	if (err)
		return err;
	board->debugcon.output = board->debugcon_file ? debugcon_output : NULL;
	board->debugcon.opaque = board;
	err = debugcon_attach(&board->debugcon, &board->bus, DEBUGCON_PORT);
	if (err)
		return err;
	if (board->firmware) {
		err = firmware_config(board);
		if (!err)
			err = bus_register(&board->bus, BUS_SPACE_MMIO, "firmware-rom",
					   (1ull << 32) - board->firmware_size,
					   board->firmware_size, &rom_ops, board);
		if (err)
			return err;
	}
	return bus_register(&board->bus, BUS_SPACE_PIO, "post", POST_PORT, 1, &post_ops, NULL);
}

/* BAR0 of the display decodes somewhere else now: its VRAM follows in
 * the guest's physical space (translated code reaches it there). */
static void board_vram_moved(void *opaque, uint64_t gpa)
{
	struct board *board = opaque;
	uint64_t old = board->ram.devmem_gpa;
	board->ram.devmem_gpa = gpa == PCI_BAR_UNMAPPED ? GUEST_DEVMEM_UNMAPPED : gpa;
	if (board->shadow_ready && old != board->ram.devmem_gpa) {
		shadow_devmem_moved(&board->sh, old);
		for (unsigned i = 0; i < board->nvcpus; i++)
			cpu_request_attention(&board->vcpus[i].cpu);
	}
}

/* What a BIOS does after the devices' reset: PCI BARs placed and decoding
 * (SeaBIOS's pciinit), and with --vga WxH the VBE mode set. */
int board__firmware(struct board *board)
{
	/* SeaBIOS opens A20 through port 0x92 on its way into 32-bit mode
	 * (transition32), so a kernel QEMU boots with -kernel finds bit 1 set
	 * there; the gate itself was open already. */
	board->port92.value |= PORT92_A20;
	/* No ROM: the BIOS area is RAM that holds btvm's tables (ACPI, MP),
	 * readable and writable, as a BIOS that shadowed it and left it
	 * open would say in its PAM registers. */
	for (unsigned i = 0; i < PCI_I440FX_PAMS; i++)
		pci_host_config_write(&board->pci, 0, PCI_HOST_BRIDGE_DEVFN, PCI_I440FX_PAM0 + i, 1,
				      i ? 0x33 : 0x30);
	struct pci_firmware_config pcfg;
	pci_firmware_config_default(&pcfg);
	int err = pci_firmware_setup(&board->pci, &pcfg);
	if (err || !board->cfg.fb_width)
		return err;
	return bochs_display_set_mode(&board->bochs, board->cfg.fb_width, board->cfg.fb_height, 32);
}

/* The loader's view of the machine: the kernel, and the screen as a BIOS
 * would report it (VGA text, or the framebuffer board__firmware set). */
void board__boot_config(struct board *board, struct boot_config *boot,
			struct boot_framebuffer *fb)
{
	struct bochs_screen_info si;
	*boot = (struct boot_config){
		.kernel_path = board->cfg.kernel_path,
		.initrd_path = board->cfg.initrd_path,
		.kernel_data = board->cfg.kernel_data,
		.kernel_size = board->cfg.kernel_size,
		.initrd_data = board->cfg.initrd_data,
		.initrd_size = board->cfg.initrd_size,
		.cmdline = board->cfg.cmdline,
		.acpi_rsdp = board->acpi_rsdp,
		.vga_text = true,
		.firmware_data = board->firmware,
		.firmware_size = board->firmware_size,
		.cpu_signature = cpuid_model(1, 0, true, 0).eax,
	};
	/* A fresh seed for every boot (a reboot too): the host's random
	 * bytes, as a boot loader would pass from its firmware's. */
	if (getrandom(board->rng_seed, sizeof(board->rng_seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(board->rng_seed)) {
		boot->rng_seed = board->rng_seed;
		boot->rng_seed_len = sizeof(board->rng_seed);
	}
	if (board->cfg.fb_width && !bochs_display_screen_info(&board->bochs, &si)) {
		*fb = (struct boot_framebuffer){
			.base = si.lfb_base,
			.size = (uint32_t)si.lfb_size << 16,
			.width = si.lfb_width,
			.height = si.lfb_height,
			.line_length = si.lfb_linelength,
		};
		boot->fb = fb;
	}
}

/* The ACPI tables a BIOS would leave at 0xE0000 (reserved in the memory
 * map): the MADT, and the FADT with the PM registers Linux powers off
 * through; the MP tables at the start of the EBDA (boot/mptable.h); the
 * SMBIOS tables at 0xF0000 (boot/smbios.h). Written again on reset, as
 * firmware would. */
/* The tables' description of this board. */
static void board_acpi_config(const struct board *board, struct acpi_config *cfg)
{
	acpi_config_default(cfg);
	cfg->cpus = board->nvcpus;
	/* PCI memory from the top of RAM (rounded to 256 MiB) up to the APICs. */
	uint64_t top = (board->ram.low_size + 0xfffffffull) & ~0xfffffffull;
	if (top < cfg->pci_mem_start)
		cfg->pci_mem_start = (uint32_t)top;
	/* The HPET: its table gives its block ID (GCAP_ID's low half) and,
	 * as the least periodic interval, the pace periodic timers are
	 * coalesced to. */
	cfg->hpet_addr = HPET_BASE;
	cfg->hpet_block_id = (uint32_t)hpet_capabilities();
	cfg->hpet_min_tick = (uint16_t)(TIMER_IRQ_MIN_INTERVAL_NS / HPET_TICK_NS);
}

/* SMBIOS: the CPU as CPUID describes it, the RAM as the board has it. */
static int board_write_smbios(struct board *board)
{
	char vendor[13], brand[49];
	struct cpuid_result r = cpuid_model(0, 0, true, 0);
	memcpy(vendor, &r.ebx, 4);
	memcpy(vendor + 4, &r.edx, 4);
	memcpy(vendor + 8, &r.ecx, 4);
	vendor[12] = '\0';
	for (unsigned i = 0; i < 3; i++) {
		r = cpuid_model(0x80000002u + i, 0, true, 0);
		memcpy(brand + 16 * i, &r, 16);
	}
	brand[48] = '\0';
	struct cpuid_result leaf1 = cpuid_model(1, 0, true, 0);
	struct smbios_config cfg = {
		.cpu_signature = leaf1.eax,
		.cpu_features = leaf1.edx,
		.cpu_vendor = vendor,
		.cpu_brand = brand,
		.cpu_mhz = (uint32_t)(board->clk.hz / 1000000),
		.ram_low = board->ram.low_size,
		.ram_high = guest_ram_high_size(&board->ram),
	};
	uint8_t buf[SMBIOS_MAX_LEN];
	int n = smbios_build(buf, sizeof(buf), SMBIOS_BASE, &cfg);
	if (n < 0)
		return n;
	memcpy(board->ram.host + SMBIOS_BASE, buf, (size_t)n);
	return 0;
}

int board__write_acpi(struct board *board)
{
	struct acpi_config cfg;
	board_acpi_config(board, &cfg);
	uint8_t buf[ACPI_TABLES_MAX_LEN];
	int n = acpi_build(buf, sizeof(buf), ACPI_TABLES_BASE, &cfg, &board->acpi_rsdp);
	if (n < 0)
		return n;
	memcpy(board->ram.host + ACPI_TABLES_BASE, buf, (size_t)n);
	/* The MP tables beside them: what a kernel looks for first. */
	struct cpuid_result leaf1 = cpuid_model(1, 0, true, 0);
	uint8_t mp[MPTABLE_MAX_LEN];
	n = mptable_build(mp, sizeof(mp), MPTABLE_BASE, &cfg, leaf1.eax, leaf1.edx);
	if (n < 0)
		return n;
	memcpy(board->ram.host + MPTABLE_BASE, mp, (size_t)n);
	return board_write_smbios(board);
}

/* A triple fault resets the PC: devices and the processor start over and
 * the kernel image is loaded again. RAM outside the image keeps its
 * contents, as a warm reset leaves DRAM. */
int board__reset(struct board *board)
{
	char err[256];
	struct boot_config boot;
	struct boot_framebuffer fb;
	/* Firmware makes its own tables and sets PCI up itself. */
	int ret = board->firmware ? 0 : board__write_acpi(board);
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: ACPI tables: %s\n", strerror(-ret));
		return ret;
	}
	board_reset_devices(board);
	ret = board->firmware ? 0 : board__firmware(board);
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: firmware: %s\n", strerror(-ret));
		return ret;
	}
	/* A machine booted from its disk's kernel has it in cfg, but for a
	 * migrated one (main.c): read at the switch-over it would lengthen
	 * the guest's stop, so it is found here, on the disk as it is now
	 * (so is a --loadvm one's, whose disks are the snapshot's only once
	 * the board has switched them). */
	if (board->cfg.kernel_from_disk && !board->cfg.kernel_data) {
		struct disk_boot *db = &board->reboot_kernel;
		ret = disk_boot_find(board->cfg.kernel_disk, db, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "btvm: cannot reset the guest: %s\n", err);
			return ret;
		}
		board->cfg.kernel_data = db->kernel;
		board->cfg.kernel_size = db->kernel_size;
		if (board->cfg.initrd_path && db->initrd) {
			board->cfg.initrd_data = db->initrd;
			board->cfg.initrd_size = db->initrd_size;
		}
	}
	board__boot_config(board, &boot, &fb);
	ret = boot_load(&board->ram, &boot, &board->boot, &board->boot_kind, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: %s\n", err);
		return ret;
	}
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpu_reset(&board->vcpus[i].cpu, &board->boot);
	board__vcpu_tsc_sync(board);
	board->timer_deadline = UINT64_MAX;   /* re-arm for the fresh PIT */
	board__platform_poll(board__bsp(board));
	return 0;
}
