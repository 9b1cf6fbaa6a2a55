/* check_redis_fakehost.c - a fake daemon's local state for the Redis plugin tests. See
 * check_redis_fakehost.h.
 */
#include "check_redis_fakehost.h"

#include <stdio.h>

fake_local_t fake_local;

static void
fake_deliver(const char *app_id, const char *channel, const char *msg, size_t len,
             const char *except)
{
    (void)app_id, (void)channel, (void)msg, (void)len, (void)except;
    fake_local.delivered++;
}

static long
fake_count(const char *app_id)
{
    (void)app_id;
    return fake_local.sockets;
}

static long
fake_channel_count(const char *app_id, const char *channel)
{
    (void)channel;
    return fake_count(app_id);
}

static int
fake_is_in(const char *app_id, const char *channel, const char *socket_id)
{
    (void)app_id, (void)channel, (void)socket_id;
    return 0;
}

static void
fake_channels(const char *app_id, soketi_each_channel_fn each, void *arg)
{
    char name[32];
    for (int i = 0; i < fake_local.channels; i++) {
        snprintf(name, sizeof(name), "ch-%d", i);
        each(arg, name, fake_count(app_id));
    }
}

static void
fake_members(const char *app_id, const char *channel, soketi_each_member_fn each, void *arg)
{
    (void)app_id, (void)channel;
    char id[32], info[32];
    for (int i = 0; i < fake_local.members; i++) {
        snprintf(id, sizeof(id), "user-%d", i);
        snprintf(info, sizeof(info), "{\"n\":%d}", i);
        each(arg, id, info);
    }
}

static void
fake_sockets(const char *app_id, soketi_each_id_fn each, void *arg)
{
    char id[32];
    for (long i = 0; i < fake_count(app_id); i++) {
        snprintf(id, sizeof(id), "1.%ld", i);
        each(arg, id);
    }
}

static void
fake_channel_sockets(const char *app_id, const char *channel, soketi_each_id_fn each, void *arg)
{
    (void)channel;
    fake_sockets(app_id, each, arg);
}

static void
fake_terminate(const char *app_id, const char *user_id)
{
    (void)app_id, (void)user_id;
}

void
fake_host_local(soketi_host_t *h)
{
    h->deliver_local = fake_deliver;
    h->local_sockets_count = fake_count;
    h->local_channel_sockets_count = fake_channel_count;
    h->local_channel_members_count = fake_channel_count;
    h->local_is_in_channel = fake_is_in;
    h->local_channels = fake_channels;
    h->local_channel_members = fake_members;
    h->local_sockets = fake_sockets;
    h->local_channel_sockets = fake_channel_sockets;
    h->local_terminate_user_connections = fake_terminate;
}
