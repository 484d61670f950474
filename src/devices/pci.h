/* One PCI function: its 256-byte configuration space (a type 0 header)
 * and the behaviour every function shares, for the chipset functions of
 * devices/pci_host.h and for the devices plugged in beside them.
 *
 * Register semantics: each configuration write changes only the bits set
 * in wmask and clears the bits set in w1cmask that it writes as 1; reads
 * return config. The identification fields (vendor, device, revision,
 * class, header type, subsystem) are read-only. pci_function_init gives a
 * function:
 *   - command: I/O space, memory space, bus master, parity error response,
 *     SERR# and INTx disable (bit 10) writable, 0 at reset. I/O and memory
 *     enable are writable even without a BAR of that kind, because a VGA
 *     function's legacy ports and window are gated by them too;
 *   - status: the error bits (0xf900) write-1-to-clear; bit 4
 *     (capabilities list) set once a capability is added; bit 3 (interrupt
 *     status) follows the function's INTx request, whether or not INTx
 *     disable lets it out;
 *   - cache line size writable, latency timer 0 (no bus to share);
 *   - BARs 0-5 reading 0 until pci_function_add_bar declares one;
 *   - the expansion ROM BAR reading 0 and ignoring writes (no ROM);
 *   - the interrupt line writable (firmware and OS bookkeeping only), the
 *     interrupt pin read-only, 0 until pci_function_set_pin.
 *
 * BARs: a BAR of size S (a power of two) keeps its type bits read-only and
 * address bits 31..log2(S) writable, so writing all ones and reading back
 * gives ~(S - 1) with the type bits: memory (bit 0 clear, type 00 in bits
 * 2-1: 32-bit, bit 3 prefetchable) at least 16 bytes, I/O (bit 0 set, bit
 * 1 reserved) at least 4 bytes and at most 64 KiB. A BAR decodes (is
 * "mapped") at its address when the command register enables its space,
 * the address is not 0 and the range does not touch the top of its space
 * (a memory BAR's last byte below 0xffffffff, an I/O BAR inside the 64 KiB
 * of x86 port space): the pattern left by sizing is never mapped, even
 * with decoding on, as QEMU treats it. Whenever that effective mapping
 * changes (an address write, the command register's enable bits, a reset)
 * the function calls bar_mapped with the new address or PCI_BAR_UNMAPPED,
 * once per change and after the whole configuration write is applied, so
 * a dword write never shows a half-written address. A struct pci_region
 * does the bus side in one call.
 *
 * Capabilities: pci_function_add_capability appends one at the next free
 * dword from 0x40 and links it from the previous one (or from 0x34). Its
 * ID and next pointer are read-only; the body starts zeroed and read-only,
 * and the device fills it through pci_function_set and opens the bytes it
 * wants the guest to write by setting wmask (and hears about those writes
 * through config_written).
 *
 * INTx: the device says whether it requests an interrupt
 * (pci_function_set_irq); the function drives its irq_line (intx, wired
 * by whoever plugs it in: pci_host_add routes it to a PIRQ line) to 1 while
 * the request stands and command bit 10 does not disable it, calling the
 * line only when that level changes. The level is logical (1 = asserted);
 * PCI's INTx# wires are active low, which is for the board to model.
 *
 * There is no locking: the caller serializes every entry point, and the
 * callbacks run under that serialization. */
#ifndef BTVM_DEVICES_PCI_H
#define BTVM_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_BARS 6
/* bar_mapped's address for a BAR that does not decode. */
#define PCI_BAR_UNMAPPED UINT64_MAX

/* Type 0 header offsets. */
enum {
	PCI_REG_VENDOR = 0x00,
	PCI_REG_DEVICE = 0x02,
	PCI_REG_COMMAND = 0x04,
	PCI_REG_STATUS = 0x06,
	PCI_REG_REVISION = 0x08,
	PCI_REG_CLASS = 0x09,	/* programming interface, subclass, class */
	PCI_REG_CACHE_LINE = 0x0c,
	PCI_REG_LATENCY = 0x0d,
	PCI_REG_HEADER_TYPE = 0x0e,
	PCI_REG_BAR0 = 0x10,	/* BAR n at 0x10 + 4n */
	PCI_REG_SUBSYSTEM_VENDOR = 0x2c,
	PCI_REG_SUBSYSTEM = 0x2e,
	PCI_REG_ROM = 0x30,
	PCI_REG_CAPABILITIES = 0x34,
	PCI_REG_INTERRUPT_LINE = 0x3c,
	PCI_REG_INTERRUPT_PIN = 0x3d,
	PCI_REG_DEVICE_SPECIFIC = 0x40,	/* where capabilities go */
};

#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_PARITY	0x0040
#define PCI_COMMAND_SERR	0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT	0x0008
#define PCI_STATUS_CAP_LIST	0x0010
/* Master data parity error, signaled/received target abort, received
 * master abort, signaled system error, detected parity error: the bits
 * hardware sets on an error and software acknowledges by writing 1. */
#define PCI_STATUS_ERRORS	0xf900

#define PCI_HEADER_MULTIFUNCTION 0x80

#define PCI_BAR_IO_SPACE	0x01	/* BAR bit 0: I/O rather than memory */
#define PCI_BAR_PREFETCH	0x08	/* memory BAR bit 3 */

/* Capability IDs a device here is likely to use. */
#define PCI_CAP_ID_MSI		0x05
#define PCI_CAP_ID_VENDOR	0x09	/* virtio's capabilities */
#define PCI_CAP_ID_MSIX		0x11

/* Interrupt pin register values. */
enum pci_pin {
	PCI_PIN_NONE = 0,
	PCI_PIN_INTA = 1,
	PCI_PIN_INTB = 2,
	PCI_PIN_INTC = 3,
	PCI_PIN_INTD = 4,
};

enum pci_bar_kind {
	PCI_BAR_NONE,		/* not implemented: reads 0 */
	PCI_BAR_MEM32,
	PCI_BAR_MEM32_PREFETCH,
	PCI_BAR_IO,
};

struct pci_bar {
	enum pci_bar_kind kind;
	uint32_t size;		/* power of two; 0 for PCI_BAR_NONE */
	uint64_t mapped;	/* address it decodes at now, or PCI_BAR_UNMAPPED */
};

/* What tells a function apart; read-only to the guest. */
struct pci_id {
	uint16_t vendor, device;
	uint8_t revision;
	uint32_t class_code;	/* class << 16 | subclass << 8 | programming interface */
	uint8_t header_type;	/* 0x00, or PCI_HEADER_MULTIFUNCTION on function 0 of several */
	uint16_t subsystem_vendor, subsystem;
};

struct pci_function {
	uint8_t devfn;
	uint8_t config[PCI_CONFIG_SPACE_SIZE];
	uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
	uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE];
	struct pci_bar bar[PCI_NUM_BARS];
	uint8_t cap_last;	/* offset of the last capability, 0 if none */
	uint16_t cap_next;	/* first free byte for the next one */
	bool irq_request;	/* the device's INTx request */
	bool intx_level;	/* what intx was last driven to */
	struct irq_line intx;	/* set by whoever plugs the function in */

	/* Device hooks, each may be NULL; opaque is passed to all of them.
	 * bar_mapped: BAR bar now decodes at addr, or no longer decodes
	 * (PCI_BAR_UNMAPPED). config_read: the guest is about to read
	 * [reg, reg + width); the device may refresh those bytes of config.
	 * config_written: the guest wrote [reg, reg + width) and config
	 * holds the result. */
	void (*bar_mapped)(void *opaque, unsigned bar, uint64_t addr);
	void (*config_read)(void *opaque, unsigned reg, unsigned width);
	void (*config_written)(void *opaque, unsigned reg, unsigned width);
	void *opaque;
};

/* A bus region that follows a BAR: set it up once with pci_region_init and
 * call pci_region_place from bar_mapped. */
struct pci_region {
	struct bus *bus;
	enum bus_space space;
	const char *name;
	uint64_t length;
	const struct bus_ops *ops;
	void *ops_opaque;
	uint64_t base;		/* where it is on the bus, or PCI_BAR_UNMAPPED */
};

/* Header config at (bus 0's) devfn: identification from id, everything
 * else as the header comment says, no BARs, no capabilities, no pin, no
 * hooks, intx unwired. */
void pci_function_init(struct pci_function *fn, uint8_t devfn, const struct pci_id *id);
/* Declares BAR bar (0-5) of kind and size. Returns 0, or -EINVAL for a bad
 * index, a BAR already declared, or a size that is not a power of two in
 * the kind's range (memory 16 B to 2 GiB, I/O 4 B to 64 KiB). */
int pci_function_add_bar(struct pci_function *fn, unsigned bar, enum pci_bar_kind kind,
			 uint32_t size);
/* Appends a capability of len bytes (2 or more: ID and next pointer come
 * first) with the given ID. Returns its offset in config space, or -EINVAL
 * for len < 2, -ENOSPC when it does not fit below 0x100. */
int pci_function_add_capability(struct pci_function *fn, uint8_t cap_id, unsigned len);
void pci_function_set_pin(struct pci_function *fn, enum pci_pin pin);
/* The device's INTx request, raised or withdrawn. */
void pci_function_set_irq(struct pci_function *fn, bool request);
/* Back to the power-on state of the header: command 0 (so every BAR is
 * reported unmapped if it was mapped), BAR addresses 0, status error bits
 * clear, cache line size and interrupt line 0, the INTx request withdrawn.
 * Capability bodies are the device's to reset. */
void pci_function_reset(struct pci_function *fn);

/* Configuration cycles as the guest makes them, width 1, 2 or 4 bytes
 * inside the 256: reads go through config_read, writes through the masks,
 * then the mapping and INTx updates, then config_written. Accesses that
 * are malformed (bad width, crossing the end) read all ones and write
 * nothing. */
uint32_t pci_function_read(struct pci_function *fn, unsigned reg, unsigned width);
void pci_function_write(struct pci_function *fn, unsigned reg, unsigned width, uint32_t value);

/* Device-side access to config: no masks, no hooks, no side effects; for
 * filling capability bodies and reading what the guest wrote. Same width
 * and range rules (a bad access does nothing and reads 0). */
void pci_function_set(struct pci_function *fn, unsigned reg, unsigned width, uint32_t value);
uint32_t pci_function_get(const struct pci_function *fn, unsigned reg, unsigned width);

/* Where BAR bar would decode given config as it stands: the rule in the
 * header comment. PCI_BAR_UNMAPPED for an undeclared BAR. */
uint64_t pci_function_bar_address(const struct pci_function *fn, unsigned bar);

void pci_region_init(struct pci_region *r, struct bus *bus, enum bus_space space,
		     const char *name, uint64_t length, const struct bus_ops *ops,
		     void *ops_opaque);
/* Puts the region at addr (registering or moving it), or takes it off the
 * bus for PCI_BAR_UNMAPPED. Returns 0, or the bus's error when the new
 * range overlaps another region: the region is then off the bus (base
 * PCI_BAR_UNMAPPED), as a BAR that lost the decode to another device. */
int pci_region_place(struct pci_region *r, uint64_t addr);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h), inside the owning device's section: the
 * configuration space's writable bytes and the INTx state. Load takes
 * only the bytes the guest could have written (identity and capabilities
 * stay this build's), then maps the BARs where they now point. */
void pci_function_save(const struct pci_function *fn, struct snap_writer *w);
void pci_function_load(struct pci_function *fn, struct snap_reader *r);
/* Turns the function's decoding off (before BARs are loaded, so that no
 * function is moved onto one that has not moved away yet). */
void pci_function_unmap(struct pci_function *fn);

#endif
