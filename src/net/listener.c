/* listener.c - the listening socket: bind, listen, accept.
 *
 * Each accepted socket becomes a connection (skt_net_accept, conn.c).
 */
#include <errno.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/conn_internal.h"
#include "util/log.h"

static void
net_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
              void *arg)
{
    skt_net_accept(arg, fd);
}

static void
net_accept_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    skt_log(SKT_LOG_ERROR, "accept failed: %s", evutil_socket_error_to_string(err));
}

int
skt_net_listen(skt_net_t *net, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char addr[300];
    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':'))
        snprintf(addr, sizeof(addr), "[%s]:%d", host, port);
    else
        snprintf(addr, sizeof(addr), "%s:%d", host, port);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "cannot listen on '%s': not an IP address", host);
        return -1;
    }
    net->listener =
        evconnlistener_new_bind(net->base, net_accept_cb, net,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                4096, (struct sockaddr *)&ss, sslen);
    if (!net->listener) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(net->listener, net_accept_error_cb);
    return 0;
}

void
skt_net_stop_listening(skt_net_t *net)
{
    if (net->listener) {
        evconnlistener_free(net->listener);
        net->listener = NULL;
    }
}
