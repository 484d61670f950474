/* The libslirp backend: the --net parser on good and bad strings, a host
 * port already taken, and slirp end to end on loopback with a fake guest
 * crafting its frames: ARP with the virtual host, then a UDP hostfwd from
 * 127.0.0.1 into the guest and the guest's answer back out. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host/slirp_net.h"

#define MAX_FRAMES 32

/* The fake guest's side: frames slirp sent, from the backend's thread. */
struct guest {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned n;
	size_t len[MAX_FRAMES];
	uint8_t frame[MAX_FRAMES][1600];
};

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void on_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct guest *g = opaque;
	pthread_mutex_lock(&g->lock);
	if (g->n < MAX_FRAMES && len <= sizeof(g->frame[0])) {
		memcpy(g->frame[g->n], frame, len);
		g->len[g->n] = len;
		g->n++;
	}
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Waits up to 60 s (a hang detector, not a speed check) for a frame of
 * this ethertype from index *from on; returns its index or -1. */
static int wait_frame(struct guest *g, unsigned *from, uint16_t ethertype)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&g->lock);
	for (;;) {
		for (; *from < g->n; (*from)++) {
			const uint8_t *f = g->frame[*from];
			if (g->len[*from] >= 14 && (f[12] << 8 | f[13]) == ethertype) {
				int i = (int)(*from)++;
				pthread_mutex_unlock(&g->lock);
				return i;
			}
		}
		if (pthread_cond_timedwait(&g->cond, &g->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&g->lock);
	return -1;
}

/* ---- The parser --------------------------------------------------------- */

static void test_parse(void)
{
	struct slirp_net_config cfg;
	char err[256];
	char addr[INET_ADDRSTRLEN];

	CHECK_EQ(slirp_net_parse("none", &cfg, err, sizeof(err)), 0);
	CHECK(!cfg.enabled);
	CHECK_EQ(slirp_net_parse("user", &cfg, err, sizeof(err)), 0);
	CHECK(cfg.enabled);
	CHECK_EQ(cfg.nfwd, 0);
	CHECK_EQ(slirp_net_parse("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.16:53",
				 &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.nfwd, 2);
	CHECK(!cfg.fwd[0].udp);
	CHECK_EQ(cfg.fwd[0].host_addr.s_addr, htonl(INADDR_ANY));
	CHECK_EQ(cfg.fwd[0].host_port, 2222);
	inet_ntop(AF_INET, &cfg.fwd[0].guest_addr, addr, sizeof(addr));
	CHECK(!strcmp(addr, "10.0.2.15"));
	CHECK_EQ(cfg.fwd[0].guest_port, 22);
	CHECK(cfg.fwd[1].udp);
	inet_ntop(AF_INET, &cfg.fwd[1].host_addr, addr, sizeof(addr));
	CHECK(!strcmp(addr, "127.0.0.1"));
	CHECK_EQ(cfg.fwd[1].host_port, 5353);
	inet_ntop(AF_INET, &cfg.fwd[1].guest_addr, addr, sizeof(addr));
	CHECK(!strcmp(addr, "10.0.2.16"));
	CHECK_EQ(cfg.fwd[1].guest_port, 53);

	static const char *const bad[] = {
		"", "users", "tap", "user,", "user,foo=1", "user,hostfwd=", "user,hostfwd=sctp::1-:2",
		"user,hostfwd=tcp::2222", "user,hostfwd=tcp::2222-:", "user,hostfwd=tcp::-:22",
		"user,hostfwd=tcp::0-:22", "user,hostfwd=tcp::65536-:22", "user,hostfwd=tcp::22x-:22",
		"user,hostfwd=tcp:1.2.3:2222-:22", "user,hostfwd=tcp:2222-:22",
		"user,hostfwd=tcp::2222-10.0.2.300:22", "none,hostfwd=tcp::1-:2",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		int r = slirp_net_parse(bad[i], &cfg, err, sizeof(err));
		CHECK_EQ(r, -EINVAL);
		if (r != -EINVAL)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK_STR_CONTAINS(err, "--net");
		CHECK(!strchr(err, '\n'));
	}
	/* Sixteen rules at most. */
	char many[2048] = "user";
	for (unsigned i = 0; i < SLIRP_NET_MAX_FWD; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",hostfwd=tcp::%u-:22",
			 1000 + i);
	CHECK_EQ(slirp_net_parse(many, &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.nfwd, SLIRP_NET_MAX_FWD);
	strcat(many, ",hostfwd=tcp::999-:22");
	CHECK_EQ(slirp_net_parse(many, &cfg, err, sizeof(err)), -EINVAL);
}

/* ---- Slirp on loopback --------------------------------------------------- */

/* A port of 127.0.0.1 nobody uses right now. */
static uint16_t free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	CHECK(fd >= 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_port_in_use(void)
{
	struct slirp_net_config cfg;
	struct slirp_net *s;
	char arg[128], err[256];

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(fd, 1), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(arg, sizeof(arg), "user,hostfwd=tcp:127.0.0.1:%u-:22", ntohs(sa.sin_port));
	CHECK_EQ(slirp_net_parse(arg, &cfg, err, sizeof(err)), 0);
	err[0] = 0;
	CHECK(slirp_net_open(&s, &cfg, on_receive, NULL, err, sizeof(err)) < 0);
	CHECK(s == NULL);
	CHECK_STR_CONTAINS(err, "cannot use the host port");
	CHECK(!strchr(err, '\n'));
	close(fd);
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void test_loopback(void)
{
	static struct guest g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct slirp_net_config cfg;
	struct slirp_net *s;
	char arg[128], err[256];
	uint8_t f[128];
	unsigned seen = 0;
	uint32_t guest_ip = htonl(0x0a00020f), host_ip = htonl(0x0a000202);
	uint8_t slirp_mac[6];

	uint16_t port = free_port(SOCK_DGRAM);
	snprintf(arg, sizeof(arg), "user,hostfwd=udp:127.0.0.1:%u-:5555", port);
	CHECK_EQ(slirp_net_parse(arg, &cfg, err, sizeof(err)), 0);
	int r = slirp_net_open(&s, &cfg, on_receive, &g, err, sizeof(err));
	if (r) {
		fprintf(stderr, "slirp_net_open: %s\n", err);
		CHECK(!"slirp opened");
		return;
	}
	CHECK_EQ(slirp_net_start(s), 0);

	/* ARP: who has 10.0.2.2, tell 10.0.2.15. Slirp answers and learns
	 * the guest's MAC. */
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16be(f + 12, 0x0806);
	put16be(f + 14, 1);		/* Ethernet */
	put16be(f + 16, 0x0800);	/* IPv4 */
	f[18] = 6;
	f[19] = 4;
	put16be(f + 20, 1);		/* request */
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, &guest_ip, 4);
	memcpy(f + 38, &host_ip, 4);
	slirp_net_transmit(s, f, 60);
	int i = wait_frame(&g, &seen, 0x0806);
	CHECK(i >= 0);
	if (i < 0)
		goto out;
	CHECK(!memcmp(g.frame[i], guest_mac, 6));
	CHECK_EQ(g.frame[i][21], 2);	/* reply */
	CHECK(!memcmp(g.frame[i] + 28, &host_ip, 4));
	memcpy(slirp_mac, g.frame[i] + 22, 6);

	/* The host sends to the forwarded port: a UDP datagram for
	 * 10.0.2.15:5555 reaches the guest. */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK_EQ(sendto(fd, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	i = wait_frame(&g, &seen, 0x0800);
	CHECK(i >= 0);
	if (i < 0) {
		close(fd);
		goto out;
	}
	const uint8_t *ip = g.frame[i] + 14;
	unsigned ihl = (ip[0] & 15u) * 4;
	CHECK_EQ(ip[9], 17);	/* UDP */
	CHECK(!memcmp(ip + 16, &guest_ip, 4));
	CHECK_EQ(ip[ihl + 2] << 8 | ip[ihl + 3], 5555);
	CHECK_EQ(g.len[i] >= 14 + ihl + 8 + 4, 1);
	CHECK(!memcmp(ip + ihl + 8, "ping", 4));
	uint8_t src_ip[4];
	memcpy(src_ip, ip + 12, 4);
	uint16_t src_port = (uint16_t)(ip[ihl] << 8 | ip[ihl + 1]);

	/* The guest answers; the host's socket gets it. */
	memset(f, 0, sizeof(f));
	memcpy(f, slirp_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16be(f + 12, 0x0800);
	uint8_t *o = f + 14;
	o[0] = 0x45;
	put16be(o + 2, 20 + 8 + 4);
	o[8] = 64;
	o[9] = 17;
	memcpy(o + 12, &guest_ip, 4);
	memcpy(o + 16, src_ip, 4);
	put16be(o + 10, ip_checksum(o, 20));
	put16be(o + 20, 5555);
	put16be(o + 22, src_port);
	put16be(o + 24, 8 + 4);
	memcpy(o + 28, "pong", 4);	/* UDP checksum 0: none */
	slirp_net_transmit(s, f, 14 + 32);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 5000), 1);
	char buf[16] = { 0 };
	CHECK_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 4);
	CHECK(!memcmp(buf, "pong", 4));
	close(fd);
	struct slirp_net_stats st = slirp_net_get_stats(s);
	CHECK_EQ(st.tx_frames, 2);
	CHECK_EQ(st.tx_dropped, 0);
	CHECK(st.rx_frames >= 2);
out:
	slirp_net_close(s);
}

int main(void)
{
	test_parse();
	test_port_in_use();
	test_loopback();
	slirp_net_close(NULL);
	return check_report("test_slirp_net");
}
