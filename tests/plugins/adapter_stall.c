/* adapter_stall.c - test plugin: an adapter whose cluster never answers until told to.
 *
 * Broadcasts are delivered locally at once (host->deliver_local), but every query (counts,
 * members, channels, sockets, and the optional cluster_admit and cluster_connection's
 * admissions) is held: its callback waits
 * in a list until the test calls the exported stall_release(status), which answers them
 * all (counts 0, empty lists; an admission stall_admit_answer), or until cleanup, which
 * answers what is left with SOKETI_ERROR. cluster_transition answers at once (1) and
 * counts its releases (joined 0) in stall_releases. It stands for a peer
 * that is slow or hung, so the protocol's unit tests can check what a connection may
 * keep pending (tests/check_protocol.c finds stall_release with dlsym).
 */
#include <soketi/adapter.h>

#include <stdlib.h>

enum { Q_COUNT, Q_CHANNELS, Q_MEMBERS, Q_IDS, Q_ADMIT };

/* What a held cluster_admit answers (1: admitted, the user's first node; 2: admitted;
 * 0: full), and how many releases cluster_transition(joined 0) saw: set and read by tests. */
long stall_admit_answer = 1;
long stall_releases;
/* Connections cluster_connection(joined 0) gave back: read by tests. */
long stall_connections_released;

typedef struct held_s {
    struct held_s *next;
    int kind;
    void *cb;
    void *arg;
} held_t;

static const soketi_host_t *host;
static held_t *held;
static size_t nheld;

static void
hold(int kind, void *cb, void *arg)
{
    held_t *h = malloc(sizeof(*h));
    if (!h)
        abort();
    *h = (held_t){.next = held, .kind = kind, .cb = cb, .arg = arg};
    held = h;
    nheld++;
}

/* Answers every query held now with status (and empty results); returns how many. The
 * queries their callbacks make stay held for the next call. */
size_t stall_release(int status);

size_t
stall_release(int status)
{
    size_t n = 0;
    held_t *list = held;
    held = NULL;
    nheld = 0;
    while (list) {
        held_t *h = list;
        list = h->next;
        switch (h->kind) {
        case Q_COUNT:
            ((soketi_count_cb)h->cb)(h->arg, status, 0);
            break;
        case Q_ADMIT:
            ((soketi_count_cb)h->cb)(h->arg, status, status == SOKETI_OK ? stall_admit_answer : 0);
            break;
        case Q_CHANNELS:
            ((soketi_channels_cb)h->cb)(h->arg, status, NULL, 0);
            break;
        case Q_MEMBERS:
            ((soketi_members_cb)h->cb)(h->arg, status, NULL, 0);
            break;
        default:
            ((soketi_ids_cb)h->cb)(h->arg, status, NULL, 0);
        }
        free(h);
        n++;
    }
    return n;
}

/* How many queries wait. */
size_t stall_held(void);

size_t
stall_held(void)
{
    return nheld;
}

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 1)
            return 1;
    return -1;
}

static void
st_broadcast(void *self, const char *app_id, const char *channel, const char *msg, size_t len,
             const char *except)
{
    (void)self;
    host->deliver_local(app_id, channel, msg, len, except);
}

static void
st_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    (void)self, (void)app_id;
    hold(Q_COUNT, (void *)cb, arg);
}

static void
st_channel_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb, void *arg)
{
    (void)channel;
    st_count(self, app_id, cb, arg);
}

static void
st_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                 soketi_count_cb cb, void *arg)
{
    (void)socket_id;
    st_channel_count(self, app_id, channel, cb, arg);
}

static void
st_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    (void)self, (void)app_id;
    hold(Q_CHANNELS, (void *)cb, arg);
}

static void
st_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb, void *arg)
{
    (void)self, (void)app_id, (void)channel;
    hold(Q_MEMBERS, (void *)cb, arg);
}

static void
st_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    (void)self, (void)app_id;
    hold(Q_IDS, (void *)cb, arg);
}

static void
st_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb, void *arg)
{
    (void)channel;
    st_sockets(self, app_id, cb, arg);
}

static void
st_admit(void *self, const char *app_id, const char *channel, const char *user_id, long limit,
         soketi_count_cb cb, void *arg)
{
    (void)self, (void)app_id, (void)channel, (void)user_id, (void)limit;
    hold(Q_ADMIT, (void *)cb, arg);
}

static void
st_transition(void *self, const char *app_id, const char *channel, const char *user_id, int joined,
              soketi_count_cb cb, void *arg)
{
    (void)self, (void)app_id, (void)channel;
    if (user_id && !joined)
        stall_releases++;
    cb(arg, SOKETI_OK, 1);
}

/* cluster_connection: an admission is held (answered stall_admit_answer), a release counted
 * and answered at once. */
static void
st_connection(void *self, const char *app_id, int joined, long limit, soketi_count_cb cb, void *arg)
{
    (void)self, (void)app_id, (void)limit;
    if (joined) {
        hold(Q_ADMIT, (void *)cb, arg);
        return;
    }
    stall_connections_released++;
    cb(arg, SOKETI_OK, 1);
}

static void
st_terminate(void *self, const char *app_id, const char *user_id)
{
    (void)self;
    host->local_terminate_user_connections(app_id, user_id);
}

int
soketi_adapter_init(const soketi_host_t *h, soketi_adapter_t *adapter)
{
    host = h;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = st_broadcast;
    adapter->ops.sockets_count = st_count;
    adapter->ops.channel_sockets_count = st_channel_count;
    adapter->ops.channel_members_count = st_channel_count;
    adapter->ops.is_in_channel = st_is_in_channel;
    adapter->ops.channels = st_channels;
    adapter->ops.channel_members = st_members;
    adapter->ops.sockets = st_sockets;
    adapter->ops.channel_sockets = st_channel_sockets;
    adapter->ops.terminate_user_connections = st_terminate;
    adapter->ops.cluster_transition = st_transition;
    adapter->ops.cluster_admit = st_admit;
    adapter->ops.cluster_connection = st_connection;
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    (void)adapter;
    stall_release(SOKETI_ERROR);
}
