/* frame.h - the one wire format between the workers of a host and their supervisor: a
 * length-prefixed frame on a unix-domain stream socket (socketpair).
 *
 *   [4 bytes: length of what follows, big-endian][1 byte: kind][payload]
 *
 * Kinds 0..2 carry one message of the horizontal layer on that channel (enum skt_hz_channel
 * of plugins/redis/horizontal.h: broadcast, request, response), as the worker's adapter
 * published it; the supervisor relays such a frame, byte for byte, to every other worker.
 * Kind SKT_WFRAME_NODES goes from the supervisor to a worker only: a 4-byte big-endian
 * count of the workers connected now (that worker included), sent whenever it changes.
 * Kinds SKT_WFRAME_STORE and SKT_WFRAME_STORED are a worker's question to the supervisor's
 * shared state and its answer (hub_store.h says what they hold): numbers as 4 bytes
 * big-endian, strings as such a length and their bytes.
 * Kind SKT_WFRAME_LOST goes from the supervisor to a worker only, once per presence user
 * or channel that a worker which exited alone held (hub_store.h, skt_hub_store_forget):
 * u32 fire_webhooks (1 for one of the workers that remain), then that entry.
 * Kinds SKT_WFRAME_SCRAPE and SKT_WFRAME_SCRAPED cross only the second socketpair of a
 * worker, for GET /metrics (scrape.h), never the hub.
 *
 * Both sides (src/workers/hub.c in the daemon, plugins/workers/adapter_workers.c in the
 * plugin) compile this file; it has no state and touches no socket.
 */
#ifndef SKT_WORKERS_FRAME_H
#define SKT_WORKERS_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define SKT_WFRAME_HEAD 5     /* bytes before the payload */
#define SKT_WFRAME_CHANNELS 3 /* kinds 0..2: the horizontal channels */
#define SKT_WFRAME_NODES 3    /* the supervisor's count of workers */
#define SKT_WFRAME_STORE 4    /* a worker asks the supervisor's shared state (hub_store.h) */
#define SKT_WFRAME_STORED 5   /* the supervisor's answer to that worker */
#define SKT_WFRAME_LOST 6     /* supervisor to worker: what a dead worker alone held */
#define SKT_WFRAME_SCRAPE 7   /* metrics asked for, on the scrape channel only (scrape.h) */
#define SKT_WFRAME_SCRAPED 8  /* metrics text(s) answered, on that channel only */
#define SKT_WFRAME_KINDS 9

/* Writes the head of a frame of kind with payload_len bytes of payload into head. */
void skt_wframe_head(unsigned char head[SKT_WFRAME_HEAD], int kind, size_t payload_len);

/* Reads a head: 1 with *kind and *payload_len set when it is valid (a known kind, a
 * payload of at most max bytes, a NODES frame of exactly 4), 0 when it is not (the peer
 * is broken: drop the connection). */
int skt_wframe_parse(const unsigned char head[SKT_WFRAME_HEAD], size_t max, int *kind,
                     size_t *payload_len);

/* The 4 bytes of a NODES payload, and back. */
void skt_wframe_put_u32(unsigned char out[4], uint32_t v);
uint32_t skt_wframe_get_u32(const unsigned char in[4]);

/* Appends a number, or a string (len bytes), to a payload being built in b. Return 0, or
 * -1 when out of memory. */
int skt_wframe_add_u32(struct evbuffer *b, uint32_t v);
int skt_wframe_add_str(struct evbuffer *b, const char *s, size_t len);

/* Appends the frame of kind around the payload in body (drained) to out. Returns 0, or -1
 * when out of memory. */
int skt_wframe_add_frame(struct evbuffer *out, int kind, struct evbuffer *body);

/* The next whole frame at the front of in: 1 with *kind, *len and *payload set (inside in;
 * drain SKT_WFRAME_HEAD + *len once it is read), 0 while it is incomplete (or pulling it up
 * ran out of memory: try again later), -1 when its head is malformed (skt_wframe_parse). */
int skt_wframe_next(struct evbuffer *in, size_t max, int *kind, size_t *len,
                    const unsigned char **payload);

/* Reads a payload front to back; a read past its end sets bad and returns 0 / NULL. */
typedef struct skt_wframe_reader_s {
    const unsigned char *p;
    size_t left;
    int bad;
} skt_wframe_reader_t;

uint32_t skt_wframe_read_u32(skt_wframe_reader_t *r);
/* A string: its bytes (not NUL-terminated, inside the payload) and *len. */
const char *skt_wframe_read_str(skt_wframe_reader_t *r, size_t *len);

#endif
