/* test_port.c - loopback ports for the test servers. See test_port.h. */
#include "test_port.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Binds loopback port (0: any) once; the port bound, or -1 when it is taken. */
static int
bind_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int got = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return got;
}

/* The first port of the kernel's ephemeral range (32768 when it cannot be read). */
static int
ephemeral_low(void)
{
    int low = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    return low;
}

int
test_port(int bus)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    int low = ephemeral_low(), span = low - 10000 - (bus ? 10000 : 0);
    for (int tries = 0; tries < 200; tries++) {
        int p = span >= 2000 ? 10000 + (int)(rand_r(&seed) % (unsigned)span) : bind_port(0);
        if (p > 0 && bind_port(p) == p &&
            (!bus || (p + 10000 < 65536 && bind_port(p + 10000) == p + 10000)))
            return p;
    }
    ck_abort_msg("no free loopback port");
    return -1;
}
