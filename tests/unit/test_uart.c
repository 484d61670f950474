/* The 16550A model driven through a real bus the way the Linux 8250 driver
 * drives it: divisor latch, THR/RBR, LSR, FIFOs, IIR priorities, the THRE
 * interrupt, the OUT2-gated interrupt line, loopback and the scratch
 * register. */
#include "check.h"
#include "devices/bus.h"
#include "devices/uart16550.h"

#define COM1 0x3f8

enum {
	RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
	LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7,
};

struct harness {
	struct bus bus;
	struct uart16550 uart;
	uint8_t tx[64];
	unsigned tx_len;
	int level;
	unsigned level_changes;
	unsigned last_line;
};

static void record_tx(void *opaque, uint8_t byte)
{
	struct harness *h = opaque;

	if (h->tx_len < sizeof(h->tx))
		h->tx[h->tx_len] = byte;
	h->tx_len++;
}

static void record_irq(void *opaque, unsigned line, int level)
{
	struct harness *h = opaque;

	h->level = level;
	h->level_changes++;
	h->last_line = line;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	struct irq_line irq = { .set_level = record_irq, .opaque = h, .line = 4 };
	bus_init(&h->bus);
	uart16550_init(&h->uart, &irq, record_tx, h);
	CHECK_EQ(uart16550_attach(&h->uart, &h->bus, COM1), 0);
}

static uint8_t rd(struct harness *h, unsigned reg)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, COM1 + reg, 1);
}

static void wr(struct harness *h, unsigned reg, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, COM1 + reg, 1, value);
}

static void test_divisor_latch(void)
{
	struct harness h;
	setup(&h);

	wr(&h, IER, 0x05);
	CHECK(uart16550_receive(&h.uart, 'x'));
	wr(&h, LCR, 0x83);
	wr(&h, DLL, 0x01);
	wr(&h, DLM, 0x02);
	CHECK_EQ(rd(&h, DLL), 0x01);
	CHECK_EQ(rd(&h, DLM), 0x02);
	CHECK_EQ(h.uart.divisor, 0x0201);
	wr(&h, LCR, 0x03);
	/* The latch shadowed IER and RBR but did not touch them. */
	CHECK_EQ(rd(&h, IER), 0x05);
	CHECK_EQ(rd(&h, LCR), 0x03);
	CHECK_EQ(rd(&h, LSR) & 0x01, 0x01);
	CHECK_EQ(rd(&h, RBR), 'x');
	CHECK_EQ(h.tx_len, 0);
	CHECK_EQ(h.uart.divisor, 0x0201);
	/* IER bits 4-7 do not exist on a 16550A; Linux tests this. */
	wr(&h, IER, 0xff);
	CHECK_EQ(rd(&h, IER), 0x0f);
}

static void test_transmit_and_lsr(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(rd(&h, LSR), 0x60);
	wr(&h, THR, 'h');
	wr(&h, THR, 'i');
	CHECK_EQ(h.tx_len, 2);
	CHECK_EQ(h.tx[0], 'h');
	CHECK_EQ(h.tx[1], 'i');
	CHECK_EQ(h.uart.tx_bytes, 2);
	CHECK_EQ(rd(&h, LSR), 0x60);

	CHECK(uart16550_receive(&h.uart, 'a'));
	CHECK_EQ(h.uart.rx_bytes, 1);
	CHECK_EQ(rd(&h, LSR), 0x61);
	CHECK_EQ(rd(&h, RBR), 'a');
	CHECK_EQ(rd(&h, LSR), 0x60);
}

static void test_overrun(void)
{
	struct harness h;
	setup(&h);

	/* Only loopback can overrun; host input is refused instead. */
	wr(&h, MCR, 0x10);
	wr(&h, THR, 'a');
	wr(&h, THR, 'b');
	CHECK_EQ(h.uart.rx_overruns, 1);
	CHECK_EQ(rd(&h, LSR), 0x63);
	CHECK_EQ(rd(&h, LSR), 0x61);
	/* Without FIFOs the later byte overwrites the holding register. */
	CHECK_EQ(rd(&h, RBR), 'b');
	CHECK_EQ(rd(&h, LSR), 0x60);

	/* With FIFOs the FIFO keeps its contents and the new byte is lost. */
	wr(&h, FCR, 0x07);
	for (unsigned i = 0; i < 17; i++)
		wr(&h, THR, (uint8_t)('A' + i));
	CHECK_EQ(h.uart.rx_overruns, 2);
	CHECK_EQ(rd(&h, LSR), 0x63);
	unsigned n = 0;
	while ((rd(&h, LSR) & 0x01) && n < 32) {
		CHECK_EQ(rd(&h, RBR), 'A' + n);
		n++;
	}
	CHECK_EQ(n, 16);
	CHECK_EQ(h.tx_len, 0);
}

static void test_fifo(void)
{
	struct harness h;
	setup(&h);

	/* FIFOs off: one byte and the host has to wait. */
	CHECK(uart16550_can_receive(&h.uart));
	CHECK(uart16550_receive(&h.uart, 1));
	CHECK(!uart16550_can_receive(&h.uart));
	CHECK(!uart16550_receive(&h.uart, 2));
	CHECK_EQ(h.uart.rx_overruns, 0);
	CHECK_EQ(rd(&h, LSR) & 0x02, 0);
	CHECK_EQ(rd(&h, RBR), 1);
	CHECK_EQ(rd(&h, LSR) & 0x01, 0);

	wr(&h, FCR, 0x01);
	CHECK_EQ(rd(&h, IIR) & 0xc0, 0xc0);
	for (unsigned i = 0; i < 16; i++)
		CHECK(uart16550_receive(&h.uart, (uint8_t)(0x40 + i)));
	CHECK(!uart16550_can_receive(&h.uart));
	CHECK(!uart16550_receive(&h.uart, 0x99));
	for (unsigned i = 0; i < 16; i++) {
		CHECK_EQ(rd(&h, LSR) & 0x01, 0x01);
		CHECK_EQ(rd(&h, RBR), 0x40 + i);
	}
	CHECK_EQ(rd(&h, LSR) & 0x01, 0);
	CHECK_EQ(h.uart.rx_bytes, 17);

	/* FCR bit 1 empties the receive FIFO. */
	CHECK(uart16550_receive(&h.uart, 5));
	CHECK(uart16550_receive(&h.uart, 6));
	wr(&h, FCR, 0x03);
	CHECK_EQ(rd(&h, LSR) & 0x01, 0);
	CHECK(uart16550_receive(&h.uart, 7));
	CHECK_EQ(rd(&h, RBR), 7);

	/* Turning the FIFOs off drops their contents and the IIR bits. */
	CHECK(uart16550_receive(&h.uart, 8));
	wr(&h, FCR, 0x00);
	CHECK_EQ(rd(&h, LSR) & 0x01, 0);
	CHECK_EQ(rd(&h, IIR) & 0xc0, 0);
}

static void test_iir_priorities(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(rd(&h, IIR), 0x01);
	wr(&h, FCR, 0x01);
	CHECK_EQ(rd(&h, IIR), 0xc1);

	/* Modem status: leaving loopback changes the inputs. */
	wr(&h, IER, 0x08);
	wr(&h, MCR, 0x10);
	wr(&h, MCR, 0x00);
	CHECK_EQ(rd(&h, IIR), 0xc0);
	/* THRE beats modem status. */
	wr(&h, IER, 0x0f);
	CHECK_EQ(rd(&h, IIR), 0xc2);
	/* That read cleared THRE, so modem status is next. */
	CHECK_EQ(rd(&h, IIR), 0xc0);
	wr(&h, THR, 'z');
	CHECK_EQ(rd(&h, IIR), 0xc2);

	/* Received data beats THRE, line status beats both. */
	wr(&h, THR, 'z');
	CHECK(uart16550_receive(&h.uart, 'r'));
	CHECK_EQ(rd(&h, IIR), 0xc4);
	wr(&h, MCR, 0x10);
	for (unsigned i = 0; i < 17; i++)
		wr(&h, THR, 'l');
	CHECK_EQ(rd(&h, IIR), 0xc6);
	CHECK_EQ(rd(&h, LSR) & 0x02, 0x02);
	CHECK_EQ(rd(&h, IIR), 0xc4);
	while (rd(&h, LSR) & 0x01)
		rd(&h, RBR);
	CHECK_EQ(rd(&h, IIR), 0xc2);
	/* Reading IIR did not clear the modem status cause; reading MSR does. */
	CHECK_EQ(rd(&h, IIR), 0xc0);
	rd(&h, MSR);
	CHECK_EQ(rd(&h, IIR), 0xc1);

	/* A cause with its IER bit clear is not reported. */
	wr(&h, IER, 0x00);
	wr(&h, MCR, 0x00);
	CHECK(uart16550_receive(&h.uart, 'q'));
	CHECK_EQ(rd(&h, IIR), 0xc1);
}

static void test_thre_interrupt(void)
{
	struct harness h;
	setup(&h);

	/* Linux's UART_BUG_TXEN probe: enabling ETBEI with THR empty must
	 * raise THRE straight away, and again after IER went through 0. */
	wr(&h, IER, 0x02);
	CHECK_EQ(rd(&h, LSR) & 0x40, 0x40);
	CHECK_EQ(rd(&h, IIR), 0x02);
	CHECK_EQ(rd(&h, IIR), 0x01);
	wr(&h, IER, 0x00);
	CHECK_EQ(rd(&h, IIR), 0x01);
	wr(&h, IER, 0x02);
	CHECK_EQ(rd(&h, IIR), 0x02);
	CHECK_EQ(rd(&h, IIR), 0x01);

	/* Rewriting IER with ETBEI already set is not an enable. */
	wr(&h, IER, 0x02);
	CHECK_EQ(rd(&h, IIR), 0x01);

	/* Each transmitted byte leaves THR empty again at once. */
	wr(&h, THR, 'a');
	CHECK_EQ(rd(&h, IIR), 0x02);
	CHECK_EQ(rd(&h, IIR), 0x01);

	/* Without ETBEI a write leaves nothing pending. */
	wr(&h, IER, 0x00);
	wr(&h, THR, 'b');
	CHECK_EQ(h.uart.thr_empty_irq, 0);
	CHECK_EQ(rd(&h, IIR), 0x01);
}

static void test_irq_line(void)
{
	struct harness h;
	setup(&h);

	/* Pending but OUT2 clear: the PC's gate keeps the line low. */
	wr(&h, IER, 0x01);
	CHECK(uart16550_receive(&h.uart, 'a'));
	CHECK_EQ(rd(&h, IIR), 0x04);
	CHECK_EQ(h.level_changes, 0);

	wr(&h, MCR, 0x0b);
	CHECK_EQ(h.level_changes, 1);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(h.last_line, 4);
	/* No change, no call. */
	rd(&h, LSR);
	rd(&h, IIR);
	CHECK_EQ(h.level_changes, 1);

	rd(&h, RBR);
	CHECK_EQ(h.level_changes, 2);
	CHECK_EQ(h.level, 0);

	CHECK(uart16550_receive(&h.uart, 'b'));
	CHECK_EQ(h.level_changes, 3);
	CHECK_EQ(h.level, 1);
	wr(&h, MCR, 0x03);
	CHECK_EQ(h.level_changes, 4);
	CHECK_EQ(h.level, 0);
	wr(&h, MCR, 0x0b);
	CHECK_EQ(h.level, 1);
	wr(&h, IER, 0x00);
	CHECK_EQ(h.level, 0);
	CHECK_EQ(h.level_changes, 6);

	/* THRE through the line: raised by the IER write, lowered by IIR. */
	rd(&h, RBR);
	wr(&h, IER, 0x02);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(rd(&h, IIR), 0x02);
	CHECK_EQ(h.level, 0);
	CHECK_EQ(h.level_changes, 8);
}

static void test_loopback(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(rd(&h, MSR), 0xb0);
	/* Linux's autoconfig check: RTS|OUT2 in loopback must read CTS|DCD. */
	wr(&h, MCR, 0x1a);
	CHECK_EQ(rd(&h, MSR) & 0xf0, 0x90);
	wr(&h, MCR, 0x15);
	CHECK_EQ(rd(&h, MSR) & 0xf0, 0x60);
	wr(&h, MCR, 0x10);
	CHECK_EQ(rd(&h, MSR) & 0xf0, 0x00);
	/* Deltas: CTS, DSR and DCD on any change, RI on its trailing edge. */
	wr(&h, MCR, 0x1f);
	CHECK_EQ(rd(&h, MSR), 0xfb);
	CHECK_EQ(rd(&h, MSR), 0xf0);
	wr(&h, MCR, 0x10);
	CHECK_EQ(rd(&h, MSR), 0x0f);
	CHECK_EQ(rd(&h, MCR), 0x10);

	wr(&h, FCR, 0x01);
	wr(&h, THR, 'L');
	wr(&h, THR, 'B');
	CHECK_EQ(h.tx_len, 0);
	CHECK_EQ(h.uart.tx_bytes, 0);
	CHECK_EQ(rd(&h, LSR) & 0x01, 0x01);
	CHECK_EQ(rd(&h, RBR), 'L');
	CHECK_EQ(rd(&h, RBR), 'B');
	CHECK_EQ(rd(&h, LSR) & 0x01, 0);

	/* The serial input is disconnected: host input waits. */
	CHECK(!uart16550_can_receive(&h.uart));
	CHECK(!uart16550_receive(&h.uart, 'h'));

	/* OUT2 in loopback drives DCD, not the interrupt line. */
	wr(&h, IER, 0x01);
	wr(&h, MCR, 0x18);
	wr(&h, THR, 'i');
	CHECK_EQ(rd(&h, IIR), 0xc4);
	CHECK_EQ(h.level_changes, 0);

	/* Back to normal: the modem looks ready and bytes leave again. */
	wr(&h, MCR, 0x0b);
	CHECK_EQ(rd(&h, MSR) & 0xf0, 0xb0);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(rd(&h, RBR), 'i');
	wr(&h, THR, 'o');
	CHECK_EQ(h.tx_len, 1);
	CHECK_EQ(h.tx[0], 'o');
	CHECK(uart16550_can_receive(&h.uart));
}

static void test_scratch(void)
{
	struct harness h;
	setup(&h);

	wr(&h, SCR, 0xa5);
	CHECK_EQ(rd(&h, SCR), 0xa5);
	wr(&h, SCR, 0x5a);
	CHECK_EQ(rd(&h, SCR), 0x5a);
	CHECK_EQ(h.tx_len, 0);
}

static void test_wide_access(void)
{
	struct harness h;
	setup(&h);

	/* One 16-bit write to DLL/DLM is two byte writes in order. */
	wr(&h, LCR, 0x80);
	bus_write(&h.bus, BUS_SPACE_PIO, COM1 + DLL, 2, 0x3412);
	CHECK_EQ(h.uart.divisor, 0x3412);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, COM1 + DLL, 2), 0x3412);
	wr(&h, LCR, 0x03);

	/* THR then IER: one byte out, then ETBEI set. */
	bus_write(&h.bus, BUS_SPACE_PIO, COM1 + THR, 2, 0x0241);
	CHECK_EQ(h.tx_len, 1);
	CHECK_EQ(h.tx[0], 'A');
	CHECK_EQ(rd(&h, IER), 0x02);
	CHECK_EQ(h.bus.unclaimed_writes[BUS_SPACE_PIO], 0);

	/* Past the last register is nobody's. */
	bus_read(&h.bus, BUS_SPACE_PIO, COM1 + 8, 1);
	CHECK_EQ(h.bus.unclaimed_reads[BUS_SPACE_PIO], 1);
}

int main(void)
{
	test_divisor_latch();
	test_transmit_and_lsr();
	test_overrun();
	test_fifo();
	test_iir_priorities();
	test_thre_interrupt();
	test_irq_line();
	test_loopback();
	test_scratch();
	test_wide_access();
	return check_report("test_uart");
}
