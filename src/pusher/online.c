/* online.c - who is online and who watches them, across the cluster (online.h). */
#include "pusher/online.h"

#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/metrics.h"
#include "features/watchlist.h"
#include "plugin/loader.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/shared.h"
#include "util/log.h"

/* ------------------------------------------------------------ changes */

typedef struct online_notify_s {
    skt_buf_t *frame;
    size_t len;         /* of the message in frame */
    const char *except; /* socket id, or NULL */
} online_notify_t;

static void
online_notify_one(void *arg, void *watcher)
{
    online_notify_t *n = arg;
    skt_socket_t *w = watcher;
    if (!n->except || strcmp(w->id, n->except) != 0)
        skt_send_frame(w, n->frame, n->len);
}

/* Tells user_id's watchers in ns that it came online (or went offline), framed once. */
static void
online_notify(skt_server_t *srv, skt_ns_t *ns, const char *user_id, int online, const char *except)
{
    const char *const ids[1] = {user_id};
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_watchlist_events(&w, online ? ids : NULL, online, online ? NULL : ids, !online);
    size_t len = 0;
    const char *text = skt_jw_cstr(&w, &len);
    online_notify_t n = {.frame = text ? skt_conn_frame_text(text, len) : NULL,
                         .len = len,
                         .except = except && *except ? except : NULL};
    skt_jw_free(&w);
    if (n.frame) {
        skt_watch_each(srv->features->watch, ns->app_id, user_id, online_notify_one, &n);
        skt_buf_unref(n.frame);
    }
}

void
skt_online_deliver(skt_server_t *srv, skt_ns_t *ns, const char *msg, size_t len,
                   const char *except_socket_id)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    json_t *uid = json_object_get(m, "user_id"), *on = json_object_get(m, "online");
    if (!json_is_string(uid) || !json_is_boolean(on)) {
        skt_log(SKT_LOG_WARN, "app %s: malformed online announcement dropped", ns->app_id);
        json_decref(m);
        return;
    }
    const char *user_id = json_string_value(uid);
    if (skt_watch_count(srv->features->watch, ns->app_id, user_id))
        online_notify(srv, ns, user_id, json_is_true(on), except_socket_id);
    json_decref(m);
}

/* The cluster's verdict on a user's change: announce it to every node's watchers. extra
 * is the socket that caused it, which is not told about its own user. */
static void
online_announce(skt_server_t *srv, const char *app_id, const char *channel, const char *user_id,
                int id_number, int online, const char *extra)
{
    (void)channel, (void)id_number;
    if (srv->unloading)
        return; /* the adapter is being torn down: it answers pending calls as it goes */
    SKT_JW_ON_STACK(w, 256);
    skt_jw_lit(&w, "{\"user_id\":");
    skt_jw_cstr_value(&w, user_id);
    skt_jw_lit(&w, ",\"online\":");
    skt_jw_bool(&w, online);
    skt_jw_lit(&w, "}");
    size_t len = 0;
    const char *text = skt_jw_cstr(&w, &len);
    if (text)
        SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), app_id, SKT_WATCHLIST_CHANNEL, text, len,
                                   extra);
    skt_jw_free(&w);
}

void
skt_online_changed(skt_socket_t *s, const char *user_id, int online)
{
    skt_shared_transition(skt_server_of(&s->conn), s->ns->app_id, SKT_ONLINE_CHANNEL, user_id, 0,
                          online, online_announce, s->id);
}

/* ------------------------------------------------------------ watchlists */

/* Tells s who of its watchlist is online: present[0..n) (the rest is offline). */
static void
online_tell_watcher(skt_socket_t *s, const char *const *present, size_t n)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    size_t nw = 0, non = 0, noff = 0;
    const char *const *watched = skt_watch_ids(srv->features->watch, s->ns->app_id, s, &nw);
    if (!nw)
        return;
    const char **on = malloc(nw * sizeof(*on)), **off = malloc(nw * sizeof(*off));
    for (size_t k = 0; on && off && k < nw; k++) {
        int here = 0;
        for (size_t j = 0; j < n && !here; j++)
            here = strcmp(present[j], watched[k]) == 0;
        if (here)
            on[non++] = watched[k];
        else
            off[noff++] = watched[k];
    }
    if (on && off) {
        SKT_JW_ON_STACK(w, SKT_SEND_STACK);
        skt_msg_watchlist_events(&w, on, non, off, noff);
        skt_send_msg(s, &w);
    }
    free(on);
    free(off);
}

/* Who of s's watchlist is signed in on this node: the answer on one node, and the
 * fallback when the cluster cannot tell. */
static void
online_tell_local(skt_socket_t *s)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    size_t nw = 0, n = 0;
    const char *const *watched = skt_watch_ids(srv->features->watch, s->ns->app_id, s, &nw);
    const char **here = nw ? malloc(nw * sizeof(*here)) : NULL;
    for (size_t k = 0; here && k < nw; k++)
        if (skt_ns_user(s->ns, watched[k], strlen(watched[k])))
            here[n++] = watched[k];
    online_tell_watcher(s, here, n);
    free(here);
}

/* The cluster's answer to who is online: s may have closed meanwhile. */
static void
online_present_cb(void *arg, int status, const char *const *ids, size_t n)
{
    skt_socket_t *s = arg;
    if (!skt_conn_is_closed(&s->conn)) {
        if (status == SOKETI_ERROR)
            online_tell_local(s);
        else
            online_tell_watcher(s, ids, n);
    }
    skt_socket_release(s);
}

void
skt_online_watchlist_start(skt_socket_t *s, json_t *list)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    const char *ids[SKT_WATCH_MAX_IDS];
    char *owned[SKT_WATCH_MAX_IDS];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (n == SKT_WATCH_MAX_IDS)
            break;
        char *id = skt_input_user_id(v, NULL);
        if (!id)
            continue;
        owned[n] = id;
        ids[n++] = id;
    }
    if (n && skt_watch_add(srv->features->watch, s->ns->app_id, s, ids, n) < 0)
        skt_log(SKT_LOG_WARN, "socket %s: out of memory for its watchlist", s->id);
    for (size_t k = 0; k < n; k++)
        free(owned[k]);
    size_t nw = 0;
    const char *const *watched = skt_watch_ids(srv->features->watch, s->ns->app_id, s, &nw);
    if (!nw)
        return;
    soketi_adapter_t *ad = srv->adapter;
    /* Past the connection's pending budget the node answers for itself. */
    if (!SKT_ADAPTER_HAS(ad, cluster_present) ||
        skt_socket_hold(s, srv->cfg->connection_limits.max_pending_requests) != 0) {
        online_tell_local(s);
        return;
    }
    ad->ops.cluster_present(ad->self, s->ns->app_id, SKT_ONLINE_CHANNEL, watched, nw,
                            online_present_cb, s);
}

void
skt_online_watchlist_stop(skt_socket_t *s)
{
    skt_watch_remove(skt_server_of(&s->conn)->features->watch, s->ns->app_id, s);
}
