/* signin.h - pusher:signin: who a connection is, its sign-in deadline, its watchlist.
 *
 * Behaviour follows Pusher's user authentication as soketi 1.6 implements it
 * (src/ws-handler.ts: handleSignin, setUserAuthenticationTimeout): a connection proves
 * who it is with user_data signed by the app's backend; an app with
 * enableUserAuthentication closes connections that neither sign in nor join an
 * authorized channel within userAuthenticationTimeout. A signed-in connection receives
 * the user's "#server-to-user-<id>" events and its watchlist events (pusher/online.h).
 */
#ifndef SKT_PUSHER_SIGNIN_H
#define SKT_PUSHER_SIGNIN_H

#include <jansson.h>

#include "pusher/namespace.h"

/* pusher:signin with data {user_data, auth}: checks the signature, records the user,
 * answers pusher:signin_success and starts the watchlist; a bad one closes with 4009. */
void skt_signin(skt_socket_t *s, json_t *data);

/* Forgets who s was signed in as (s signs in as someone else or closes): its watchlist,
 * its place among the user's sockets and, when it was the user's last, tells the user's
 * watchers. */
void skt_signout(skt_socket_t *s);

/* Starts s's sign-in deadline when its app requires sign-in (after connection_established). */
void skt_signin_deadline_start(skt_socket_t *s);
/* s proved who it is (signed in, or joined an authorized channel): no sign-in deadline. */
void skt_signin_deadline_clear(skt_socket_t *s);
/* The deadline passed (features/deadline.h calls it with the socket): pusher:error 4009 and
 * close 4009. */
void skt_signin_timeout(void *socket);

#endif
