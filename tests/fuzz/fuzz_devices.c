/* Fuzzing harness for the devices' register interfaces (src/devices/):
 * every device on one bus, wired as src/machine/wiring.c wires the PC (the
 * ISA lines to both interrupt controllers, the I/O APIC to the local APIC and
 * its EOIs back, a deadline change re-reading every timer as the board's
 * re-arm does), driven by a program in the input. Each 12-byte record is
 *
 *   byte 0     target: a device (an access), or a board-side operation
 *   byte 1     bit 0 write (or level, or pressed), bits 1-2 log2 of the width
 *   bytes 2-3  offset into the device's regions, laid end to end
 *   bytes 4-11 value
 *
 * Accesses go through bus_read/bus_write, so the bus splits them as it does
 * for the guest. The board-side operations are what the run loop does
 * between accesses: time going by, with or without a poll (the timers'
 * updates) after it, interrupt acknowledge cycles, ISA lines driven by
 * devices the harness does not have, bytes, keys and raw keyboard bytes
 * from the host, the APIC base MSR, the PIT gates, the power button. A
 * reset request re-initialises the devices after the access that made it,
 * as the board does.
 *
 * The Bochs display (devices/bochs_display.h) is plugged in at 00:02.0 with
 * its BARs placed as the firmware would (BAR0 at DISPLAY_VRAM_BASE, BAR2 at
 * DISPLAY_MMIO_BASE, decoding on, again after every reset); its operations
 * come last, after the board's, so that the other records keep their
 * numbers: OP_DISPLAY is an access (flags as a device's; offset bits 0-1
 * the place: the DISPI ports, BAR2, BAR0, or the board's boot-time mode
 * set from the value; the rest of the offset where in it), through the bus
 * at the BAR's current address (a guest moving or disabling the BAR
 * through DEV_PCI's configuration cycles moves it away), and
 * OP_DISPLAY_RENDER a render of the picture (flag: full; else only the
 * dirty rows), at most MAX_RENDERS an input so that one input stays
 * fast. Every device must take any program without a crash,
 * a hang or a sanitizer report, and after a poll none may ask to be looked
 * at again at the same instant (the board would spin on it). */
#include "fuzz.h"

#include "devices/acpi_pm.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/isa_debug_exit.h"
#include "devices/lapic.h"
#include "devices/mc146818.h"
#include "devices/pci_host.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port92.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"

#define COM1_PORT 0x3f8u
#define COM1_IRQ 4u
#define PIT_IRQ 0u
#define ISA_IRQS 16u
/* How deep deadline-change callbacks may nest inside one another. */
#define MAX_CALLBACK_DEPTH 4u
#define DISPLAY_DEVFN 0x10u		/* 00:02.0, as QEMU's -vga std */
#define DISPLAY_VRAM_BASE 0xe0000000u
#define DISPLAY_MMIO_BASE 0xe1000000u
/* Full renders draw up to BOCHS_MAX_PIXELS each. */
#define MAX_RENDERS 8u

enum device_id {
	DEV_UART,
	DEV_PIT,
	DEV_PIC,
	DEV_RTC,
	DEV_I8042,
	DEV_LAPIC,
	DEV_IOAPIC,
	DEV_PCI,
	DEV_ACPI_PM,
	DEV_PORT92,
	DEV_DEBUG_EXIT,
	DEV_TESTDEV,
	DEV_COUNT,
};

enum board_op {
	OP_ADVANCE = DEV_COUNT,	/* value: the time step; flag clear: then a poll */
	OP_INTA,		/* an interrupt acknowledge cycle, if one is due */
	OP_ISA_IRQ,		/* offset: the line; flag: the level */
	OP_UART_RX,		/* value: a byte from the host */
	OP_KEY,			/* offset: the set 2 key; flag: pressed */
	OP_APIC_BASE,		/* value: a WRMSR to IA32_APIC_BASE */
	OP_PIT_GATE,		/* offset: the channel; flag: the level */
	OP_POWER_BUTTON,
	OP_KEY_BYTES,		/* value: up to 8 bytes, offset % 9 of them; flag: raw */
	OP_DISPLAY,		/* see above */
	OP_DISPLAY_RENDER,	/* flag: full */
	OP_COUNT,
};

/* The bus regions a device claimed when it was attached. */
struct device_span {
	enum bus_space space;
	unsigned first, count;
	uint64_t length;	/* of all of them together */
};

struct machine {
	uint64_t now;
	struct bus bus;
	struct uart16550 uart;
	struct pit8254 pit;
	struct pic8259_pair pic;
	struct mc146818 rtc;
	struct i8042 kbc;
	struct lapic lapic;
	struct ioapic ioapic;
	struct pci_host pci;
	struct acpi_pm pm;
	struct port92 port92;
	struct isa_debug_exit debug_exit;
	struct testdev testdev;
	struct bochs_display display;
	unsigned renders;
	uint8_t dirty[BOCHS_DIRTY_BYTES];
	struct device_span span[DEV_COUNT];
	bool reset_requested;
	unsigned callback_depth;
	uint64_t sink;		/* what reads returned, so none is optimised away */
};

static uint64_t machine_clock(void *opaque)
{
	const struct machine *m = opaque;
	return m->now;
}

/* As the board: an ISA line goes to both controllers; the PIT's is I/O
 * APIC pin 2 (the MADT's interrupt source override). */
static void isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct machine *m = opaque;
	pic8259_set_irq(&m->pic, irq, level);
	ioapic_set_irq(&m->ioapic, irq == PIT_IRQ ? 2 : irq, level);
}

static uint64_t next_device_event(const struct machine *m)
{
	uint64_t deadline = pit8254_next_event_ns(&m->pit, m->now);
	uint64_t d = mc146818_next_event_ns(&m->rtc, m->now);
	deadline = d < deadline ? d : deadline;
	d = acpi_pm_next_event_ns(&m->pm, m->now);
	deadline = d < deadline ? d : deadline;
	d = lapic_next_event_ns(&m->lapic, m->now);
	return d < deadline ? d : deadline;
}

/* The board re-arms its timer from inside the device's register access. */
static void deadline_changed(void *opaque)
{
	struct machine *m = opaque;
	fuzz_require(m->callback_depth < MAX_CALLBACK_DEPTH, "deadline callbacks nest without end");
	m->callback_depth++;
	m->sink += next_device_event(m);
	m->callback_depth--;
}

static void output_changed(void *opaque, int level)
{
	struct machine *m = opaque;
	m->sink += (uint64_t)level;
}

/* The display's VRAM and the window's picture: too big to clear for
 * every input, and nothing depends on what they hold. */
static uint8_t display_vram[BOCHS_VRAM_SIZE];
static uint32_t display_pixels[BOCHS_MAX_PIXELS];

static void vram_moved(void *opaque, uint64_t gpa)
{
	struct machine *m = opaque;
	m->sink += gpa;
}

/* What the firmware does for the display after every reset. */
static void place_display(struct machine *m)
{
	unsigned devfn = DISPLAY_DEVFN;
	pci_host_config_write(&m->pci, 0, devfn, PCI_REG_BAR0 + 4 * BOCHS_VRAM_BAR, 4,
			      DISPLAY_VRAM_BASE);
	pci_host_config_write(&m->pci, 0, devfn, PCI_REG_BAR0 + 4 * BOCHS_MMIO_BAR, 4,
			      DISPLAY_MMIO_BASE);
	pci_host_config_write(&m->pci, 0, devfn, PCI_REG_COMMAND, 2,
			      PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
}

static void reset_request(void *opaque)
{
	struct machine *m = opaque;
	m->reset_requested = true;
}

static void power_off(void *opaque)
{
	struct machine *m = opaque;
	m->sink++;
}

static void sleep_request(void *opaque, unsigned slp_typ)
{
	struct machine *m = opaque;
	m->sink += slp_typ;
}

static void request_exit(void *opaque, int status)
{
	struct machine *m = opaque;
	m->sink += (uint64_t)status;
}

static void uart_tx(void *opaque, uint8_t byte)
{
	struct machine *m = opaque;
	m->sink += byte;
}

static void a20_changed(void *opaque, bool enabled)
{
	struct machine *m = opaque;
	m->sink += enabled;
}

/* Every device to its power-on state, as board_reset_devices does; the
 * bus regions stay registered. */
static void reset_devices(struct machine *m)
{
	struct irq_line com1_irq = { .set_level = isa_irq_set, .opaque = m, .line = COM1_IRQ };
	struct irq_line pit_irq = { .set_level = isa_irq_set, .opaque = m, .line = PIT_IRQ };
	struct irq_line sci_irq = { .set_level = isa_irq_set, .opaque = m, .line = ACPI_PM_SCI_IRQ };
	struct irq_line kbd_irq = { .set_level = isa_irq_set, .opaque = m, .line = I8042_KBD_IRQ };
	struct irq_line aux_irq = { .set_level = isa_irq_set, .opaque = m, .line = I8042_AUX_IRQ };

	lapic_init(&m->lapic, machine_clock, m);
	lapic_virtual_wire(&m->lapic);
	m->lapic.deadline_changed = deadline_changed;
	m->lapic.output_changed = output_changed;
	m->lapic.eoi_broadcast = ioapic_eoi_broadcast;
	m->lapic.eoi_opaque = &m->ioapic;
	ioapic_init(&m->ioapic, lapic_deliver_message, &m->lapic);
	pic8259_init(&m->pic, output_changed, m);
	pit8254_init(&m->pit, &pit_irq, machine_clock, m);
	m->pit.deadline_changed = deadline_changed;
	mc146818_reset(&m->rtc, m->now);
	acpi_pm_init(&m->pm, &sci_irq, machine_clock, m);
	m->pm.power_off = power_off;
	m->pm.sleep_request = sleep_request;
	m->pm.deadline_changed = deadline_changed;
	uart16550_init(&m->uart, &com1_irq, uart_tx, m);
	i8042_init(&m->kbc, &kbd_irq, &aux_irq, a20_changed, reset_request, m);
	port92_init(&m->port92, a20_changed, reset_request, m);
	bochs_display_reset(&m->display);
	pci_host_init(&m->pci);
	fuzz_require(pci_host_add(&m->pci, &m->display.pci) == 0, "the display would not plug in");
	place_display(m);
	testdev_init(&m->testdev);
	m->reset_requested = false;
}

/* Notes the regions a device claimed: those registered in space since
 * there were before of them; err is what its attach function returned. */
static void note_span(struct machine *m, enum device_id id, enum bus_space space,
		      unsigned before, int err)
{
	fuzz_require(err == 0, "a device would not attach");
	struct device_span *s = &m->span[id];
	s->space = space;
	s->first = before;
	s->count = m->bus.count[space] - before;
	s->length = 0;
	for (unsigned i = 0; i < s->count; i++)
		s->length += m->bus.regions[space][before + i].length;
	fuzz_require(s->count > 0 && s->length > 0, "a device claimed no region");
}

static void machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	bus_init(&m->bus);
	struct irq_line rtc_irq = { .set_level = isa_irq_set, .opaque = m, .line = RTC_IRQ };
	/* 2024-01-01: a fixed date keeps every run of an input the same. */
	mc146818_init(&m->rtc, &rtc_irq, 1704067200, machine_clock, m);
	m->rtc.deadline_changed = deadline_changed;
	mc146818_set_memory_size(&m->rtc, 256ull << 20);
	bochs_display_init(&m->display, DISPLAY_DEVFN, display_vram, NULL);
	m->display.vram_moved = vram_moved;
	m->display.opaque = m;
	reset_devices(m);
	m->debug_exit.request_exit = request_exit;
	m->debug_exit.opaque = m;

	struct bus *bus = &m->bus;
	unsigned pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_UART, BUS_SPACE_PIO, pio, uart16550_attach(&m->uart, bus, COM1_PORT));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_PIT, BUS_SPACE_PIO, pio, pit8254_attach(&m->pit, bus));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_PIC, BUS_SPACE_PIO, pio, pic8259_attach(&m->pic, bus));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_RTC, BUS_SPACE_PIO, pio, mc146818_attach(&m->rtc, bus));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_I8042, BUS_SPACE_PIO, pio, i8042_attach(&m->kbc, bus));
	unsigned mmio = bus->count[BUS_SPACE_MMIO];
	note_span(m, DEV_LAPIC, BUS_SPACE_MMIO, mmio, lapic_attach(&m->lapic, bus, LAPIC_DEFAULT_BASE));
	mmio = bus->count[BUS_SPACE_MMIO];
	note_span(m, DEV_IOAPIC, BUS_SPACE_MMIO, mmio,
		  ioapic_attach(&m->ioapic, bus, IOAPIC_DEFAULT_BASE));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_PCI, BUS_SPACE_PIO, pio, pci_host_attach(&m->pci, bus));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_ACPI_PM, BUS_SPACE_PIO, pio, acpi_pm_attach(&m->pm, bus, ACPI_PM_BASE_PORT));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_PORT92, BUS_SPACE_PIO, pio, port92_attach(&m->port92, bus));
	pio = bus->count[BUS_SPACE_PIO];
	note_span(m, DEV_DEBUG_EXIT, BUS_SPACE_PIO, pio,
		  isa_debug_exit_attach(&m->debug_exit, bus, ISA_DEBUG_EXIT_PORT));
	mmio = bus->count[BUS_SPACE_MMIO];
	note_span(m, DEV_TESTDEV, BUS_SPACE_MMIO, mmio,
		  testdev_attach(&m->testdev, bus, TESTDEV_BASE));
	/* Last, so that the BAR regions come and go after every region a
	 * span above counts. The BARs were placed before the bus was there:
	 * place them again now that it is. */
	fuzz_require(bochs_display_attach(&m->display, bus) == 0, "the display would not attach");
	pci_host_config_write(&m->pci, 0, DISPLAY_DEVFN, PCI_REG_COMMAND, 2, 0);
	place_display(m);
}

/* OP_DISPLAY: offset bits 0-1 the place, the rest where in it. */
static void display_access(struct machine *m, bool write, unsigned width, uint64_t offset,
			   uint64_t value)
{
	enum bus_space space = BUS_SPACE_MMIO;
	uint64_t where = offset >> 2, addr;

	switch (offset & 3) {
	case 0:
		space = BUS_SPACE_PIO;
		addr = BOCHS_DISPI_PORT_INDEX + where % BOCHS_DISPI_PORT_COUNT;
		break;
	case 1:
		addr = m->display.pci.bar[BOCHS_MMIO_BAR].mapped + where % BOCHS_MMIO_SIZE;
		break;
	case 2:
		/* 16 Ki places 1 KiB apart, the last bytes of VRAM among them. */
		addr = m->display.pci.bar[BOCHS_VRAM_BAR].mapped +
		       ((where << 10 | (where & 0x3ff)) % BOCHS_VRAM_SIZE);
		break;
	default: {
		struct bochs_screen_info si;
		m->sink += (uint64_t)bochs_display_set_mode(&m->display, (unsigned)(value & 0xfff),
							    (unsigned)(value >> 12 & 0xfff),
							    (unsigned)(value >> 24 & 0x3f));
		m->sink += (uint64_t)bochs_display_screen_info(&m->display, &si) + si.lfb_base;
		return;
	}
	}
	/* An unmapped BAR's PCI_BAR_UNMAPPED plus the offset wraps to low
	 * addresses, where nothing of the display is: still a valid access. */
	if (write)
		bus_write(&m->bus, space, addr, width, value);
	else
		m->sink += bus_read(&m->bus, space, addr, width);
}

static void display_render(struct machine *m, bool full)
{
	unsigned width, height;
	if (m->renders >= MAX_RENDERS)
		return;
	m->renders++;
	bochs_display_take_dirty(&m->display, m->dirty);
	m->sink += bochs_display_render(&m->display, m->dirty, full, display_pixels, &width,
					&height);
	fuzz_require(width <= BOCHS_MAX_WIDTH && height <= BOCHS_MAX_HEIGHT,
		     "the display drew a picture larger than its maximum");
	memset(m->dirty, 0, sizeof(m->dirty));
}

/* The bus address of byte offset of a device's regions laid end to end. */
static uint64_t device_address(const struct machine *m, enum device_id id, uint64_t offset)
{
	const struct device_span *s = &m->span[id];
	offset %= s->length;
	for (unsigned i = 0; i < s->count; i++) {
		const struct bus_region *r = &m->bus.regions[s->space][s->first + i];
		if (offset < r->length)
			return r->base + offset;
		offset -= r->length;
	}
	return m->bus.regions[s->space][s->first].base;
}

static void device_access(struct machine *m, enum device_id id, bool write, unsigned width,
		   uint64_t offset, uint64_t value)
{
	enum bus_space space = m->span[id].space;
	uint64_t addr = device_address(m, id, offset);
	if (write)
		bus_write(&m->bus, space, addr, width, value);
	else
		m->sink += bus_read(&m->bus, space, addr, width);
}

/* What the board's poll does: every timer brought up to now. Afterwards
 * each must point at a moment still to come, or the board, which wakes at
 * the earliest deadline, would poll again at once and forever. */
static void poll_timers(struct machine *m)
{
	pit8254_update(&m->pit, m->now);
	mc146818_update(&m->rtc, m->now);
	acpi_pm_update(&m->pm, m->now);
	lapic_update(&m->lapic, m->now);
	fuzz_require(pit8254_next_event_ns(&m->pit, m->now) > m->now,
		     "the PIT is due again at once");
	fuzz_require(mc146818_next_event_ns(&m->rtc, m->now) > m->now,
		     "the RTC is due again at once");
	fuzz_require(acpi_pm_next_event_ns(&m->pm, m->now) > m->now,
		     "the PM timer is due again at once");
	fuzz_require(lapic_next_event_ns(&m->lapic, m->now) > m->now,
		     "the APIC timer is due again at once");
}

/* Time goes by; with poll, the board's poll follows. Without, the vCPU ran
 * on (no attention asked) and the devices meet the new time only in the
 * next access, which must catch up with everything that became due. */
static void advance(struct machine *m, uint64_t value, bool poll)
{
	m->now = fuzz_time_step(m->now, value);
	if (poll)
		poll_timers(m);
}

/* As the board's interrupt window: the local APIC's own requests first,
 * the 8259's through LINT0 while the APIC passes ExtINT on. */
static void acknowledge(struct machine *m)
{
	if (lapic_has_interrupt(&m->lapic))
		m->sink += (uint64_t)lapic_acknowledge(&m->lapic);
	else if (lapic_accepts_pic(&m->lapic) && pic8259_has_interrupt(&m->pic))
		m->sink += (uint64_t)pic8259_acknowledge(&m->pic);
}

static void board_op(struct machine *m, enum board_op op, unsigned flags, uint64_t offset,
		     uint64_t value)
{
	bool flag = flags & 1;

	switch (op) {
	case OP_ADVANCE:
		advance(m, value, !flag);
		break;
	case OP_INTA:
		acknowledge(m);
		break;
	case OP_ISA_IRQ:
		isa_irq_set(m, (unsigned)(offset % ISA_IRQS), flag);
		break;
	case OP_UART_RX:
		m->sink += uart16550_receive(&m->uart, (uint8_t)value);
		break;
	case OP_KEY:
		m->sink += i8042_key_event(&m->kbc, (uint16_t)offset, flag);
		break;
	case OP_APIC_BASE:
		m->sink += (uint64_t)lapic_set_base_msr(&m->lapic, value);
		break;
	case OP_PIT_GATE:
		pit8254_set_gate(&m->pit, (unsigned)(offset % PIT_CHANNELS), flag, m->now);
		break;
	case OP_POWER_BUTTON:
		acpi_pm_power_button(&m->pm);
		break;
	case OP_KEY_BYTES: {
		uint8_t bytes[8];
		unsigned len = (unsigned)(offset % (sizeof(bytes) + 1));
		for (unsigned i = 0; i < sizeof(bytes); i++)
			bytes[i] = (uint8_t)(value >> (8 * i));
		/* Raw: bytes on the keyboard's wire; else one key's set 2 codes. */
		if (flag)
			m->sink += i8042_send_bytes(&m->kbc, bytes, len);
		else
			m->sink += i8042_key_sequence(&m->kbc, bytes, len);
		break;
	}
	case OP_DISPLAY:
		display_access(m, flag, 1u << ((flags >> 1) & 3), offset, value);
		break;
	case OP_DISPLAY_RENDER:
		display_render(m, flag);
		break;
	case OP_COUNT:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	machine_init(&m);
	struct fuzz_input in = { .data = data, .size = size };
	while (fuzz_input_left(&in)) {
		unsigned target = (unsigned)(fuzz_take(&in, 1) % OP_COUNT);
		unsigned flags = (unsigned)fuzz_take(&in, 1);
		uint64_t offset = fuzz_take(&in, 2);
		uint64_t value = fuzz_take(&in, 8);
		bool flag = flags & 1;
		if (target < DEV_COUNT)
			device_access(&m, (enum device_id)target, flag, 1u << ((flags >> 1) & 3), offset, value);
		else
			board_op(&m, (enum board_op)target, flags, offset, value);
		if (m.reset_requested)
			reset_devices(&m);
	}
	return 0;
}
