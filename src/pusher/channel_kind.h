/* channel_kind.h - what a channel's name makes it: public, private, encrypted, presence. */
#ifndef SKT_PUSHER_CHANNEL_KIND_H
#define SKT_PUSHER_CHANNEL_KIND_H

#include <stddef.h>
#include <string.h>

/* Broadcasts to "#server-to-user-<id>" reach the sockets signed in as <id>. */
#define SKT_SERVER_TO_USER_PREFIX "#server-to-user-"

enum skt_channel_kind {
    SKT_CHANNEL_PUBLIC = 0,
    SKT_CHANNEL_PRIVATE,
    SKT_CHANNEL_ENCRYPTED,
    SKT_CHANNEL_PRESENCE,
};

/* The kind by prefix, as soketi's Utils: presence-, private-encrypted-,
 * private-, anything else public (cache- variants follow their prefix). */
static inline int
skt_channel_kind(const char *name, size_t len)
{
    if (len >= 9 && memcmp(name, "presence-", 9) == 0)
        return SKT_CHANNEL_PRESENCE;
    if (len >= 18 && memcmp(name, "private-encrypted-", 18) == 0)
        return SKT_CHANNEL_ENCRYPTED;
    if (len >= 8 && memcmp(name, "private-", 8) == 0)
        return SKT_CHANNEL_PRIVATE;
    return SKT_CHANNEL_PUBLIC;
}

#endif
