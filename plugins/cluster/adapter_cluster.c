/* adapter_cluster.c - the cluster adapter (adapter_cluster.so): soketi nodes that find each
 * other with UDP announcements and need no broker, wire-compatible with soketi 1.6's
 * ClusterAdapter (src/adapters/cluster-adapter.ts over node-discover).
 *
 * This file is the transport of the horizontal layer (plugins/redis/horizontal.h) over
 * discover.c: the three channels are node-discover channels (`cluster-adapter`, or
 * `<cluster.prefix>#cluster-adapter`, plus its `#comms#req` and `#comms#res`), a message
 * is the `data` string of one datagram, and "how many nodes listen" is the number of nodes
 * discovered plus this one, as soketi's getNumSub counts `server.nodes`.
 *
 * DESIGN
 * The layer asks for that count and waits for it to be reported later; the count is known
 * at once here, so each question waits in the layer's queue of counts (skt_hz_counts_t)
 * for a deferred event on the host's loop. At cleanup the layer is shut down first
 * (pending queries answer), then the counts still queued are reported (to requests
 * already answered) before the layer is freed, as skt_hz_free requires.
 *
 * One message must fit one datagram (SKT_DSC_MAX_DATAGRAM with its packet around it):
 * our answers to peers are cut below that (adapter.maxResponseSizeInKb is lowered to what
 * always fits, the answer then marked partial); a broadcast that does not fit is
 * delivered to this node's clients only, logged and counted (SOKETI_METRIC_MESSAGE_DROPPED).
 * There is no state shared between nodes (no store): the optional ops stay NULL and the
 * daemon decides webhooks, rate limits and the presence limit per node, as soketi does.
 */
#include <soketi/adapter.h>

#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "discover.h"
#include "horizontal.h"

#define CL_NAME "cluster adapter"

/* node-discover's port when soketi's cluster.port is 0 (`options.port || 12345`). */
#define CL_DEFAULT_PORT 12345
/* Room an answer to a peer keeps for its head ({"requestId":...,"<field>":[) and what
 * closes it, beside its list. */
#define CL_ANSWER_FRAME 128

typedef struct cluster_s {
    const soketi_host_t *host;
    void (*metric)(const char *app_id, int what, double value); /* NULL: the host has none */
    skt_hz_t *hz;
    skt_dsc_t *dsc;
    char *chan[3]; /* by enum skt_hz_channel */
    skt_hz_counts_t *counts;
    skt_hz_throttle_t too_large;
} cluster_t;

/* Logs through the host with the adapter's name in front. */
#define cl_log(c, level, ...) skt_hz_logf((c)->host, CL_NAME, (level), __VA_ARGS__)

/* An option's text, or "" when the host does not know it. */
static const char *
cfg(const cluster_t *c, const char *name)
{
    const char *v = c->host->config_get(name);
    return v ? v : "";
}

/* An integer option, or def when it is unknown or not a number. */
static long
cfg_long(const cluster_t *c, const char *name, long def)
{
    const char *v = cfg(c, name);
    char *end;
    long n = strtol(v, &end, 10);
    return *v && !*end ? n : def;
}

/* ---- what discover.c hands over ------------------------------------------------------- */

static void
cl_on_message(void *owner, int channel, const char *data, size_t len)
{
    cluster_t *c = owner;
    skt_hz_on_message(c->hz, channel, data, len);
}

/* ---- the transport horizontal.c uses --------------------------------------------------- */

static int
cl_tr_ready(void *self)
{
    (void)self;
    return 1; /* the socket is bound from init on: UDP has no connection to wait for */
}

/* One of our messages did not fit a datagram: logged (throttled) with what it was, and
 * counted. */
static void
cl_too_large(cluster_t *c, int channel, const char *data, size_t len, size_t packet_len)
{
    skt_rc_broadcast_t m;
    int is_bcast = channel == SKT_HZ_BROADCAST && skt_rc_decode_broadcast(data, len, &m) == 0;
    unsigned long quiet;
    if (c->metric)
        c->metric(is_bcast ? m.app_id : NULL, SOKETI_METRIC_MESSAGE_DROPPED, 1);
    if (skt_hz_throttle(&c->too_large, SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet)) {
        if (is_bcast)
            cl_log(c, SOKETI_LOG_WARN,
                   "a broadcast on channel %s of app %s takes %zu bytes as a packet, more than "
                   "one UDP datagram holds (%d): delivered to this node's clients only, not "
                   "to the other nodes (%lu more since the last line)",
                   m.channel, m.app_id, packet_len, SKT_DSC_MAX_DATAGRAM, quiet);
        else
            cl_log(c, SOKETI_LOG_WARN,
                   "a message on %s takes %zu bytes as a packet, more than one UDP datagram "
                   "holds (%d): not sent (%lu more since the last line)",
                   c->chan[channel], packet_len, SKT_DSC_MAX_DATAGRAM, quiet);
    }
    if (is_bcast)
        skt_rc_broadcast_clear(&m);
}

static int
cl_tr_publish(void *self, int channel, const char *data, size_t len)
{
    cluster_t *c = self;
    size_t packet_len;
    /* nobody to ask: soketi does not send a request then either */
    if (channel == SKT_HZ_REQUEST && skt_dsc_node_count(c->dsc) == 0)
        return 0;
    int rv = skt_dsc_send(c->dsc, channel, data, len, &packet_len);
    if (rv == SKT_DSC_TOO_LARGE)
        cl_too_large(c, channel, data, len, packet_len);
    else if (rv == SKT_DSC_OOM)
        cl_log(c, SOKETI_LOG_ERROR, "out of memory encoding a packet");
    return rv == SKT_DSC_SENT ? 0 : -1;
}

static int
cl_tr_numsub(void *self, skt_hz_req_t *req)
{
    cluster_t *c = self;
    /* soketi's server.nodes: the discovered nodes and `self` */
    return skt_hz_counts_add(c->counts, req, (long)skt_dsc_node_count(c->dsc) + 1);
}

/* ---- configuration ------------------------------------------------------------------- */

/* Splits cluster.unicast (JSON: null, a string of comma-separated addresses, or an array
 * of strings, as node-discover takes it) into list (new strings, *n of them). Returns 0,
 * or -1 with the reason logged. */
static int
cl_unicast(cluster_t *c, char ***list, size_t *n)
{
    const char *text = cfg(c, "cluster.unicast");
    *list = NULL;
    *n = 0;
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v && *text)
        v = json_string(text); /* a bare string, from a host that gives it unquoted */
    json_t *items = json_is_array(v) ? json_incref(v) : json_array();
    if (json_is_string(v)) { /* "a,b,c" */
        char *copy = strdup(json_string_value(v));
        for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
             t = strtok_r(NULL, ",", &save))
            json_array_append_new(items, json_string(t));
        free(copy);
    }
    size_t count = json_array_size(items), k = 0;
    int bad = 0;
    *list = calloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; *list && i < count && !bad; i++) {
        json_t *e = json_array_get(items, i);
        if (!json_is_string(e)) {
            cl_log(c, SOKETI_LOG_ERROR, "cluster.unicast must hold addresses (strings)");
            bad = 1;
            break;
        }
        const char *s = json_string_value(e);
        size_t len = strlen(s);
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len && !((*list)[k++] = strndup(s, len)))
            bad = 1;
    }
    json_decref(items);
    json_decref(v);
    *n = k;
    if (!*list)
        cl_log(c, SOKETI_LOG_ERROR, "out of memory reading cluster.unicast");
    return !*list || bad ? -1 : 0;
}

/* The hostName this node announces: cluster.hostname, else node-discover's
 * DISCOVERY_HOSTNAME or the machine's name. Written into buf. */
static const char *
cl_host_name(const cluster_t *c, char *buf, size_t cap)
{
    const char *name = cfg(c, "cluster.hostname");
    const char *env = getenv("DISCOVERY_HOSTNAME");
    if (*name)
        return name;
    if (env && *env)
        return env;
    if (gethostname(buf, cap) != 0)
        snprintf(buf, cap, "localhost");
    buf[cap - 1] = '\0';
    return buf;
}

/* The three channel names, soketi's clusterPrefix('cluster-adapter') and its pair. */
static int
cl_channels(cluster_t *c)
{
    const char *prefix = cfg(c, "cluster.prefix");
    const char *suffix[3] = {"", "#comms#req", "#comms#res"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(prefix) + strlen(suffix[i]) + 20;
        if (!(c->chan[i] = malloc(len)))
            return -1;
        snprintf(c->chan[i], len, "%s%scluster-adapter%s", prefix, *prefix ? "#" : "", suffix[i]);
    }
    return 0;
}

/* Reads the cluster.* options into o (strings borrowed from the host, the unicast list
 * from *unicast, which the caller frees). Returns 0, or -1 with the reason logged. */
static int
cl_read_options(cluster_t *c, skt_dsc_opts_t *o, char **unicast, size_t n_unicast, char *name_buf,
                size_t name_cap)
{
    o->hello_interval = cfg_long(c, "cluster.helloInterval", 500);
    o->check_interval = cfg_long(c, "cluster.checkInterval", 500);
    o->node_timeout = cfg_long(c, "cluster.nodeTimeout", 2000);
    o->master_timeout = cfg_long(c, "cluster.masterTimeout", 2000);
    long port = cfg_long(c, "cluster.port", 11002);
    o->port = port == 0 ? CL_DEFAULT_PORT : (int)port;
    /* node-discover throws on these at start; soketi then fails to start too */
    const char *wrong =
        o->hello_interval <= 0 || o->check_interval <= 0 ? "the intervals must be positive"
        : o->node_timeout < o->check_interval ? "nodeTimeout must be greater than or equal to "
                                                "checkInterval"
        : o->master_timeout < o->node_timeout ? "masterTimeout must be greater than or equal to "
                                                "nodeTimeout"
        : port < 0 || port > 65535            ? "cluster.port is not a UDP port"
                                              : NULL;
    if (wrong) {
        cl_log(c, SOKETI_LOG_ERROR, "cluster.*: %s", wrong);
        return -1;
    }
    const char *bcast = cfg(c, "cluster.broadcast");
    const char *mcast = cfg(c, "cluster.multicast");
    o->host_name = cl_host_name(c, name_buf, name_cap);
    o->ignore_process = strcmp(cfg(c, "cluster.ignoreProcess"), "false") != 0;
    o->broadcast = *bcast && strcmp(bcast, "null") != 0 ? bcast : "255.255.255.255";
    o->multicast = *mcast && strcmp(mcast, "null") != 0 ? mcast : NULL;
    o->unicast = (const char *const *)unicast;
    o->n_unicast = n_unicast;
    long max_nodes = cfg_long(c, "cluster.maxNodes", 256);
    o->max_nodes = max_nodes > 0 ? (size_t)max_nodes : 256;
    return 0;
}

/* ---- plugin entry points --------------------------------------------------------------- */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

static void
cl_free(cluster_t *c)
{
    if (c->hz)
        skt_hz_shutdown(c->hz);
    skt_hz_counts_free(c->counts); /* the counts still queued report: the requests go */
    skt_hz_free(c->hz);
    skt_dsc_free(c->dsc);
    for (int i = 0; i < 3; i++)
        free(c->chan[i]);
    free(c);
}

/* Reads the options and binds the socket of discovery (c->dsc), not yet sending. Returns
 * 0, or -1 with the reason logged. o gets the options (strings borrowed, the host name in
 * name_buf). */
static int
cl_discover(cluster_t *c, skt_dsc_opts_t *o, char *name_buf, size_t name_cap)
{
    char **unicast = NULL, err[256];
    size_t n_unicast = 0;
    *o = (skt_dsc_opts_t){.host = c->host,
                          .log_name = CL_NAME,
                          .channels = (const char *const *)c->chan,
                          .n_channels = 3,
                          .owner = c,
                          .on_message = cl_on_message};
    int rv = cl_unicast(c, &unicast, &n_unicast);
    if (rv == 0)
        rv = cl_read_options(c, o, unicast, n_unicast, name_buf, name_cap);
    if (rv == 0 && !(c->dsc = skt_dsc_new(o, err, sizeof(err)))) {
        cl_log(c, SOKETI_LOG_ERROR, "%s", err);
        rv = -1;
    }
    for (size_t i = 0; i < n_unicast; i++)
        free(unicast[i]);
    free(unicast);
    o->unicast = NULL; /* freed */
    return rv;
}

/* Starts discovery and the horizontal layer over it. Returns 0, or -1 with the reason
 * logged. */
static int
cl_setup(cluster_t *c)
{
    char name[256];
    skt_dsc_opts_t o;
    if (cl_channels(c) != 0 || !(c->counts = skt_hz_counts_new(c->host->base))) {
        cl_log(c, SOKETI_LOG_ERROR, "out of memory");
        return -1;
    }
    if (cl_discover(c, &o, name, sizeof(name)) != 0)
        return -1;

    long timeout = cfg_long(c, "adapter.cluster.requestsTimeout", 5000);
    skt_hz_limits_t lim;
    skt_hz_limits_from_config(c->host, &lim);
    size_t fits = skt_dsc_max_text(c->dsc, SKT_HZ_RESPONSE) - CL_ANSWER_FRAME;
    if (lim.max_response > fits)
        lim.max_response = fits;
    skt_hz_transport_t tr = {
        .self = c, .ready = cl_tr_ready, .publish = cl_tr_publish, .numsub = cl_tr_numsub};
    if (!(c->hz = skt_hz_new(c->host, &tr, timeout, &lim, CL_NAME)) || skt_dsc_start(c->dsc) != 0) {
        cl_log(c, SOKETI_LOG_ERROR, "out of memory");
        return -1;
    }
    cl_log(c, SOKETI_LOG_INFO,
           "UDP 0.0.0.0:%d, %s, hostName %s, channel %s; requests time out after %ld ms, "
           "answers to peers hold at most %zu KB (a datagram's worth at most)",
           o.port, skt_dsc_describe(c->dsc), o.host_name, c->chan[SKT_HZ_BROADCAST], timeout,
           lim.max_response / 1024);
    return 0;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (skt_hz_check_host(host, adapter, CL_NAME) != 0)
        return 1;
    cluster_t *c = calloc(1, sizeof(*c));
    if (!c) {
        host->log(SOKETI_LOG_ERROR, CL_NAME ": out of memory");
        return 1;
    }
    c->host = host;
    if (host->size >= offsetof(soketi_host_t, metric) + sizeof(host->metric))
        c->metric = host->metric;
    if (cl_setup(c) != 0) {
        cl_free(c);
        return 1;
    }
    /* no store: the shared-state ops stay NULL, the daemon decides per node */
    adapter->self = c->hz;
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(&adapter->ops);
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (adapter->self)
        cl_free(skt_hz_transport_self(adapter->self));
    adapter->self = NULL;
}
