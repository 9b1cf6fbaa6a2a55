/* signin.c - pusher:signin: who a connection is, its sign-in deadline, its watchlist. */
#include "pusher/signin.h"

#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/online.h"
#include "pusher/send.h"
#include "pusher/server.h"
#include "pusher/sig.h"

void
skt_signin_timeout(void *socket)
{
    skt_socket_t *s = socket;
    s->signin_deadline = NULL; /* already gone */
    if (!skt_conn_is_closed(&s->conn))
        skt_send_terminate(s, 4009, "Connection not authorized within timeout.");
}

void
skt_signin_deadline_start(skt_socket_t *s)
{
    /* soketi's setUserAuthenticationTimeout: sign in, or join an authorized channel,
     * within userAuthenticationTimeout ms. */
    if (s->ns->app->enable_user_authentication)
        s->signin_deadline =
            skt_deadline_start(skt_server_of(&s->conn)->features->signin_deadlines, s);
}

/* As soketi's PrivateChannelManager: joining an authorized channel also proves it. */
void
skt_signin_deadline_clear(skt_socket_t *s)
{
    skt_deadline_cancel(s->signin_deadline);
    s->signin_deadline = NULL;
}

void
skt_signout(skt_socket_t *s)
{
    if (!s->user_id)
        return;
    skt_online_watchlist_stop(s);
    skt_ns_remove_user(s->ns, s);
    if (!skt_ns_user(s->ns, s->user_id, strlen(s->user_id)))
        skt_online_changed(s, s->user_id, 0);
    free(s->user_id);
    s->user_id = NULL;
}

/* Records id (taken over) as s's user. Returns 1 when s is the user's first socket here,
 * 0 when it is not, -1 when out of memory (s is then aborted). */
static int
signin_as(skt_socket_t *s, char *id)
{
    if (s->user_id && strcmp(s->user_id, id) == 0) {
        /* Signed in again as the same user: only the watchlist may change. */
        free(id);
        skt_online_watchlist_stop(s);
        return 0;
    }
    skt_signout(s); /* as someone else: the previous user may have gone offline */
    int first = !skt_ns_user(s->ns, id, strlen(id));
    s->user_id = id;
    if (skt_ns_add_user(s->ns, s) != 0) {
        skt_conn_abort(&s->conn);
        return -1;
    }
    return first;
}

void
skt_signin(skt_socket_t *s, json_t *data)
{
    skt_app_t *app = s->ns->app;
    size_t ulen = 0, alen = 0;
    const char *user_data = json_is_object(data) ? skt_input_str(data, "user_data", &ulen) : NULL;
    const char *auth = json_is_object(data) ? skt_input_str(data, "auth", &alen) : NULL;
    if (!user_data || !auth ||
        !skt_sig_user_auth_valid(app->key, app->secret, s->id, user_data, ulen, auth, alen)) {
        skt_send_terminate(s, 4009, "Connection not authorized.");
        return;
    }
    json_t *user = skt_input_parse(user_data, ulen, NULL);
    char *id = user ? skt_input_user_id(json_object_get(user, "id"), NULL) : NULL;
    if (!id) {
        json_decref(user);
        skt_send_terminate(s, 4009, "The returned user data must contain the \"id\" field.");
        return;
    }
    int first = signin_as(s, id);
    if (first < 0) {
        json_decref(user);
        return;
    }
    skt_signin_deadline_clear(s);
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_signin_success(&w, data);
    skt_send_msg(s, &w);
    json_t *watchlist = json_object_get(user, "watchlist");
    if (json_is_array(watchlist))
        skt_online_watchlist_start(s, watchlist);
    json_decref(user);
    if (first)
        skt_online_changed(s, s->user_id, 1);
}
