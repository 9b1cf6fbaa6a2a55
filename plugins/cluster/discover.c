/* discover.c - node-discover 1.2 on the host's event loop (discover.h says what it does).
 *
 * DESIGN
 * One non-blocking UDP socket and three libevent events on host->base: the socket's
 * readability, the hello timer and the check timer, all owned by skt_dsc_t and freed
 * only by skt_dsc_free (never from their own callbacks). A readable socket is drained
 * SKT_DSC_READ_BATCH datagrams at a time into one receive buffer (a datagram is at most
 * 64 KiB), so a flood costs the loop a bounded slice per wake-up and the kernel drops the
 * rest, as it would for soketi.
 *
 * What a datagram may cost is bounded before it is parsed: its size by UDP itself, its
 * nesting and number of values by skt_rc_scan (the same bounds as the horizontal layer),
 * the node table by max_nodes. Datagrams that are not node-discover packets, or from nodes
 * past the bound, are counted (SOKETI_METRIC_MESSAGE_DROPPED) and logged at most once a
 * second with the count since the previous line.
 */
#include "discover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "horizontal.h"

/* The send buffer is kept between packets up to this size. */
#define DSC_SCRATCH_KEEP (64 * 1024)

/* Why a datagram was dropped here, each with its own log throttle. */
enum dsc_drop {
    DSC_DROP_JUNK = 0, /* not a node-discover packet */
    DSC_DROP_FULL,     /* a hello from a new node past max_nodes */
    DSC_DROP_UNSENT,   /* ours, refused by the kernel */
    DSC_DROPS
};

struct skt_dsc_s {
    const soketi_host_t *host;
    void (*metric)(const char *app_id, int what, double value); /* NULL: the host has none */
    char *log_name;
    long hello_interval, check_interval, node_timeout, master_timeout;
    int port;
    char *host_name;
    int ignore_process;
    skt_dsc_self_t self;
    skt_dsc_state_t me;
    struct sockaddr_in *dest;
    size_t n_dest;
    char describe[160];
    int fd;
    struct event *ev_read, *ev_hello, *ev_check;
    skt_dsc_nodes_t nodes;
    char **channels;
    size_t n_channels;
    size_t *overhead; /* per channel: skt_dsc_overhead */
    void *owner;
    void (*on_message)(void *owner, int channel, const char *data, size_t len);
    char *rbuf; /* one datagram, NUL-terminated */
    skt_jw_t out;
    size_t max_values;
    skt_hz_throttle_t throttle[DSC_DROPS];
};

/* Logs through the host with the node's name in front. */
#define dsc_log(d, level, ...) skt_hz_logf((d)->host, (d)->log_name, (level), __VA_ARGS__)

/* A dropped datagram: counted, and logged when its reason's throttle allows. The line is
 * what, followed by the count kept quiet since the previous one. */
static void
dsc_drop(skt_dsc_t *d, int reason, int level, const char *what)
{
    unsigned long quiet;
    if (d->metric)
        d->metric(NULL, SOKETI_METRIC_MESSAGE_DROPPED, 1);
    if (skt_hz_throttle(&d->throttle[reason], SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet))
        dsc_log(d, level, "%s (%lu more since the last line)", what, quiet);
}

/* ---- sending ------------------------------------------------------------------------- */

/* Sends the packet in d->out to every destination. */
static int
dsc_send_out(skt_dsc_t *d)
{
    size_t sent = 0;
    int err = 0;
    for (size_t i = 0; i < d->n_dest; i++) {
        ssize_t n = sendto(d->fd, d->out.p, d->out.len, MSG_DONTWAIT | MSG_NOSIGNAL,
                           (const struct sockaddr *)&d->dest[i], sizeof(d->dest[i]));
        if (n == (ssize_t)d->out.len)
            sent++;
        else
            err = errno;
    }
    if (sent < d->n_dest) {
        char what[160];
        snprintf(what, sizeof(what),
                 "a packet of %zu bytes was not sent to %zu of %zu destinations: %s", d->out.len,
                 d->n_dest - sent, d->n_dest, strerror(err));
        dsc_drop(d, DSC_DROP_UNSENT, SOKETI_LOG_WARN, what);
    }
    return sent ? SKT_DSC_SENT : SKT_DSC_UNSENT;
}

int
skt_dsc_send(skt_dsc_t *d, int channel, const char *data, size_t len, size_t *packet_len)
{
    size_t head = d->overhead[channel];
    *packet_len = len + head; /* at least */
    if (len > SKT_DSC_MAX_DATAGRAM - head)
        return SKT_DSC_TOO_LARGE;
    skt_jw_trim(&d->out, DSC_SCRATCH_KEEP);
    skt_dsc_encode(&d->out, &d->self, d->channels[channel], data, len);
    if (d->out.failed)
        return SKT_DSC_OOM;
    *packet_len = d->out.len;
    if (d->out.len > SKT_DSC_MAX_DATAGRAM)
        return SKT_DSC_TOO_LARGE;
    return dsc_send_out(d);
}

size_t
skt_dsc_max_text(const skt_dsc_t *d, int channel)
{
    return (SKT_DSC_MAX_DATAGRAM - d->overhead[channel]) / 2;
}

/* node-discover's hello(): this node's state to every destination. */
static void
dsc_hello(skt_dsc_t *d)
{
    skt_jw_trim(&d->out, DSC_SCRATCH_KEEP);
    skt_dsc_encode_hello(&d->out, &d->self, &d->me);
    if (!d->out.failed)
        dsc_send_out(d);
}

static void
dsc_on_hello_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dsc_hello(arg);
}

/* ---- the node table ------------------------------------------------------------------ */

static void
dsc_on_removed(void *arg, const skt_dsc_node_t *node)
{
    skt_dsc_t *d = arg;
    dsc_log(d, SOKETI_LOG_INFO,
            "node %s (%s, %s:%d) left: not heard from for %ld ms; %zu other node(s) in the "
            "cluster",
            node->id, node->host_name, node->address, node->port,
            node->st.is_master ? d->master_timeout : d->node_timeout,
            skt_dsc_nodes_members(&d->nodes) - !node->other_cluster);
}

/* node-discover's check and the election after it: forget silent nodes, then promote or
 * demote this node (saying hello at once when it changed). */
static void
dsc_on_check_timer(evutil_socket_t fd, short what, void *arg)
{
    skt_dsc_t *d = arg;
    (void)fd;
    (void)what;
    uint64_t now = skt_hz_now_ms();
    skt_dsc_nodes_expire(&d->nodes, now, d->node_timeout, d->master_timeout, dsc_on_removed, d);
    switch (skt_dsc_elect(&d->nodes, &d->me, now, d->master_timeout)) {
    case SKT_DSC_PROMOTE:
        d->me.is_master = d->me.is_master_eligible = 1;
        dsc_log(d, SOKETI_LOG_DEBUG, "promoted from node to master");
        dsc_hello(d);
        break;
    case SKT_DSC_DEMOTE:
        d->me.is_master = 0;
        d->me.is_master_eligible = 1;
        dsc_log(d, SOKETI_LOG_DEBUG, "demoted from master to node");
        dsc_hello(d);
        break;
    default:
        break;
    }
}

/* node-discover's evaluateHello: the node is refreshed or added. */
static void
dsc_on_hello(skt_dsc_t *d, const skt_dsc_packet_t *pk, const struct sockaddr_in *from)
{
    skt_dsc_state_t st = {0};
    int has = skt_dsc_read_state(pk->data, &st);
    char shown[SKT_DSC_ID_MAX];
    if (has < 0 || strlen(pk->iid) >= SKT_DSC_ID_MAX ||
        strcmp(skt_dsc_printable(shown, sizeof(shown), pk->iid), pk->iid) != 0) {
        dsc_drop(d, DSC_DROP_JUNK, SOKETI_LOG_DEBUG,
                 "dropped a hello without a usable iid or data");
        return;
    }
    char addr[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
    int port = ntohs(from->sin_port), new_master;
    const skt_dsc_node_t *node;
    int rv = skt_dsc_nodes_hello(&d->nodes, pk->iid, pk->host_name, addr, port, &st, has,
                                 skt_hz_now_ms(), &new_master, &node);
    if (rv == SKT_DSC_ADDED && node->other_cluster) {
        dsc_log(d, SOKETI_LOG_INFO,
                "node %s (%s, %s:%d) of another cluster (channel %s) seen: not counted", node->id,
                node->host_name, addr, port, skt_dsc_printable(shown, sizeof(shown), st.channel));
    } else if (rv == SKT_DSC_ADDED) {
        dsc_log(d, SOKETI_LOG_INFO, "node %s (%s, %s:%d) joined: %zu other node(s) in the cluster",
                node->id, node->host_name, addr, port, skt_dsc_nodes_members(&d->nodes));
    } else if (rv == SKT_DSC_FULL || rv == SKT_DSC_NO_MEMORY) {
        char what[200];
        snprintf(what, sizeof(what),
                 "ignored a hello from a new node at %s:%d: %s (cluster.maxNodes is %zu)", addr,
                 port, rv == SKT_DSC_FULL ? "the node table is full" : "out of memory",
                 d->nodes.max);
        dsc_drop(d, DSC_DROP_FULL, SOKETI_LOG_WARN, what);
    }
    if (new_master)
        dsc_log(d, SOKETI_LOG_DEBUG, "new master: node %s (%s)", node->id, node->host_name);
}

/* ---- receiving ----------------------------------------------------------------------- */

/* A joined channel's data, handed over as text (soketi's adapter sends a string; an
 * object is turned into its JSON text, as soketi's onRequest does). */
static void
dsc_deliver(skt_dsc_t *d, int channel, json_t *data)
{
    if (json_is_string(data)) {
        d->on_message(d->owner, channel, json_string_value(data), json_string_length(data));
        return;
    }
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        d->on_message(d->owner, channel, text, strlen(text));
        free(text);
    }
}

/* The index of a joined channel named event, or -1. */
static int
dsc_channel(const skt_dsc_t *d, const char *event)
{
    for (size_t i = 0; i < d->n_channels; i++)
        if (strcmp(d->channels[i], event) == 0)
            return (int)i;
    return -1;
}

/* One datagram: filtered as node-discover's Network does, then a hello or a channel's. */
static void
dsc_on_datagram(skt_dsc_t *d, const char *buf, size_t len, const struct sockaddr_in *from)
{
    skt_dsc_packet_t pk;
    if (skt_rc_scan(buf, len, SKT_RC_MAX_DEPTH, d->max_values) != SKT_RC_SCAN_OK ||
        skt_dsc_decode(buf, len, &pk) != 0) {
        char what[120];
        char addr[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
        snprintf(what, sizeof(what), "dropped a datagram of %zu bytes from %s:%d: not a packet",
                 len, addr, ntohs(from->sin_port));
        dsc_drop(d, DSC_DROP_JUNK, SOKETI_LOG_WARN, what);
        return;
    }
    int self = pk.iid && strcmp(pk.iid, d->self.iid) == 0;
    int same_process = pk.pid && strcmp(pk.pid, d->self.pid) == 0;
    if (self || (same_process && d->ignore_process) || !pk.iid || !skt_dsc_truthy(pk.data)) {
        skt_dsc_packet_clear(&pk);
        return;
    }
    int channel;
    if (strcmp(pk.event, "hello") == 0)
        dsc_on_hello(d, &pk, from);
    else if ((channel = dsc_channel(d, pk.event)) >= 0)
        dsc_deliver(d, channel, pk.data);
    /* else another of node-discover's channels (soketi's cluster rate limiter): not ours */
    skt_dsc_packet_clear(&pk);
}

static void
dsc_on_readable(evutil_socket_t fd, short what, void *arg)
{
    skt_dsc_t *d = arg;
    (void)what;
    for (int i = 0; i < SKT_DSC_READ_BATCH; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, d->rbuf, SKT_DSC_MAX_DATAGRAM + 1, MSG_DONTWAIT,
                             (struct sockaddr *)&from, &flen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                dsc_log(d, SOKETI_LOG_DEBUG, "recvfrom: %s", strerror(errno));
            return;
        }
        if (n == 0 || flen < sizeof(from) || from.sin_family != AF_INET)
            continue;
        d->rbuf[n] = '\0';
        dsc_on_datagram(d, d->rbuf, (size_t)n, &from);
    }
}

/* ---- setting up ---------------------------------------------------------------------- */

/* Resolves "address[:port]" (IPv4) into dst. Returns 0, or -1 with err set. */
static int
dsc_resolve(const char *text, int default_port, struct sockaddr_in *dst, char *err, size_t errlen)
{
    char addr[256];
    int port;
    if (skt_dsc_parse_destination(text, addr, sizeof(addr), &port) != 0) {
        snprintf(err, errlen, "\"%s\" is not an address or address:port", text);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(addr, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", addr, gai_strerror(rc));
        return -1;
    }
    memcpy(dst, res->ai_addr, sizeof(*dst));
    dst->sin_port = htons((uint16_t)(port ? port : default_port));
    freeaddrinfo(res);
    return 0;
}

/* Fills d->dest from the options, node-discover's way: unicast, else multicast, else
 * broadcast. */
static int
dsc_destinations(skt_dsc_t *d, const skt_dsc_opts_t *o, char *err, size_t errlen)
{
    const char *single = o->multicast ? o->multicast : o->broadcast;
    size_t n = o->n_unicast ? o->n_unicast : 1;
    if (n > SKT_DSC_MAX_DESTINATIONS) {
        snprintf(err, errlen, "cluster.unicast has %zu addresses, more than %d", n,
                 SKT_DSC_MAX_DESTINATIONS);
        return -1;
    }
    if (!(d->dest = calloc(n, sizeof(*d->dest)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (dsc_resolve(o->n_unicast ? o->unicast[i] : single, d->port, &d->dest[i], err, errlen) !=
            0)
            return -1;
    d->n_dest = n;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &d->dest[0].sin_addr, a, sizeof(a));
    snprintf(d->describe, sizeof(d->describe), "%s %s:%d%s",
             o->n_unicast   ? "unicast to"
             : o->multicast ? "multicast group"
                            : "broadcast to",
             a, ntohs(d->dest[0].sin_port), n > 1 ? " and the other unicast addresses" : "");
    if (o->multicast && !IN_MULTICAST(ntohl(d->dest[0].sin_addr.s_addr)) && !o->n_unicast) {
        snprintf(err, errlen, "cluster.multicast %s is not a multicast address", o->multicast);
        return -1;
    }
    return 0;
}

/* Opens and binds the socket: 0.0.0.0:port with SO_REUSEADDR, in the multicast group or
 * allowed to broadcast as the destinations need. */
static int
dsc_socket(skt_dsc_t *d, const skt_dsc_opts_t *o, char *err, size_t errlen)
{
    int one = 1;
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->fd < 0 || setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "cannot open a UDP socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(d->fd, (struct sockaddr *)&any, sizeof(any)) != 0) {
        snprintf(err, errlen, "cannot bind UDP 0.0.0.0:%d (cluster.port): %s", d->port,
                 strerror(errno));
        return -1;
    }
    if (o->n_unicast)
        return 0;
    if (o->multicast) {
        struct ip_mreq m = {.imr_multiaddr = d->dest[0].sin_addr};
        m.imr_interface.s_addr = htonl(INADDR_ANY);
        unsigned char ttl = 1;
        if (setsockopt(d->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) != 0 ||
            setsockopt(d->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0) {
            snprintf(err, errlen, "cannot join multicast group %s: %s", o->multicast,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (setsockopt(d->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "cannot allow broadcast on the UDP socket: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Copies the joined channels and measures each one's packet head. */
static int
dsc_channels(skt_dsc_t *d, const skt_dsc_opts_t *o)
{
    d->channels = calloc(o->n_channels, sizeof(*d->channels));
    d->overhead = calloc(o->n_channels, sizeof(*d->overhead));
    if (!d->channels || !d->overhead)
        return -1;
    d->n_channels = o->n_channels;
    for (size_t i = 0; i < o->n_channels; i++) {
        if (!(d->channels[i] = strdup(o->channels[i])))
            return -1;
        d->overhead[i] = skt_dsc_overhead(&d->self, d->channels[i]);
    }
    return 0;
}

skt_dsc_t *
skt_dsc_new(const skt_dsc_opts_t *o, char *err, size_t errlen)
{
    skt_dsc_t *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->fd = -1;
    d->host = o->host;
    if (o->host->size >= offsetof(soketi_host_t, metric) + sizeof(o->host->metric))
        d->metric = o->host->metric;
    d->hello_interval = o->hello_interval;
    d->check_interval = o->check_interval;
    d->node_timeout = o->node_timeout;
    d->master_timeout = o->master_timeout;
    d->port = o->port;
    d->ignore_process = o->ignore_process;
    d->nodes.max = o->max_nodes;
    d->owner = o->owner;
    d->on_message = o->on_message;
    d->out = (skt_jw_t)SKT_RC_WRITER;
    d->max_values = SKT_DSC_MAX_DATAGRAM / 4 + 16; /* as the horizontal layer bounds them */
    skt_dsc_uuid(d->self.pid);
    skt_dsc_uuid(d->self.iid);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    d->me = (skt_dsc_state_t){
        .is_master_eligible = 1,
        .weight = skt_dsc_weight((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u)};
    d->log_name = strdup(o->log_name);
    d->self.host_name = d->host_name = strdup(o->host_name);
    d->rbuf = malloc(SKT_DSC_MAX_DATAGRAM + 2);
    if (!d->log_name || !d->host_name || !d->rbuf || dsc_channels(d, o) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* the first channel names the cluster: advertised, and the test of other clusters */
    d->self.channel = d->nodes.channel = d->n_channels ? d->channels[0] : NULL;
    if (dsc_destinations(d, o, err, errlen) != 0 || dsc_socket(d, o, err, errlen) != 0)
        goto fail;
    d->ev_read = event_new(o->host->base, d->fd, EV_READ | EV_PERSIST, dsc_on_readable, d);
    d->ev_hello = event_new(o->host->base, -1, EV_PERSIST, dsc_on_hello_timer, d);
    d->ev_check = event_new(o->host->base, -1, EV_PERSIST, dsc_on_check_timer, d);
    if (!d->ev_read || !d->ev_hello || !d->ev_check) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return d;
fail:
    skt_dsc_free(d);
    return NULL;
}

/* A timeval of ms milliseconds. */
static struct timeval
ms_tv(long ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

int
skt_dsc_start(skt_dsc_t *d)
{
    struct timeval hello = ms_tv(d->hello_interval), check = ms_tv(d->check_interval);
    if (event_add(d->ev_read, NULL) != 0 || event_add(d->ev_hello, &hello) != 0 ||
        event_add(d->ev_check, &check) != 0)
        return -1;
    /* the first hello goes when the loop runs: a daemon that refuses to start after loading
     * the adapter never announced itself */
    event_active(d->ev_hello, EV_TIMEOUT, 0);
    return 0;
}

void
skt_dsc_free(skt_dsc_t *d)
{
    if (!d)
        return;
    struct event *evs[] = {d->ev_read, d->ev_hello, d->ev_check};
    for (size_t i = 0; i < 3; i++)
        if (evs[i])
            event_free(evs[i]);
    if (d->fd >= 0)
        close(d->fd);
    for (size_t i = 0; d->channels && i < d->n_channels; i++)
        free(d->channels[i]);
    free(d->channels);
    free(d->overhead);
    skt_dsc_nodes_clear(&d->nodes);
    skt_jw_free(&d->out);
    free(d->dest);
    free(d->rbuf);
    free(d->host_name);
    free(d->log_name);
    free(d);
}

size_t
skt_dsc_node_count(const skt_dsc_t *d)
{
    return skt_dsc_nodes_members(&d->nodes);
}

const char *
skt_dsc_describe(const skt_dsc_t *d)
{
    return d->describe;
}
