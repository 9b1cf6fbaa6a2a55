/* namespace.h - one app's live state in this process: sockets, channels, presence, users.
 *
 * DESIGN
 * A channel keeps an array of its subscribed sockets; each socket keeps an
 * array of its subscriptions, each holding the channel and the socket's index
 * in that channel's array. Joining, leaving and fan-out are O(1) per socket;
 * a broadcast walks one contiguous array. Finding a socket's subscription is a
 * scan of a few pointers for a socket in up to 8 channels and, past that, a
 * lookup in an index keyed by channel kept in the same allocation as the array,
 * so it stays O(1) however many channels one socket joins. A presence channel also maps user
 * ids to members with a count of this process's sockets for that user, so
 * member_added / member_removed are decided per user, not per socket.
 * Channels exist only while occupied. Nothing here does I/O.
 */
#ifndef SKT_PUSHER_NAMESPACE_H
#define SKT_PUSHER_NAMESPACE_H

#include <stddef.h>
#include <stdint.h>

#include "config/apps.h"
#include "features/ratelimit.h"
#include "net/conn.h"
#include "util/map.h"

typedef struct skt_socket_s skt_socket_t;
typedef struct skt_channel_s skt_channel_t;

typedef struct skt_member_s {
    uint32_t sockets;  /* this process's sockets of the user in the channel */
    char *user_info;   /* JSON text */
    uint8_t id_number; /* the id came as a JSON number (user_id is its decimal text) */
    size_t id_len;
    char user_id[];
} skt_member_t;

struct skt_channel_s {
    skt_socket_t **socks;
    uint32_t n, cap;
    skt_map_t *members; /* presence channels: user id -> skt_member_t */
    size_t name_len;
    char name[];
};

typedef struct skt_sub_s {
    skt_channel_t *ch;
    skt_member_t *member; /* presence channels only */
    uint32_t idx;         /* position in ch->socks */
} skt_sub_t;

typedef struct skt_ns_s skt_ns_t;

/* The most channels one socket can be in (connectionLimits.maxChannels is at most this). */
#define SKT_NS_MAX_SUBS 32768

/* A Pusher connection: the net connection plus what the protocol needs. */
struct skt_socket_s {
    skt_conn_t conn; /* first: the net layer allocates the whole struct */
    skt_ns_t *ns;    /* NULL until connection_established */
    skt_sub_t *subs; /* capsubs entries, then the index when capsubs > 8 */
    uint16_t nsubs, capsubs;
    uint8_t id_len;
    uint8_t registered; /* in ns->sockets */
    uint8_t counted;    /* admitted by the adapter's cluster_connection: released at close */
    char id[24];
    uint16_t pending; /* asynchronous operations in flight (skt_socket_hold) */
    char *user_id;    /* after pusher:signin */
    skt_rl_slot_t rl; /* client-event rate limit window (features/ratelimit.h) */
    struct skt_deadline_s *signin_deadline; /* userAuthenticationTimeout, while pending */
};

struct skt_ns_s {
    char *app_id;
    skt_app_t *app;                    /* current settings; replaced on reload */
    skt_map_t *channels;               /* name -> skt_channel_t */
    skt_map_t *sockets;                /* socket id -> skt_socket_t */
    skt_map_t *users;                  /* user id -> skt_user_t */
    struct skt_metrics_app_s *metrics; /* the app's counters (features/metrics.h); NULL: off */
};

typedef struct skt_user_s {
    skt_socket_t **socks;
    uint32_t n, cap;
    size_t id_len;
    char id[];
} skt_user_t;

/* A namespace for app, or NULL when out of memory. */
skt_ns_t *skt_ns_new(skt_app_t *app);
/* Frees the namespace; its sockets must be gone. */
void skt_ns_free(skt_ns_t *ns);

/* The namespaces of a server: a map from app id to skt_ns_t. */
/* The namespace of app id (len bytes) in namespaces, only if it exists. */
skt_ns_t *skt_ns_find(const skt_map_t *namespaces, const char *app_id, size_t len);
/* The namespace of app in namespaces, created on first use (an existing one follows app's
 * current settings: the app may have come back after a reload); NULL when out of memory. */
skt_ns_t *skt_ns_for_app(skt_map_t *namespaces, skt_app_t *app);

/* Holds s for one asynchronous operation (a reference on its connection, counted in
 * s->pending). Returns 0, or -1 when max (> 0) operations are already in flight (nothing
 * held); max <= 0 checks nothing (the continuation of an operation already admitted). */
int skt_socket_hold(skt_socket_t *s, long max);
/* Ends an operation skt_socket_hold() started: may free a closed s. */
void skt_socket_release(skt_socket_t *s);

int skt_ns_add_socket(skt_ns_t *ns, skt_socket_t *s);
void skt_ns_remove_socket(skt_ns_t *ns, skt_socket_t *s);

skt_channel_t *skt_ns_channel(skt_ns_t *ns, const char *name, size_t len);

/* The socket's subscription to a channel, or NULL. */
skt_sub_t *skt_ns_find_sub(skt_socket_t *s, const char *name, size_t len);

/* Subscribes s to channel name (creating it); *count gets the channel's
 * socket count after. Returns the subscription (an existing one when s was
 * already subscribed), or NULL when out of memory. */
skt_sub_t *skt_ns_join(skt_ns_t *ns, skt_socket_t *s, const char *name, size_t len,
                       uint32_t *count);

/* Adds s's presence membership to its subscription sub; id_number: the id came as a JSON
 * number (a user already here keeps the type it first came with: members are keyed by the
 * id's text). Returns 1 when the user had no other socket in the channel in this process,
 * 0 if it had, -1 when out of memory. */
int skt_ns_member_add(skt_sub_t *sub, const char *user_id, size_t id_len, int id_number,
                      const char *user_info);

/* Removes s's subscription at index i. *count gets the channel's remaining
 * sockets. When the subscription had a presence member whose last local
 * socket this was, its user id is copied to *gone_user (caller frees) and, when gone_number
 * is not NULL, its type to *gone_number (1: a JSON number); otherwise *gone_user is NULL. */
void skt_ns_leave(skt_ns_t *ns, skt_socket_t *s, uint16_t i, uint32_t *count, char **gone_user,
                  int *gone_number);

int skt_ns_add_user(skt_ns_t *ns, skt_socket_t *s);
void skt_ns_remove_user(skt_ns_t *ns, skt_socket_t *s);
skt_user_t *skt_ns_user(skt_ns_t *ns, const char *id, size_t len);

#endif
