/* nats_loop.h - a libnats connection driven by the daemon's libevent loop, whatever thread
 * libnats calls from, and a mailbox that brings libnats's events to that loop.
 *
 * libnats hands its socket to an external loop through four hooks (natsOptions_SetEventLoop:
 * attach, read on/off, write on/off, detach) and calls them from whichever thread holds the
 * connection at the time: the loop's own (reading, writing, publishing, closing), its
 * reconnect thread (attach after a reconnect) or its timer thread (a PING turns writing
 * on). Its stock libevent adapter (nats/adapters/libevent.h) calls libevent from those
 * threads too, which is only safe on an event base made after evthread_use_pthreads(): the
 * daemon makes its base, without locks, before any plugin loads. So here a hook called on
 * the loop thread acts at once, and one called on another thread only records what the
 * loop should watch, under a mutex, and wakes the loop through an eventfd; the loop thread
 * applies it (libnats's libuv adapter does the same with uv_async_send).
 *
 * The same mailbox carries libnats's connection events, which libnats calls from its own
 * callback thread: skt_nl_post() sets bits from any thread, and the owner's on_events gets
 * them, coalesced, on the loop thread.
 *
 * Reading: when the socket is readable the loop calls natsConnection_ProcessReadEvent,
 * which parses what arrived into the subscriptions' queues, again while the kernel holds
 * more (at most SKT_NL_READS_PER_TURN times a turn), then the owner's on_read, which takes
 * the messages. So every message is handled on the loop thread and no thread of libnats
 * ever touches the daemon's state.
 */
#ifndef SKT_NATS_LOOP_H
#define SKT_NATS_LOOP_H

#include <event2/event.h>
#include <nats/nats.h>

/* Reads of the socket per turn of the loop, at most (each of libnats's I/O buffer size). */
#define SKT_NL_READS_PER_TURN 16

typedef struct skt_nl_s skt_nl_t;

/* What the owner is told, on the loop thread. */
typedef struct skt_nl_owner_s {
    void *owner;
    /* The socket was read: messages may wait in the subscriptions. */
    void (*on_read)(void *owner);
    /* skt_nl_post() was called with these bits (or'ed together since the last call). */
    void (*on_events)(void *owner, unsigned bits);
} skt_nl_owner_t;

/* Creates the bridge on base; it must be created (and later freed) on base's thread, which
 * becomes the loop thread. owner is copied. NULL when out of memory or out of file
 * descriptors (errno says which). */
skt_nl_t *skt_nl_new(struct event_base *base, const skt_nl_owner_t *owner);

/* Makes the connections created with opts run on the bridge. Returns a libnats status. */
natsStatus skt_nl_attach_options(skt_nl_t *nl, natsOptions *opts);

/* From any thread: or's bits into what the owner's on_events gets next, and wakes the
 * loop. Never blocks for long, never calls back. */
void skt_nl_post(skt_nl_t *nl, unsigned bits);

/* Arms a timer event for ms milliseconds (0: the next turn of the loop): the plugin's one
 * way to arm its timers. */
void skt_nl_arm(struct event *ev, long ms);

/* Frees the bridge. Call on the loop thread after the connection it served was destroyed
 * (libnats calls detach from natsConnection_Destroy), or when none was ever created. */
void skt_nl_free(skt_nl_t *nl);

#endif
