/* wire.c - soketi-bench's client side of the wire: server frames, masked client frames, HTTP
 * response heads, the bench event format and the server's /proc figures.
 *
 * The server-side codec (src/net/ws_frame.c) refuses unmasked frames, as a server must, so the
 * client needs its own small parser for the other direction; frame headers are written by the
 * project's skt_ws_frame_header() with the mask bit added.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bench/bench.h"
#include "net/ws_frame.h"

int
bench_channel_name(const bench_cfg_t *cfg, long idx, char *out, size_t cap)
{
    static const char *const kinds[] = {"", "private-", "presence-"};
    return snprintf(out, cap, "%s%s-%ld", kinds[cfg->chan_type], cfg->prefix, idx);
}

long
bench_channel_index(const char *name, size_t len)
{
    size_t i = len;
    while (i > 0 && isdigit((unsigned char)name[i - 1]))
        i--;
    if (i == len)
        return -1;
    return strtol(name + i, NULL, 10);
}

ssize_t
bench_ws_parse(const uint8_t *buf, size_t len, unsigned *opcode, int *fin, const uint8_t **payload,
               size_t *plen)
{
    if (len < 2)
        return 0;
    if ((buf[0] & 0x70) || (buf[1] & 0x80))
        return -1; /* RSV bits, or a masked frame from a server */
    size_t hl = 2;
    uint64_t n = buf[1] & 0x7f;
    if (n == 126) {
        if (len < 4)
            return 0;
        n = ((uint64_t)buf[2] << 8) | buf[3];
        hl = 4;
    } else if (n == 127) {
        if (len < 10)
            return 0;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = (n << 8) | buf[i];
        if (n >> 63)
            return -1;
        hl = 10;
    }
    if (len - hl < n)
        return 0;
    *opcode = buf[0] & 0x0f;
    *fin = (buf[0] & 0x80) != 0;
    *payload = buf + hl;
    *plen = (size_t)n;
    return (ssize_t)(hl + n);
}

/* A cheap mask source: the mask only has to be there, not to be secret, for a load test. */
static uint32_t
next_mask(void)
{
    static uint32_t x = 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

size_t
bench_ws_client_frame(uint8_t *out, unsigned opcode, const void *payload, size_t len)
{
    size_t hl = skt_ws_frame_header(out, opcode, len);
    out[1] |= 0x80;
    uint32_t m = next_mask();
    uint8_t mask[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m};
    memcpy(out + hl, mask, 4);
    const uint8_t *p = payload;
    uint8_t *o = out + hl + 4;
    for (size_t i = 0; i < len; i++)
        o[i] = p[i] ^ mask[i & 3];
    return hl + 4 + len;
}

int
bench_http_response(const char *buf, size_t len, int *status, long long *content_length,
                    int *chunked, int *conn_close)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    }
    if (!end)
        return len > 65536 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    if (!isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]))
        return -1;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    *content_length = -1;
    *chunked = 0;
    *conn_close = 0;
    const char *line = memchr(buf, '\n', (size_t)(end - buf)) + 1;
    while (line < end - 2) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            size_t nlen = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0)
                *content_length = strtoll(v, NULL, 10);
            else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0 &&
                     strncasecmp(v, "chunked", 7) == 0)
                *chunked = 1;
            else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0 &&
                     strncasecmp(v, "close", 5) == 0)
                *conn_close = 1;
        }
        line = eol + 1;
    }
    return (int)(end - buf);
}

const char *
bench_json_str(const char *p, size_t len, const char *key, size_t *vlen)
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *s = memmem(p, len, pat, (size_t)n);
    if (!s)
        return NULL;
    s += n;
    const char *e = memchr(s, '"', len - (size_t)(s - p));
    if (!e)
        return NULL;
    *vlen = (size_t)(e - s);
    return s;
}

/* Reads a decimal number at *p (stops at the first non-digit). */
static uint64_t
read_dec(const char **p, const char *end)
{
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    return v;
}

int
bench_event_parse(const char *p, size_t len, uint64_t *t_ns, uint32_t *ch, uint32_t *seq)
{
    const char *s = memmem(p, len, "#B", 2);
    if (!s)
        return 0;
    const char *end = p + len;
    s += 2;
    *t_ns = read_dec(&s, end);
    if (s >= end || *s != '.')
        return 0;
    s++;
    *ch = (uint32_t)read_dec(&s, end);
    if (s >= end || *s != '.')
        return 0;
    s++;
    *seq = (uint32_t)read_dec(&s, end);
    return 1;
}

void
bench_event_data(char *out, int size, uint64_t t_ns, uint32_t ch, uint32_t seq)
{
    char head[80];
    int n = snprintf(head, sizeof(head), "#B%llu.%u.%u.", (unsigned long long)t_ns, ch, seq);
    if (n > size)
        n = size;
    memcpy(out, head, (size_t)n);
    if (size > n)
        memset(out + n, 'x', (size_t)(size - n));
    out[size] = '\0';
}

/* Reads a small /proc file into buf; returns its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (ssize_t)n;
}

long
bench_proc_rss_kb(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    const char *s = strstr(buf, "VmRSS:");
    return s ? strtol(s + 6, NULL, 10) : -1;
}

double
bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    /* The command name may hold spaces and parentheses: fields count from the last ')'. */
    const char *s = strrchr(buf, ')');
    if (!s)
        return -1;
    s += 2; /* field 3, state */
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && *s; field++) {
        if (field == 14)
            utime = strtoull(s, NULL, 10);
        if (field == 15)
            stime = strtoull(s, NULL, 10);
        const char *sp = strchr(s, ' ');
        if (!sp)
            break;
        s = sp + 1;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int
bench_proc_machine(double *busy, double *total)
{
    char buf[4096];
    if (read_small("/proc/stat", buf, sizeof(buf)) < 0 || strncmp(buf, "cpu ", 4) != 0)
        return -1;
    unsigned long long v[8] = {0};
    if (sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) < 5)
        return -1;
    unsigned long long all = 0;
    for (int i = 0; i < 8; i++)
        all += v[i];
    double hz = (double)sysconf(_SC_CLK_TCK);
    *total = (double)all / hz;
    *busy = (double)(all - v[3] - v[4]) / hz; /* minus idle and iowait */
    return 0;
}
