/* check_namespace.c - unit tests for channel, presence and user bookkeeping. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pusher/namespace.h"

static skt_app_t app = {.id = "app-id", .key = "app-key", .secret = "app-secret"};

static skt_socket_t *
sock(const char *id)
{
    skt_socket_t *s = calloc(1, sizeof(*s));
    s->id_len = (uint8_t)snprintf(s->id, sizeof(s->id), "%s", id);
    return s;
}

START_TEST(test_join_leave_counts)
{
    skt_ns_t *ns = skt_ns_new(&app);
    skt_socket_t *a = sock("1.1"), *b = sock("2.2");
    uint32_t n;
    char *gone;
    ck_assert_int_eq(skt_ns_add_socket(ns, a), 0);
    ck_assert_int_eq(skt_ns_add_socket(ns, b), 0);
    ck_assert_ptr_nonnull(skt_ns_join(ns, a, "news", 4, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(skt_ns_join(ns, b, "news", 4, &n));
    ck_assert_uint_eq(n, 2);
    /* Joining again is idempotent. */
    ck_assert_ptr_nonnull(skt_ns_join(ns, a, "news", 4, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(a->nsubs, 1);
    ck_assert_ptr_nonnull(skt_ns_join(ns, a, "sport", 5, &n));
    ck_assert_uint_eq(skt_map_count(ns->channels), 2);

    /* a leaves news: b moves into a's slot and its index follows. */
    skt_sub_t *sub = skt_ns_find_sub(a, "news", 4);
    skt_ns_leave(ns, a, (uint16_t)(sub - a->subs), &n, &gone, NULL);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_null(gone);
    skt_channel_t *ch = skt_ns_channel(ns, "news", 4);
    ck_assert_ptr_eq(ch->socks[0], b);
    ck_assert_uint_eq(skt_ns_find_sub(b, "news", 4)->idx, 0);
    ck_assert_ptr_null(skt_ns_find_sub(a, "news", 4));

    /* The last socket leaving removes the channel. */
    skt_ns_leave(ns, b, 0, &n, &gone, NULL);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(skt_ns_channel(ns, "news", 4));
    skt_ns_leave(ns, a, 0, &n, &gone, NULL);
    ck_assert_uint_eq(skt_map_count(ns->channels), 0);
    ck_assert_ptr_null(a->subs);

    skt_ns_remove_socket(ns, a);
    skt_ns_remove_socket(ns, b);
    ck_assert_uint_eq(skt_map_count(ns->sockets), 0);
    skt_ns_free(ns);
    free(a);
    free(b);
}
END_TEST

/* Many sockets leaving in an order unlike their joining keep every index right. */
START_TEST(test_swap_remove_indices)
{
    enum { N = 200 };
    skt_ns_t *ns = skt_ns_new(&app);
    skt_socket_t *s[N];
    uint32_t n;
    char *gone, id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "%d.0", i);
        s[i] = sock(id);
        ck_assert_int_eq(skt_ns_add_socket(ns, s[i]), 0);
        skt_ns_join(ns, s[i], "c", 1, &n);
        skt_ns_join(ns, s[i], "d", 1, &n);
    }
    for (int i = 0; i < N; i += 2)
        skt_ns_leave(ns, s[i], 0, &n, &gone, NULL);
    skt_channel_t *c = skt_ns_channel(ns, "c", 1), *d = skt_ns_channel(ns, "d", 1);
    ck_assert_uint_eq(c->n, N / 2);
    ck_assert_uint_eq(d->n, N);
    for (uint32_t i = 0; i < c->n; i++)
        ck_assert_uint_eq(skt_ns_find_sub(c->socks[i], "c", 1)->idx, i);
    for (uint32_t i = 0; i < d->n; i++)
        ck_assert_uint_eq(skt_ns_find_sub(d->socks[i], "d", 1)->idx, i);
    for (int i = 0; i < N; i++) {
        while (s[i]->nsubs)
            skt_ns_leave(ns, s[i], (uint16_t)(s[i]->nsubs - 1), &n, &gone, NULL);
        skt_ns_remove_socket(ns, s[i]);
        free(s[i]);
    }
    ck_assert_uint_eq(skt_map_count(ns->channels), 0);
    skt_ns_free(ns);
}
END_TEST

/* A socket in thousands of channels: its subscriptions are found through the index, and
 * stay right through joins and leaves in any order, its own and other sockets'. */
START_TEST(test_many_channels_per_socket)
{
    enum { N = 3000 };
    skt_ns_t *ns = skt_ns_new(&app);
    skt_socket_t *a = sock("1.1"), *b = sock("2.2");
    ck_assert_int_eq(skt_ns_add_socket(ns, a), 0);
    ck_assert_int_eq(skt_ns_add_socket(ns, b), 0);
    uint32_t n;
    char *gone, name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "ch-%d", i);
        ck_assert_ptr_nonnull(skt_ns_join(ns, a, name, strlen(name), &n));
        if (i % 3 == 0)
            ck_assert_ptr_nonnull(skt_ns_join(ns, b, name, strlen(name), &n));
    }
    /* joining again finds the existing subscription */
    ck_assert_ptr_nonnull(skt_ns_join(ns, a, "ch-7", 4, &n));
    ck_assert_uint_eq(a->nsubs, N);
    unsigned seed = 3;
    int left[N] = {0};
    for (int k = 0; k < N / 2; k++) {
        int i = rand_r(&seed) % N;
        snprintf(name, sizeof(name), "ch-%d", i);
        skt_sub_t *sub = skt_ns_find_sub(a, name, strlen(name));
        if (left[i]) {
            ck_assert_ptr_null(sub);
            continue;
        }
        ck_assert_ptr_nonnull(sub);
        skt_ns_leave(ns, a, (uint16_t)(sub - a->subs), &n, &gone, NULL);
        left[i] = 1;
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "ch-%d", i);
        skt_sub_t *sa = skt_ns_find_sub(a, name, strlen(name));
        ck_assert(left[i] ? sa == NULL : sa != NULL);
        if (sa)
            ck_assert_ptr_eq(sa->ch->socks[sa->idx], a);
        skt_sub_t *sb = skt_ns_find_sub(b, name, strlen(name));
        ck_assert(i % 3 == 0 ? sb != NULL : sb == NULL);
        if (sb)
            ck_assert_ptr_eq(sb->ch->socks[sb->idx], b);
    }
    while (a->nsubs)
        skt_ns_leave(ns, a, 0, &n, &gone, NULL);
    while (b->nsubs)
        skt_ns_leave(ns, b, (uint16_t)(b->nsubs - 1), &n, &gone, NULL);
    ck_assert_uint_eq(skt_map_count(ns->channels), 0);
    skt_ns_remove_socket(ns, a);
    skt_ns_remove_socket(ns, b);
    skt_ns_free(ns);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_presence_members_per_user)
{
    skt_ns_t *ns = skt_ns_new(&app);
    skt_socket_t *a = sock("1.1"), *a2 = sock("1.2"), *b = sock("2.1");
    uint32_t n;
    char *gone;
    skt_sub_t *sa = skt_ns_join(ns, a, "presence-room", 13, &n);
    ck_assert_int_eq(skt_ns_member_add(sa, "u1", 2, 0, "{\"name\":\"A\"}"), 1);
    skt_sub_t *sa2 = skt_ns_join(ns, a2, "presence-room", 13, &n);
    /* Same user, second socket: not a new member. */
    ck_assert_int_eq(skt_ns_member_add(sa2, "u1", 2, 0, "{\"name\":\"A\"}"), 0);
    skt_sub_t *sb = skt_ns_join(ns, b, "presence-room", 13, &n);
    ck_assert_int_eq(skt_ns_member_add(sb, "u2", 2, 0, NULL), 1);
    skt_channel_t *ch = skt_ns_channel(ns, "presence-room", 13);
    ck_assert_uint_eq(skt_map_count(ch->members), 2);
    skt_member_t *m = skt_map_get(ch->members, "u2", 2);
    ck_assert_str_eq(m->user_info, "null");

    /* u1's first socket leaves: u1 is still a member. */
    skt_ns_leave(ns, a, 0, &n, &gone, NULL);
    ck_assert_ptr_null(gone);
    ck_assert_uint_eq(skt_map_count(ch->members), 2);
    /* u1's last socket leaves: u1 is gone. */
    skt_ns_leave(ns, a2, 0, &n, &gone, NULL);
    ck_assert_ptr_nonnull(gone);
    ck_assert_str_eq(gone, "u1");
    free(gone);
    ck_assert_uint_eq(skt_map_count(ch->members), 1);
    skt_ns_leave(ns, b, 0, &n, &gone, NULL);
    ck_assert_str_eq(gone, "u2");
    free(gone);
    ck_assert_ptr_null(skt_ns_channel(ns, "presence-room", 13));
    /* Public channels have no member map. */
    skt_sub_t *pub = skt_ns_join(ns, a, "public", 6, &n);
    ck_assert_ptr_null(pub->ch->members);
    ck_assert_int_eq(skt_ns_member_add(pub, "u1", 2, 0, NULL), 0);
    skt_ns_leave(ns, a, 0, &n, &gone, NULL);
    skt_ns_free(ns);
    free(a);
    free(a2);
    free(b);
}
END_TEST

START_TEST(test_users)
{
    skt_ns_t *ns = skt_ns_new(&app);
    skt_socket_t *a = sock("1.1"), *a2 = sock("1.2");
    a->user_id = strdup("42");
    a2->user_id = strdup("42");
    ck_assert_int_eq(skt_ns_add_user(ns, a), 0);
    ck_assert_int_eq(skt_ns_add_user(ns, a), 0); /* idempotent */
    ck_assert_int_eq(skt_ns_add_user(ns, a2), 0);
    skt_user_t *u = skt_ns_user(ns, "42", 2);
    ck_assert_uint_eq(u->n, 2);
    skt_ns_remove_user(ns, a);
    ck_assert_uint_eq(skt_ns_user(ns, "42", 2)->n, 1);
    skt_ns_remove_user(ns, a2);
    ck_assert_ptr_null(skt_ns_user(ns, "42", 2));
    free(a->user_id);
    free(a2->user_id);
    free(a);
    free(a2);
    skt_ns_free(ns);
}
END_TEST

static Suite *
namespace_suite(void)
{
    Suite *s = suite_create("namespace");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_join_leave_counts);
    tcase_add_test(tc, test_swap_remove_indices);
    tcase_add_test(tc, test_many_channels_per_socket);
    tcase_add_test(tc, test_presence_members_per_user);
    tcase_add_test(tc, test_users);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(namespace_suite)
