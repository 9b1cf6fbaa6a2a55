# plugins/nats/local.mk - the nats adapter plugin, adapter_nats.so (included by Makefile.am),
# built when configure finds libnats (the NATS C client; --with-nats / --without-nats).
#
# soketi's horizontal protocol is the Redis plugins' library (plugins/redis/libskt_horizontal:
# the wire codec, requests, merging, answering peers), so both transports run the same
# code; this plugin is the NATS transport and the state nodes share in JetStream. Its pure
# part (nats_proto.c: subjects, keys, values, NATS's answers) is unit-tested alone.

if HAVE_NATS
NATS_PLUGIN_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src -I$(top_srcdir)/plugins/redis

plugin_LTLIBRARIES += plugins/adapter_nats.la
plugins_adapter_nats_la_SOURCES = plugins/nats/adapter_nats.c \
	plugins/nats/nats_loop.c plugins/nats/nats_loop.h \
	plugins/nats/nats_conn.c plugins/nats/nats_conn.h \
	plugins/nats/nats_req.c plugins/nats/nats_req.h \
	plugins/nats/nats_count.c plugins/nats/nats_count.h \
	plugins/nats/nats_kv.c plugins/nats/nats_kv.h \
	plugins/nats/nats_store.c plugins/nats/nats_store.h plugins/nats/nats_store_internal.h \
	plugins/nats/nats_store_read.c \
	plugins/nats/nats_proto.c plugins/nats/nats_proto.h
plugins_adapter_nats_la_CPPFLAGS = $(NATS_PLUGIN_CPPFLAGS)
plugins_adapter_nats_la_CFLAGS = $(AM_CFLAGS) $(NATS_CFLAGS) -pthread
plugins_adapter_nats_la_LIBADD = plugins/redis/libskt_horizontal.la $(NATS_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS) -lpthread
# nodelete: libnats must stay loaded once used (nats_conn.h says why)
plugins_adapter_nats_la_LDFLAGS = $(plugin_ldflags) -Wl,-z,nodelete

check_PROGRAMS += tests/check_nats_proto
TESTS += tests/check_nats_proto
tests_check_nats_proto_SOURCES = tests/check_nats_proto.c plugins/nats/nats_proto.c
tests_check_nats_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/nats
tests_check_nats_proto_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_nats_proto_LDADD = $(CHECK_EXT)

# The shared state against a nats-server the test starts on a free loopback port: the
# plugin loaded into two fake daemons (tests/check_redis_live.c's, with check_redis_fakehost.c's
# host table). It fails when
# nats-server is missing, unless SOKETI_TEST_ALLOW_NO_NATS=1.
check_PROGRAMS += tests/check_nats_store
TESTS += tests/check_nats_store
tests_check_nats_store_SOURCES = tests/check_nats_store.c tests/check_redis_live.c \
	tests/check_redis_live.h tests/check_redis_fakehost.c tests/check_redis_fakehost.h \
	tests/fake_config.c tests/fake_config.h tests/test_port.c tests/test_port.h
tests_check_nats_store_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCHECK_REDIS_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\"
tests_check_nats_store_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_nats_store_LDADD = $(HIREDIS_LIBS) $(CHECK_EXT)
endif
EXTRA_DIST += plugins/nats/local.mk
