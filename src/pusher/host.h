/* host.h - the host table handed to adapter plugins (include/soketi/adapter.h).
 *
 * DESIGN
 * The functions of soketi_host_t answer from this process's namespaces (local counts,
 * channels, members, sockets) and deliver the adapter's broadcasts to local sockets:
 * deliver_local frames a message once into a refcounted buffer and queues that same buffer
 * on every subscriber but the excluded one; the net layer writes it at the end of the loop
 * iteration, one writev() per socket.
 *
 * ABI 1's host functions take no context argument, so this file keeps the server it was
 * filled for: the one place the protocol reaches the server through a global. A future
 * ABI 2 should give every host function the host's context and drop it.
 */
#ifndef SKT_PUSHER_HOST_H
#define SKT_PUSHER_HOST_H

#include <soketi/adapter.h>

#include "pusher/server.h"

/* Fills h for srv (which its functions then answer for) before the plugin is loaded. */
void skt_host_fill(soketi_host_t *h, skt_server_t *srv);
/* srv is being freed: the host functions answer nothing from now on. */
void skt_host_clear(skt_server_t *srv);

#endif
