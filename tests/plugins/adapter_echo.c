/* adapter_echo.c - test plugin: a valid adapter that reports through host->log what the
 * host gave it (the host copy's ABI version, size and address; the adapter's size and
 * whether it arrived zeroed) and the ops it is called with, so check_plugin can check the
 * loader's side of the contract. Its cleanup logs through the host pointer kept since
 * init, which valgrind and ASan would flag were the host copy already gone.
 *
 * The other test plugins are this one with one thing broken: each defines some of these
 * knobs and then includes this file.
 *   ECHO_NAME       the name its log lines start with ("echo")
 *   ECHO_ABI        the one ABI version it speaks (1); never offered: it answers -1
 *   ECHO_NO_INIT    export no soketi_adapter_init
 *   ECHO_INIT_FAIL  init logs "<name>: refusing to start" and returns this
 *   ECHO_NULL_OP    the op init leaves NULL
 *   ECHO_OPS_SIZE   the ops_size init sets (sizeof(soketi_adapter_ops_t))
 */
#include <soketi/adapter.h>

#include <stdlib.h>

#ifndef ECHO_NAME
#define ECHO_NAME "echo"
#endif
#ifndef ECHO_ABI
#define ECHO_ABI 1
#endif

typedef struct echo_s {
    const soketi_host_t *host;
} echo_t;

/* The host table init was given, so that a cleanup without state can still log. */
static const soketi_host_t *echo_host;

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == ECHO_ABI)
            return ECHO_ABI;
    return -1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    echo_t *e = adapter->self;
    if (!e) {
        if (echo_host)
            echo_host->log(SOKETI_LOG_ERROR, ECHO_NAME " cleanup called without state");
        return;
    }
    e->host->log(SOKETI_LOG_INFO, ECHO_NAME " cleanup abi=%d", e->host->abi_version);
    free(e);
}

#ifndef ECHO_NO_INIT
static void
echo_broadcast(void *self, const char *app_id, const char *channel, const char *msg, size_t msg_len,
               const char *except_socket_id)
{
    echo_t *e = self;
    e->host->log(SOKETI_LOG_INFO, ECHO_NAME " broadcast %s %s %zu", app_id, channel, msg_len);
}

static void
echo_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    echo_t *e = self;
    e->host->log(SOKETI_LOG_INFO, ECHO_NAME " sockets_count %s", app_id);
    cb(arg, SOKETI_OK, 42);
}

/* The other counts answer 0 without a word. */
static void
echo_channel_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                   void *arg)
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
    e->host->log(SOKETI_LOG_INFO, ECHO_NAME " terminate %s %s", app_id, user_id);
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
    echo_host = host;
    host->log(SOKETI_LOG_INFO,
              ECHO_NAME " init abi=%d host_size=%zu adapter_size=%zu host=%p zeroed=%d node=%s "
                        "key=%s",
              host->abi_version, host->size, adapter->size, (const void *)host,
              echo_zeroed(adapter), host->node_id, host->config_get("echo.key"));
#ifdef ECHO_INIT_FAIL
    host->log(SOKETI_LOG_ERROR, ECHO_NAME ": refusing to start");
    return ECHO_INIT_FAIL;
#endif
    echo_t *e = malloc(sizeof(*e));
    if (!e)
        return 1;
    e->host = host;
    adapter->self = e;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = echo_broadcast;
    adapter->ops.sockets_count = echo_sockets_count;
    adapter->ops.channel_sockets_count = echo_channel_count;
    adapter->ops.channel_members_count = echo_channel_count;
    adapter->ops.is_in_channel = echo_is_in_channel;
    adapter->ops.channels = echo_channels;
    adapter->ops.channel_members = echo_channel_members;
    adapter->ops.sockets = echo_sockets;
    adapter->ops.channel_sockets = echo_channel_sockets;
    adapter->ops.terminate_user_connections = echo_terminate_user_connections;
#ifdef ECHO_NULL_OP
    adapter->ops.ECHO_NULL_OP = NULL;
#endif
#ifdef ECHO_OPS_SIZE
    adapter->ops_size = ECHO_OPS_SIZE;
#endif
    return 0;
}
#endif /* ECHO_NO_INIT */
