/* sd_notify.h - tells the service manager (systemd Type=notify) the daemon's state.
 *
 * The protocol of sd_notify(3) without libsystemd: one datagram of
 * newline-separated VAR=value lines ("READY=1", "STOPPING=1",
 * "RELOADING=1", "STATUS=...") to the AF_UNIX socket named by $NOTIFY_SOCKET,
 * a path or, when it starts with '@', an abstract socket name.
 */
#ifndef SKT_UTIL_SD_NOTIFY_H
#define SKT_UTIL_SD_NOTIFY_H

/* Sends state to $NOTIFY_SOCKET. Returns 1 when sent, 0 when the variable is
 * unset or empty (not started by a notify-aware manager: nothing to do), or a
 * negative errno value: -EINVAL for an address that is neither an absolute
 * path nor '@' name or is too long, else what socket() or sendto() failed
 * with. Never blocks for long (a datagram on a local socket). */
int skt_sd_notify(const char *state);

/* printf-style skt_sd_notify(); messages longer than 1 KiB are cut. */
int skt_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
