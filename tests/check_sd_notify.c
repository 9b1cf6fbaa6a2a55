/* check_sd_notify.c - unit tests of the service-manager notification
 * (util/sd_notify.c) against datagram sockets the test binds: a path and an
 * abstract name, as systemd hands out both. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "util/sd_notify.h"

/* Binds a datagram socket at name ("/path" or "@abstract") and points
 * NOTIFY_SOCKET at it. Returns the socket. */
static int
bind_notify_socket(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t len = strlen(name);
    memcpy(sa.sun_path, name, len);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        unlink(name);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, salen), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    return fd;
}

/* The next datagram on fd, as a string (nothing waiting: ""). */
static const char *
recv_message(int fd)
{
    static char buf[2048];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

START_TEST(test_path_socket)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/check_sd_notify.%d", (int)getpid());
    int fd = bind_notify_socket(path);
    ck_assert_int_eq(skt_sd_notify("READY=1"), 1);
    ck_assert_str_eq(recv_message(fd), "READY=1");
    ck_assert_int_eq(skt_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%d", 42), 1);
    ck_assert_str_eq(recv_message(fd), "RELOADING=1\nMONOTONIC_USEC=42");
    ck_assert_int_eq(skt_sd_notify("STOPPING=1"), 1);
    ck_assert_str_eq(recv_message(fd), "STOPPING=1");
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(test_abstract_socket)
{
    char name[64];
    snprintf(name, sizeof(name), "@check_sd_notify/%d", (int)getpid());
    int fd = bind_notify_socket(name);
    ck_assert_int_eq(skt_sd_notify("READY=1\nSTATUS=listening"), 1);
    ck_assert_str_eq(recv_message(fd), "READY=1\nSTATUS=listening");
    close(fd);
}
END_TEST

START_TEST(test_not_under_a_manager)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(skt_sd_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(skt_sd_notify("READY=1"), 0);
}
END_TEST

START_TEST(test_bad_addresses)
{
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(skt_sd_notify("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    ck_assert_int_eq(skt_sd_notify("READY=1"), -EINVAL);
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    ck_assert_int_eq(skt_sd_notify("READY=1"), -EINVAL);
    /* Nobody listens there: the error comes back, nothing crashes. */
    setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
    ck_assert_int_lt(skt_sd_notify("READY=1"), 0);
}
END_TEST

static Suite *
sd_notify_suite(void)
{
    Suite *s = suite_create("sd_notify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_path_socket);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_not_under_a_manager);
    tcase_add_test(tc, test_bad_addresses);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(sd_notify_suite)
