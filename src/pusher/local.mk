# src/pusher/local.mk - the Pusher protocol (included by Makefile.am)

noinst_LTLIBRARIES += libskt_pusher.la
libskt_pusher_la_SOURCES = src/pusher/sig.c src/pusher/sig.h

check_PROGRAMS += tests/check_sig
TESTS += tests/check_sig
tests_check_sig_SOURCES = tests/check_sig.c
tests_check_sig_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sig_LDADD = libskt_pusher.la libskt_util.la $(CHECK_EXT)

# In dependency order: each file calls only files listed before it (README "Architecture").
libskt_pusher_la_SOURCES += \
	src/pusher/channel_kind.h src/pusher/server.h \
	src/pusher/input.c src/pusher/input.h \
	src/pusher/namespace.c src/pusher/namespace.h \
	src/pusher/message.c src/pusher/message.h \
	src/pusher/send.c src/pusher/send.h \
	src/pusher/shared.c src/pusher/shared.h \
	src/pusher/online.c src/pusher/online.h \
	src/pusher/subcount.c src/pusher/subcount.h \
	src/pusher/cached.c src/pusher/cached.h \
	src/pusher/signin.c src/pusher/signin.h \
	src/pusher/host.c src/pusher/host.h \
	src/pusher/server_life.c src/pusher/server_life.h \
	src/pusher/presence.c src/pusher/presence.h \
	src/pusher/subscribe.c src/pusher/subscribe.h \
	src/pusher/client_event.c src/pusher/client_event.h \
	src/pusher/ws_handler.c src/pusher/ws_handler.h \
	src/pusher/http_reply.c src/pusher/http_reply.h \
	src/pusher/http_info.c src/pusher/http_info.h \
	src/pusher/http_events.c src/pusher/http_events.h \
	src/pusher/http_query.c src/pusher/http_query.h \
	src/pusher/http_metrics.c src/pusher/http_metrics.h \
	src/pusher/http_api.c src/pusher/http_api.h

check_PROGRAMS += tests/check_namespace
TESTS += tests/check_namespace
tests_check_namespace_SOURCES = tests/check_namespace.c
tests_check_namespace_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_namespace_LDADD = libskt_pusher.la libskt_plugin.la libskt_netio.la libskt_net.la libskt_config.la \
	libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_message
TESTS += tests/check_message
tests_check_message_SOURCES = tests/check_message.c
tests_check_message_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_message_LDADD = libskt_pusher.la libskt_util.la $(CHECK_EXT)

# The protocol without sockets: the real server and handlers over tests/fake_net.c (in
# place of libskt_netio) and the local adapter plugin.
check_PROGRAMS += tests/check_protocol
TESTS += tests/check_protocol
tests_check_protocol_SOURCES = tests/check_protocol.c tests/fake_net.c tests/fake_net.h
tests_check_protocol_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_protocol_LDADD = libskt_pusher.la libskt_plugin.la libskt_features.la \
	libskt_net.la libskt_config.la libskt_util.la $(CHECK_EXT)
