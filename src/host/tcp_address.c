/* Parsing tcp:[HOST]:PORT. */
#include "host/tcp_address.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tcp_address_parse(const char *text, const char *def, char *host, size_t host_len,
		      uint16_t *port)
{
	if (strncmp(text, "tcp:", 4))
		return -EINVAL;
	const char *h = text + 4, *colon = strrchr(h, ':');
	if (!colon || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p < 1 || p > 65535)
		return -EINVAL;
	size_t len = (size_t)(colon - h);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len == 0) {
		h = def;
		len = strlen(def);
	}
	if (len >= host_len)
		return -EINVAL;
	snprintf(host, host_len, "%.*s", (int)len, h);
	*port = (uint16_t)p;
	return 0;
}
