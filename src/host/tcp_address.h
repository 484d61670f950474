/* The one form every TCP endpoint of the command line and the monitor is
 * written in: tcp:[HOST]:PORT (--gdb, --incoming, migrate). */
#ifndef BTVM_HOST_TCP_ADDRESS_H
#define BTVM_HOST_TCP_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

/* HOST is everything up to the last colon, "[...]" brackets around an
 * IPv6 address removed; an empty HOST gives def (btvm listens on loopback
 * unless asked otherwise). PORT is decimal, 1 to 65535. Returns 0, or
 * -EINVAL for any other text or a HOST longer than host_len allows. */
int tcp_address_parse(const char *text, const char *def, char *host, size_t host_len,
		      uint16_t *port);

#endif
