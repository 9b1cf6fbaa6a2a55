/* adapter_echo.c - test plugin: a valid adapter that reports through host->log what the
 * host gave it (the host copy's ABI version, size and address; the adapter's size and
 * whether it arrived zeroed), and each op it is called with, so check_plugin can check
 * the loader's side of the contract. Cleanup logs through the host pointer kept since
 * init, which valgrind and ASan would flag were the host copy already gone. */
#include <soketi/adapter.h>

#include <stdlib.h>

typedef struct echo_s {
    const soketi_host_t *host;
} echo_t;

static void
echo_broadcast(void *self, const char *app_id, const char *channel, const char *msg,
               size_t msg_len, const char *except_socket_id)
{
    echo_t *e = self;
    e->host->log(SOKETI_LOG_INFO, "echo broadcast %s %s %zu", app_id, channel, msg_len);
}

static void
echo_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    echo_t *e = self;
    e->host->log(SOKETI_LOG_INFO, "echo sockets_count %s", app_id);
    cb(arg, SOKETI_OK, 42);
}

static void
echo_channel_sockets_count(void *self, const char *app_id, const char *channel,
                           soketi_count_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
echo_channel_members_count(void *self, const char *app_id, const char *channel,
                           soketi_count_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
echo_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                   soketi_count_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, 0);
}

static void
echo_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
echo_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                     void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
echo_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
echo_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb,
                     void *arg)
{
    cb(arg, SOKETI_OK, NULL, 0);
}

static void
echo_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    echo_t *e = self;
    e->host->log(SOKETI_LOG_INFO, "echo terminate %s %s", app_id, user_id);
}

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 1)
            return 1;
    return -1;
}

/* Reports whether the host handed over the adapter zeroed past its size field. */
static int
echo_zeroed(const soketi_adapter_t *adapter)
{
    const unsigned char *b = (const unsigned char *)adapter;
    for (size_t i = sizeof(adapter->size); i < adapter->size; i++)
        if (b[i])
            return 0;
    return 1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    echo_t *e = malloc(sizeof(*e));
    if (!e)
        return 1;
    e->host = host;
    host->log(SOKETI_LOG_INFO, "echo init abi=%d host_size=%zu adapter_size=%zu host=%p zeroed=%d "
                               "node=%s key=%s",
              host->abi_version, host->size, adapter->size, (const void *)host,
              echo_zeroed(adapter), host->node_id, host->config_get("echo.key"));
    adapter->self = e;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = echo_broadcast;
    adapter->ops.sockets_count = echo_sockets_count;
    adapter->ops.channel_sockets_count = echo_channel_sockets_count;
    adapter->ops.channel_members_count = echo_channel_members_count;
    adapter->ops.is_in_channel = echo_is_in_channel;
    adapter->ops.channels = echo_channels;
    adapter->ops.channel_members = echo_channel_members;
    adapter->ops.sockets = echo_sockets;
    adapter->ops.channel_sockets = echo_channel_sockets;
    adapter->ops.terminate_user_connections = echo_terminate_user_connections;
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    echo_t *e = adapter->self;
    e->host->log(SOKETI_LOG_INFO, "echo cleanup abi=%d", e->host->abi_version);
    free(e);
}
