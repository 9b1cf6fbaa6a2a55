/* discover_proto.c - node-discover 1.2's packets, node table and master election, without
 * sockets or clocks (discover_proto.h says what each is).
 *
 * DESIGN
 * Packets are written key by key in node-discover's order with the project's JSON writer
 * (JSON.stringify's escapes when the writer has lower_hex set) and read with jansson,
 * checking every field's type: anyone on the network can send a datagram. The node table
 * is an array searched linearly: it holds at most cluster.maxNodes entries, few in any
 * cluster UDP discovery suits, and a hello costs one pass over it.
 */
#include "discover_proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RAW_LIT(b, lit) skt_jw_raw((b), (lit), sizeof(lit) - 1)

void
skt_dsc_uuid(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        /* no entropy yet (very early boot): the address and rand() still tell nodes apart */
        uintptr_t a = (uintptr_t)out;
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)(rand() ^ (int)(a >> (i % sizeof(a))));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

double
skt_dsc_weight(uint64_t unix_ms)
{
    double scale = 1;
    for (uint64_t v = unix_ms; v; v /= 10)
        scale *= 10;
    return -((double)unix_ms / scale);
}

/* ---- writing ------------------------------------------------------------------------- */

/* Writes `{"event":..,"pid":..,"iid":..,"hostName":..,"data":`: every packet's head. */
static void
encode_head(skt_jw_t *b, const skt_dsc_self_t *self, const char *event)
{
    RAW_LIT(b, "{\"event\":");
    skt_jw_cstr_value(b, event);
    RAW_LIT(b, ",\"pid\":");
    skt_jw_cstr_value(b, self->pid);
    RAW_LIT(b, ",\"iid\":");
    skt_jw_cstr_value(b, self->iid);
    RAW_LIT(b, ",\"hostName\":");
    skt_jw_cstr_value(b, self->host_name);
    RAW_LIT(b, ",\"data\":");
}

void
skt_dsc_encode(skt_jw_t *b, const skt_dsc_self_t *self, const char *event, const char *data,
               size_t len)
{
    encode_head(b, self, event);
    skt_jw_str(b, data, len);
    RAW_LIT(b, "}");
}

size_t
skt_dsc_overhead(const skt_dsc_self_t *self, const char *event)
{
    skt_jw_t b = {.lower_hex = 1};
    skt_dsc_encode(&b, self, event, "", 0);
    size_t n = b.failed ? SKT_DSC_MAX_DATAGRAM : b.len;
    skt_jw_free(&b);
    return n;
}

/* Writes d as JavaScript prints a number: the shortest decimal that reads back as d. */
static void
write_number(skt_jw_t *b, double d)
{
    char buf[40];
    if (!isfinite(d)) {
        RAW_LIT(b, "null"); /* JSON.stringify(NaN) */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    skt_jw_raw(b, buf, strlen(buf));
}

void
skt_dsc_encode_hello(skt_jw_t *b, const skt_dsc_self_t *self, const skt_dsc_state_t *st)
{
    encode_head(b, self, "hello");
    RAW_LIT(b, "{\"isMaster\":");
    skt_jw_bool(b, st->is_master);
    RAW_LIT(b, ",\"isMasterEligible\":");
    skt_jw_bool(b, st->is_master_eligible);
    RAW_LIT(b, ",\"weight\":");
    write_number(b, st->weight);
    RAW_LIT(b, ",\"address\":\"127.0.0.1\"");
    if (self->channel) {
        RAW_LIT(b, ",\"advertisement\":{\"channel\":");
        skt_jw_cstr_value(b, self->channel);
        RAW_LIT(b, "}");
    }
    RAW_LIT(b, "}}");
}

/* ---- reading ------------------------------------------------------------------------- */

int
skt_dsc_truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
    case JSON_ARRAY:
    case JSON_TRUE:
        return 1;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0 && !isnan(json_real_value(v));
    default:
        return 0;
    }
}

/* A string field's text, or NULL when absent or of another type. */
static const char *
str_field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int
skt_dsc_decode(const char *text, size_t len, skt_dsc_packet_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!text || len == 0)
        return -1;
    json_t *root = json_loadb(text, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    out->root = root;
    out->event = str_field(root, "event");
    if (!out->event)
        out->event = "";
    out->pid = str_field(root, "pid");
    out->iid = str_field(root, "iid");
    out->host_name = str_field(root, "hostName");
    out->data = json_object_get(root, "data");
    return 0;
}

void
skt_dsc_packet_clear(skt_dsc_packet_t *p)
{
    json_decref(p->root);
    memset(p, 0, sizeof(*p));
}

int
skt_dsc_read_state(const json_t *data, skt_dsc_state_t *st)
{
    if (!json_is_object(data))
        return -1;
    int has = 0;
    json_t *v;
    if ((v = json_object_get(data, "isMaster"))) {
        st->is_master = skt_dsc_truthy(v);
        has |= SKT_DSC_HAS_MASTER;
    }
    if ((v = json_object_get(data, "isMasterEligible"))) {
        st->is_master_eligible = skt_dsc_truthy(v);
        has |= SKT_DSC_HAS_ELIGIBLE;
    }
    if ((v = json_object_get(data, "weight"))) {
        st->weight = json_is_number(v) ? json_number_value(v) : NAN;
        has |= SKT_DSC_HAS_WEIGHT;
    }
    if ((v = json_object_get(data, "advertisement"))) {
        st->channel = str_field(v, "channel"); /* NULL unless v is an object holding one */
        has |= SKT_DSC_HAS_ADVERT;
    }
    return has;
}

/* ---- destinations -------------------------------------------------------------------- */

int
skt_dsc_parse_destination(const char *text, char *addr, size_t cap, int *port)
{
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    *port = 0;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(addr, text, n);
    addr[n] = '\0';
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return 0;
}

/* ---- the node table ------------------------------------------------------------------ */

/* Copies s into dst (cap bytes), cut to fit. */
static void
copy_cut(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

const char *
skt_dsc_printable(char *dst, size_t cap, const char *s)
{
    copy_cut(dst, cap, s);
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return dst;
}

/* The entry of id, or NULL. */
static skt_dsc_node_t *
nodes_find(skt_dsc_nodes_t *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0)
            return &t->v[i];
    return NULL;
}

/* A new zeroed entry at the end, or NULL (enum skt_dsc_seen in *why) when full or out of
 * memory. */
static skt_dsc_node_t *
nodes_add(skt_dsc_nodes_t *t, int *why)
{
    if (t->n >= t->max) {
        *why = SKT_DSC_FULL;
        return NULL;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        if (ncap > t->max)
            ncap = t->max;
        skt_dsc_node_t *grown = realloc(t->v, ncap * sizeof(*grown));
        if (!grown) {
            *why = SKT_DSC_NO_MEMORY;
            return NULL;
        }
        t->v = grown;
        t->cap = ncap;
    }
    skt_dsc_node_t *node = &t->v[t->n++];
    memset(node, 0, sizeof(*node));
    node->st.weight = NAN;
    return node;
}

int
skt_dsc_nodes_hello(skt_dsc_nodes_t *t, const char *id, const char *host_name, const char *address,
                    int port, const skt_dsc_state_t *st, int has, uint64_t now, int *new_master,
                    const skt_dsc_node_t **out)
{
    int rv = SKT_DSC_SEEN;
    skt_dsc_node_t *node = nodes_find(t, id);
    int was_master = node && node->st.is_master;
    *new_master = 0;
    *out = NULL;
    if (!node) {
        if (!(node = nodes_add(t, &rv)))
            return rv;
        copy_cut(node->id, sizeof(node->id), id);
        rv = SKT_DSC_ADDED;
    }
    node->last_seen = now;
    skt_dsc_printable(node->host_name, sizeof(node->host_name), host_name);
    copy_cut(node->address, sizeof(node->address), address);
    node->port = port;
    if (has & SKT_DSC_HAS_MASTER)
        node->st.is_master = st->is_master;
    if (has & SKT_DSC_HAS_ELIGIBLE)
        node->st.is_master_eligible = st->is_master_eligible;
    if (has & SKT_DSC_HAS_WEIGHT)
        node->st.weight = st->weight;
    if (has & SKT_DSC_HAS_ADVERT)
        node->other_cluster = st->channel && t->channel && strcmp(st->channel, t->channel) != 0;
    *new_master = node->st.is_master && !was_master;
    *out = node;
    return rv;
}

size_t
skt_dsc_nodes_expire(skt_dsc_nodes_t *t, uint64_t now, long node_timeout, long master_timeout,
                     void (*removed)(void *arg, const skt_dsc_node_t *node), void *arg)
{
    size_t gone = 0, i = 0;
    while (i < t->n) {
        const skt_dsc_node_t *node = &t->v[i];
        long timeout = node->st.is_master ? master_timeout : node_timeout;
        if (now > node->last_seen && now - node->last_seen > (uint64_t)timeout) {
            if (removed)
                removed(arg, node);
            t->v[i] = t->v[--t->n]; /* order does not matter */
            gone++;
        } else {
            i++;
        }
    }
    return gone;
}

size_t
skt_dsc_nodes_members(const skt_dsc_nodes_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += !t->v[i].other_cluster;
    return n;
}

void
skt_dsc_nodes_clear(skt_dsc_nodes_t *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

int
skt_dsc_elect(const skt_dsc_nodes_t *t, const skt_dsc_state_t *me, uint64_t now,
              long master_timeout)
{
    size_t masters = 0, heavier_masters = 0;
    int heavier_eligible = 0;
    for (size_t i = 0; i < t->n; i++) {
        const skt_dsc_node_t *node = &t->v[i];
        if (node->st.is_master && now - node->last_seen < (uint64_t)master_timeout) {
            masters++;
            if (node->st.weight > me->weight)
                heavier_masters++;
        }
        if (node->st.weight > me->weight && node->st.is_master_eligible && !node->st.is_master)
            heavier_eligible = 1;
    }
    if (me->is_master)
        return heavier_masters >= 1 ? SKT_DSC_DEMOTE : SKT_DSC_STAY;
    return masters < 1 && me->is_master_eligible && !heavier_eligible ? SKT_DSC_PROMOTE
                                                                      : SKT_DSC_STAY;
}
