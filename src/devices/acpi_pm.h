/* The ACPI fixed power-management hardware, laid out as on a PIIX4: the
 * PM1a event block (status, enable), the PM1a control block and the PM
 * timer, in one 12-byte I/O region (0x600-0x60b by default), and the SCI
 * interrupt line. The FADT that boot/acpi.c builds points at these ports,
 * and the DSDT's \_S5 carries ACPI_PM_SLP_TYP_S5.
 *
 * What is there:
 * - PM1 status (+0, 16 bits, write 1 to clear): TMR_STS, set each time
 *   bit 23 of the PM timer toggles; PWRBTN_STS, set by
 *   acpi_pm_power_button(); WAK_STS, set when a sleep request (any
 *   SLP_EN write but the soft off) has been handled.
 *   The other status bits (bus master, global lock release, sleep button,
 *   RTC alarm, PCIe wake) are never set.
 * - PM1 enable (+2, 16 bits): TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN,
 *   RTC_EN and PCIEXP_WAKE_DIS are stored and read back.
 * - PM1 control (+4, 16 bits): SCI_EN always reads 1 and cannot be
 *   cleared, so the hardware is in ACPI mode from the start (the FADT has
 *   no SMI_CMD to switch modes); BM_RLD and SLP_TYP are stored; GBL_RLS and
 *   SLP_EN are write-only. Writing SLP_EN with SLP_TYP = ACPI_PM_SLP_TYP_S5
 *   calls power_off once; later writes are ignored, the machine being
 *   off. Writing SLP_EN with any other SLP_TYP (or S5 without a power_off
 *   callback) calls the optional sleep_request with the type; the sleep,
 *   if the board models one at all, happens inside that call, and on
 *   return the machine has woken: WAK_STS is set, so an OS polling for
 *   the wake never hangs.
 * - PM timer (+8, 32 bits read-only): a 24-bit counter at
 *   ACPI_PM_TIMER_HZ derived from virtual time, counting from the
 *   caller's time 0 (bits 24-31 read 0: the FADT says the timer is 24
 *   bits wide).
 * - The SCI (an active-high level, IRQ 9 as an ISA line) is asserted while
 *   a status bit is set whose enable bit is set; the OS runs with SCI_EN
 *   always on.
 *
 * Any access width and offset is taken: a read samples the clock once, so
 * a 32-bit timer read is consistent; byte writes merge into the registers
 * they hit. The two reserved bytes at +6 and +7 read all ones.
 *
 * Time is virtual, as for the PIT (see pit8254.h): the register handlers
 * ask the clock_ns callback. TMR_STS can only turn on with time passing,
 * so the caller runs acpi_pm_update() at or after acpi_pm_next_event_ns()
 * to raise the SCI on a timer overflow the OS enabled. There is no
 * locking: the caller serializes every entry point and register access. */
#ifndef BTVM_DEVICES_ACPI_PM_H
#define BTVM_DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define ACPI_PM_BASE_PORT 0x600u
#define ACPI_PM_IO_LEN 12u
#define ACPI_PM1_EVT_OFFSET 0u
#define ACPI_PM1_CNT_OFFSET 4u
#define ACPI_PM_TMR_OFFSET 8u
#define ACPI_PM1A_EVT_PORT (ACPI_PM_BASE_PORT + ACPI_PM1_EVT_OFFSET)
#define ACPI_PM1A_CNT_PORT (ACPI_PM_BASE_PORT + ACPI_PM1_CNT_OFFSET)
#define ACPI_PM_TMR_PORT (ACPI_PM_BASE_PORT + ACPI_PM_TMR_OFFSET)
/* Block lengths as the FADT gives them. */
#define ACPI_PM1_EVT_LEN 4u
#define ACPI_PM1_CNT_LEN 2u
#define ACPI_PM_TMR_LEN 4u

#define ACPI_PM_SCI_IRQ 9u
#define ACPI_PM_TIMER_HZ 3579545u
/* SLP_TYP that means soft off: the value \_S5 holds in the DSDT. */
#define ACPI_PM_SLP_TYP_S5 5u

/* PM1 status and enable bits. */
#define ACPI_PM1_TMR 0x0001u
#define ACPI_PM1_BM_STS 0x0010u
#define ACPI_PM1_GBL 0x0020u
#define ACPI_PM1_PWRBTN 0x0100u
#define ACPI_PM1_SLPBTN 0x0200u
#define ACPI_PM1_RTC 0x0400u
#define ACPI_PM1_PCIEXP_WAKE 0x4000u
#define ACPI_PM1_WAK_STS 0x8000u

/* PM1 control bits. */
#define ACPI_PM1_CNT_SCI_EN 0x0001u
#define ACPI_PM1_CNT_BM_RLD 0x0002u
#define ACPI_PM1_CNT_GBL_RLS 0x0004u
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP 0x1c00u
#define ACPI_PM1_CNT_SLP_EN 0x2000u

struct acpi_pm {
	uint16_t sts, en, cnt;	/* cnt without SCI_EN, which reads as 1 */
	/* The timer tick at which bit 23 next toggles and sets TMR_STS, or
	 * UINT64_MAX while TMR_STS is already set. */
	uint64_t tmr_toggle_tick;
	bool sci_level;		/* what the SCI was last driven to */
	bool powered_off;
	struct irq_line sci;
	/* Every callback gets opaque. clock_ns is required; the others are
	 * optional and set after acpi_pm_init(). */
	uint64_t (*clock_ns)(void *opaque);
	void (*power_off)(void *opaque);
	void (*sleep_request)(void *opaque, unsigned slp_typ);
	/* Called when a register write moved acpi_pm_next_event_ns(), so a
	 * board sleeping until the old deadline can re-arm its timer. */
	void (*deadline_changed)(void *opaque);
	void *opaque;
	uint64_t scis;		/* rising edges of the SCI, for --stats */
};

/* Power-on state: all status and enable bits clear, SLP_TYP 0. The clock
 * is read once here. */
void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  uint64_t (*clock_ns)(void *opaque), void *opaque);
/* Claims ACPI_PM_IO_LEN ports from base_port in the I/O space. */
int acpi_pm_attach(struct acpi_pm *pm, struct bus *bus, uint16_t base_port);
/* Latches a timer overflow due by now_ns and drives the SCI. */
void acpi_pm_update(struct acpi_pm *pm, uint64_t now_ns);
/* When acpi_pm_update() next has an SCI to raise: now_ns if one is due,
 * UINT64_MAX while the timer overflow is disabled or already latched. */
uint64_t acpi_pm_next_event_ns(const struct acpi_pm *pm, uint64_t now_ns);
/* A press of the fixed power button: PWRBTN_STS, and the SCI if the OS
 * enabled PWRBTN_EN. */
void acpi_pm_power_button(struct acpi_pm *pm);
/* The 24-bit PM timer value at now_ns. */
uint32_t acpi_pm_timer_value(uint64_t now_ns);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "APM ", the PM registers. */
void acpi_pm_save(const struct acpi_pm *pm, struct snap_writer *w);
int acpi_pm_load(struct acpi_pm *pm, struct snap_reader *r);

#endif
