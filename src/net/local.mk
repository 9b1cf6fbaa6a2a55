# src/net/local.mk - bytes on the wire: parsers, codecs, connection I/O (included by Makefile.am)

# Pure parsers and codecs: no sockets, unit-tested with bytes.
noinst_LTLIBRARIES += libskt_net.la
libskt_net_la_SOURCES = \
	src/net/ws_frame.c src/net/ws_frame.h \
	src/net/http_parse.c src/net/http_parse.h

check_PROGRAMS += tests/check_ws_frame tests/check_http_parse
TESTS += tests/check_ws_frame tests/check_http_parse
tests_check_ws_frame_SOURCES = tests/check_ws_frame.c
tests_check_ws_frame_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_ws_frame_LDADD = libskt_net.la libskt_util.la $(CHECK_EXT)
tests_check_http_parse_SOURCES = tests/check_http_parse.c
tests_check_http_parse_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_http_parse_LDADD = libskt_net.la libskt_util.la $(CHECK_EXT)

# Connection I/O on the event loop, plain or through TLS: a library of its own, so that
# the protocol's unit tests link a fake in its place (tests/fake_net.c).
noinst_LTLIBRARIES += libskt_netio.la
libskt_netio_la_SOURCES = \
	src/net/net.c src/net/conn.c src/net/conn.h src/net/conn_internal.h \
	src/net/conn_in.c src/net/conn_out.c src/net/conn_http.c src/net/conn_ws.c \
	src/net/conn_io.c src/net/listener.c \
	src/net/tls.c src/net/tls.h
libskt_netio_la_LIBADD = $(SSL_LIBS)

check_PROGRAMS += tests/check_conn
TESTS += tests/check_conn
tests_check_conn_SOURCES = tests/check_conn.c
tests_check_conn_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_conn_LDADD = libskt_netio.la libskt_net.la libskt_util.la $(CHECK_EXT)
