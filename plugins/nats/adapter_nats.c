/* adapter_nats.c - the nats adapter (adapter_nats.so): soketi nodes sharing NATS,
 * wire-compatible with soketi 1.6's NatsAdapter.
 *
 * This file is the transport of soketi's horizontal protocol (the Redis plugins' library,
 * libskt_horizontal: the same requests, answers and merging over either transport): one
 * NATS connection (nats_conn.c, on the host's loop) subscribed to soketi's three subjects,
 * `nats-adapter` (or `<prefix>#nats-adapter`), `...#comms#req` and `...#comms#res`, whose
 * messages go to the horizontal layer as they are (soketi's JSONCodec is JSON bytes), plus
 * an inbox for the replies to its own requests (nats_req.c): the node count that says how
 * many answers a query waits for (nats_count.c) and the JetStream key-value calls of the
 * state the nodes share (nats_store.c, nats_kv.c).
 *
 * NATS being down never stops the daemon: until it is reachable broadcasts reach this
 * node's clients only, queries answer from local state (SOKETI_PARTIAL), the shared-state
 * ops answer SOKETI_ERROR; libnats reconnects by itself, also after a server restart
 * (soketi connects with reconnect: false and stays deaf to its peers until restarted),
 * and moves to another server of a NATS cluster when its server dies.
 */
#include <soketi/adapter.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "horizontal.h"
#include "nats_conn.h"
#include "nats_count.h"
#include "nats_proto.h"
#include "nats_req.h"
#include "nats_store.h"

#define NA_NAME "nats adapter"

/* NATS refuses a message over the server's max_payload (1 MB unless configured otherwise):
 * an answer of ours is cut below it (and marked partial) rather than not sent at all. */
#define NA_MAX_RESPONSE (1024 * 1024 - 8 * 1024)

/* The subscriptions: soketi's three subjects (enum skt_hz_channel), then the inbox. */
enum { NA_INBOX = 3, NA_SUBS = 4 };

typedef struct nats_s {
    const soketi_host_t *host;
    skt_hz_t *hz;
    skt_nc_t *conn;
    skt_nr_t *req;
    skt_ncount_t *count;
    skt_nst_t *store;
    char *subject[NA_SUBS]; /* the inbox's is "<inbox>.*" */
    char *inbox;
    char **servers;
    size_t n_servers;
} nats_t;

#define na_log(n, level, ...) skt_hz_logf((n)->host, NA_NAME, (level), __VA_ARGS__)

/* An option's text, or "" when the host does not know it (or it is null). */
static const char *
cfg(const nats_t *n, const char *name)
{
    const char *v = n->host->config_get(name);
    return v && strcmp(v, "null") != 0 ? v : "";
}

/* An integer option, or def when unset. */
static long
cfg_long(const nats_t *n, const char *name, long def)
{
    const char *v = cfg(n, name);
    return *v ? strtol(v, NULL, 10) : def;
}

/* ---- the connection's events -------------------------------------------------------- */

/* Every message of the connection: soketi's subjects to the horizontal layer, the inbox's
 * replies to the request table. */
static void
na_on_message(void *owner, int sub, natsMsg *msg)
{
    nats_t *n = owner;
    if (sub == NA_INBOX)
        skt_nr_on_reply(n->req, msg);
    else
        skt_hz_on_message(n->hz, sub, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
}

/* Up (first time or again): say so, and learn the servers and the buckets anew (a server
 * that restarted may have lost them). */
static void
na_on_up(void *owner)
{
    nats_t *n = owner;
    na_log(n, SOKETI_LOG_INFO, "connected to nats at %s, subject %s: cross-node delivery is on",
           skt_nc_url(n->conn), n->subject[SKT_HZ_BROADCAST]);
    skt_ncount_up(n->count);
    skt_nst_up(n->store);
}

/* Down: what waits for an answer from NATS answers now with what it has. */
static void
na_on_down(void *owner)
{
    nats_t *n = owner;
    skt_hz_transport_down(n->hz);
    skt_ncount_down(n->count);
    skt_nst_down(n->store);
    skt_nr_fail_all(n->req);
}

/* ---- the transport horizontal.c uses ------------------------------------------------ */

/* The horizontal layer asks peers only while connected. */
static int
na_tr_ready(void *self)
{
    return skt_nc_up(((nats_t *)self)->conn);
}

/* Publishes on the subject of channel (enum skt_hz_channel). */
static int
na_tr_publish(void *self, int channel, const char *data, size_t len)
{
    nats_t *n = self;
    return skt_nc_publish(n->conn, n->subject[channel], data, len);
}

/* How many nodes listen: nats_count.c. */
static int
na_tr_numsub(void *self, skt_hz_req_t *req)
{
    return skt_ncount_ask(((nats_t *)self)->count, req);
}

/* ---- configuration ------------------------------------------------------------------ */

/* adapter.nats.servers (a JSON list of URLs or host:port, or one string) into n->servers.
 * Returns 0, or -1 logged. */
static int
na_read_servers(nats_t *n)
{
    const char *text = cfg(n, "adapter.nats.servers");
    json_t *v = json_loads(*text ? text : "[\"127.0.0.1:4222\"]", JSON_DECODE_ANY, NULL);
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    json_decref(v);
    size_t count = json_array_size(list);
    if (!json_is_array(list) || count == 0) {
        na_log(n, SOKETI_LOG_ERROR, "adapter.nats.servers must list at least one server");
        json_decref(list);
        return -1;
    }
    n->servers = calloc(count, sizeof(*n->servers));
    for (size_t i = 0; n->servers && i < count; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (!s || !*s) {
            na_log(n, SOKETI_LOG_ERROR, "adapter.nats.servers: entry %zu is not a server", i);
            json_decref(list);
            return -1;
        }
        if (!(n->servers[i] = strdup(s)))
            break;
        n->n_servers++;
    }
    json_decref(list);
    if (n->n_servers != count) {
        na_log(n, SOKETI_LOG_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

/* The connection, subscribed to the three subjects and the inbox. */
static int
na_connection(nats_t *n)
{
    skt_nc_config_t c = {
        .servers = (const char *const *)n->servers,
        .n_servers = n->n_servers,
        .user = cfg(n, "adapter.nats.user"),
        .pass = cfg(n, "adapter.nats.pass"),
        .token = cfg(n, "adapter.nats.token"),
        .timeout_ms = cfg_long(n, "adapter.nats.timeout", 10000),
        .creds = cfg(n, "adapter.nats.credentials"),
        .nkey = cfg(n, "adapter.nats.nkey"),
        .nkey_seed = cfg(n, "adapter.nats.nkeySeedPath"),
        .tls = strcmp(cfg(n, "adapter.nats.tls"), "true") == 0,
        .tls_ca = cfg(n, "adapter.nats.tlsCaPath"),
        .tls_cert = cfg(n, "adapter.nats.tlsCertPath"),
        .tls_key = cfg(n, "adapter.nats.tlsKeyPath"),
        .name = n->host->node_id,
        .pending_msgs = cfg_long(n, "adapter.nats.maxPendingMessages", 0),
        .pending_kb = cfg_long(n, "adapter.nats.maxPendingSizeInKb", 0),
    };
    skt_nc_owner_t o = {
        .owner = n, .on_message = na_on_message, .on_up = na_on_up, .on_down = na_on_down};
    n->conn = skt_nc_new(n->host, NA_NAME, &c, (const char *const *)n->subject, NA_SUBS, &o);
    return n->conn ? 0 : -1;
}

/* ---- plugin entry points ------------------------------------------------------------ */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

/* Tears down in the order the parts depend on each other: nothing answers a query, the
 * store says goodbye, the last writes go out, what waits for NATS is ended, then the
 * connection goes. */
static void
na_free(nats_t *n)
{
    if (n->hz)
        skt_hz_shutdown(n->hz);
    skt_nst_shutdown(n->store);
    if (n->conn)
        skt_nc_flush(n->conn, 500); /* the store's last writes */
    skt_ncount_free(n->count);      /* queries waiting for a count are told it failed */
    skt_nr_free(n->req);            /* what still waits for NATS ends (SOKETI_ERROR) */
    skt_nst_free(n->store);
    skt_nc_free(n->conn);
    skt_hz_free(n->hz);
    for (int i = 0; i < NA_SUBS; i++)
        free(n->subject[i]);
    for (size_t i = 0; i < n->n_servers; i++)
        free(n->servers[i]);
    free(n->servers);
    free(n->inbox);
    free(n);
}

/* Everything but the connection's start. Returns 0, or -1 (logged). */
static int
na_setup(nats_t *n)
{
    if (na_read_servers(n) != 0)
        return -1;
    n->inbox = skt_nr_new_inbox();
    if (!n->inbox || skt_np_subjects(cfg(n, "adapter.nats.prefix"), n->subject) != 0)
        goto oom;
    size_t len = strlen(n->inbox) + 3;
    if (!(n->subject[NA_INBOX] = malloc(len)))
        goto oom;
    snprintf(n->subject[NA_INBOX], len, "%s.*", n->inbox);
    if (na_connection(n) != 0)
        return -1;
    long ttl = cfg_long(n, "adapter.nats.nodeTtl", SKT_NST_NODE_TTL_DEFAULT);
    if (!(n->req = skt_nr_new(n->host, n->conn, n->inbox)) ||
        !(n->count = skt_ncount_new(n->host, n->req, n->subject[SKT_HZ_REQUEST],
                                    cfg_long(n, "adapter.nats.nodesNumber", 0), NA_NAME)) ||
        !(n->store = skt_nst_new(n->host, n->req, n->subject[SKT_HZ_BROADCAST], ttl,
                                 (int)cfg_long(n, "adapter.nats.kvReplicas", 1),
                                 cfg_long(n, "channelLimits.cacheTtl", 3600), NA_NAME)))
        goto oom;
    skt_hz_limits_t lim; /* what peers may cost: the adapter.* options */
    skt_hz_limits_from_config(n->host, &lim);
    if (lim.max_response > NA_MAX_RESPONSE)
        lim.max_response = NA_MAX_RESPONSE;
    skt_hz_transport_t tr = {.self = n,
                             .ready = na_tr_ready,
                             .publish = na_tr_publish,
                             .numsub = na_tr_numsub,
                             .store = n->store};
    long timeout = cfg_long(n, "adapter.nats.requestsTimeout", 5000);
    if (!(n->hz = skt_hz_new(n->host, &tr, timeout, &lim, NA_NAME)))
        goto oom;
    return 0;
oom:
    na_log(n, SOKETI_LOG_ERROR, "out of memory");
    return -1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (skt_hz_check_host(host, adapter, NA_NAME) != 0)
        return 1;
    nats_t *n = calloc(1, sizeof(*n));
    if (!n) {
        host->log(SOKETI_LOG_ERROR, NA_NAME ": out of memory");
        return 1;
    }
    n->host = host;
    if (na_setup(n) != 0) {
        na_free(n);
        return 1;
    }
    adapter->self = n->hz;
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(&adapter->ops);
    skt_nst_fill_ops(&adapter->ops);
    skt_nst_fill_read_ops(&adapter->ops);
    long nodes = cfg_long(n, "adapter.nats.nodesNumber", 0);
    char count[64] = "counted on the NATS servers";
    if (nodes > 0)
        snprintf(count, sizeof(count), "%ld (adapter.nats.nodesNumber)", nodes);
    na_log(n, SOKETI_LOG_INFO, "nats at %s%s, subject %s, nodes %s, requests time out after %ld ms",
           n->servers[0], n->n_servers > 1 ? " (and more)" : "", n->subject[SKT_HZ_BROADCAST],
           count, cfg_long(n, "adapter.nats.requestsTimeout", 5000));
    /* connecting never blocks start-up: until NATS answers, this node serves its own
     * clients */
    if (skt_nc_start(n->conn) != 0) {
        adapter->self = NULL;
        na_free(n);
        return 1;
    }
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (adapter->self)
        na_free(skt_hz_transport_self(adapter->self));
    adapter->self = NULL;
}
