/* adapter_nullop.c - test plugin whose init succeeds and allocates but leaves one ABI-1
 * op (channel_members) NULL. The loader must refuse it, naming the op, and call cleanup,
 * which frees and logs. */
#include <soketi/adapter.h>

#include <stdlib.h>

typedef struct nullop_s {
    const soketi_host_t *host;
} nullop_t;

static void
nullop_broadcast(void *self, const char *app_id, const char *channel, const char *msg,
                 size_t msg_len, const char *except_socket_id)
{
}

static void
nullop_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
nullop_channel_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                     void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
nullop_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                     soketi_count_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
nullop_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
nullop_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
nullop_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb,
                       void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
nullop_terminate(void *self, const char *app_id, const char *user_id)
{
}

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 1)
            return 1;
    return -1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    nullop_t *n = malloc(sizeof(*n));
    if (!n)
        return 1;
    n->host = host;
    adapter->self = n;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = nullop_broadcast;
    adapter->ops.sockets_count = nullop_count;
    adapter->ops.channel_sockets_count = nullop_channel_count;
    adapter->ops.channel_members_count = nullop_channel_count;
    adapter->ops.is_in_channel = nullop_is_in_channel;
    adapter->ops.channels = nullop_channels;
    /* adapter->ops.channel_members left NULL on purpose */
    adapter->ops.sockets = nullop_sockets;
    adapter->ops.channel_sockets = nullop_channel_sockets;
    adapter->ops.terminate_user_connections = nullop_terminate;
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    nullop_t *n = adapter->self;
    n->host->log(SOKETI_LOG_INFO, "nullop cleanup");
    free(n);
}
