# plugins/redis/local.mk - the redis adapter plugins, adapter_redis.so and
# adapter_redis_cluster.so (included by Makefile.am)
#
# The soketi wire codec and the horizontal-adapter logic (requests, timeouts, merging,
# answering peers) are a convenience library of their own, and so is the self-healing
# hiredis connection (conn.c), so that both transports link the same code:
# adapter_redis.c (one server) and adapter_redis_cluster.c (a Redis Cluster) are only
# what differs. The library compiles its own copies of the hash map and the JSON writer,
# because a plugin resolves nothing from the daemon.

noinst_LTLIBRARIES += plugins/redis/libskt_horizontal.la
plugins_redis_libskt_horizontal_la_SOURCES = \
	plugins/redis/codec.c plugins/redis/codec.h \
	plugins/redis/horizontal_core.c plugins/redis/horizontal_core.h \
	plugins/redis/horizontal_limits.c plugins/redis/horizontal_limits.h \
	plugins/redis/horizontal_merge.c plugins/redis/horizontal_merge.h \
	plugins/redis/horizontal_answer.c plugins/redis/horizontal_answer.h \
	plugins/redis/horizontal.c plugins/redis/horizontal.h plugins/redis/horizontal_internal.h \
	plugins/redis/horizontal_ops.c plugins/redis/horizontal_peers.c \
	plugins/redis/horizontal_counts.c \
	src/util/map.c src/util/map.h src/util/jsonw.c src/util/jsonw.h
plugins_redis_libskt_horizontal_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_redis_libskt_horizontal_la_CFLAGS = $(AM_CFLAGS)

# What both Redis transports share that needs hiredis: one self-healing connection and
# the configuration they read (conn.c), the master of a Sentinel group followed
# (sentinel.c; sentinel_proto.c the pure part: the sentinels configured and the replies),
# and the state nodes share in Redis keys (store.c: occupancy, rate limits, cache; it uses
# libskt_horizontal's map and its libcrypto SHA1).
noinst_LTLIBRARIES += plugins/redis/libskt_rconn.la
plugins_redis_libskt_rconn_la_SOURCES = plugins/redis/conn.c plugins/redis/conn.h \
	plugins/redis/sentinel.c plugins/redis/sentinel.h plugins/redis/sentinel_proto.c \
	plugins/redis/sentinel_proto.h \
	plugins/redis/store.c plugins/redis/store.h plugins/redis/store_proto.c \
	plugins/redis/store_jobs.c plugins/redis/store_jobs.h \
	plugins/redis/store_proto.h
plugins_redis_libskt_rconn_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_redis_libskt_rconn_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)

plugin_LTLIBRARIES += plugins/adapter_redis.la
plugins_adapter_redis_la_SOURCES = plugins/redis/adapter_redis.c
plugins_adapter_redis_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_adapter_redis_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
plugins_adapter_redis_la_LIBADD = plugins/redis/libskt_rconn.la plugins/redis/libskt_horizontal.la \
	$(HIREDIS_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
plugins_adapter_redis_la_LDFLAGS = $(plugin_ldflags)

# The redis-cluster adapter: the same protocol over a Redis Cluster, routed by hand
# (adapter_redis_cluster.c is the transport; cluster_topology.c the node list, the slot
# map and its refresh; cluster_slots.c the pure part: key slots, the slot map, MOVED/ASK,
# seed nodes).
plugin_LTLIBRARIES += plugins/adapter_redis_cluster.la
plugins_adapter_redis_cluster_la_SOURCES = plugins/redis/adapter_redis_cluster.c \
	plugins/redis/cluster_topology.c plugins/redis/cluster_internal.h \
	plugins/redis/cluster_slots.c plugins/redis/cluster_slots.h
plugins_adapter_redis_cluster_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_adapter_redis_cluster_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
plugins_adapter_redis_cluster_la_LIBADD = plugins/redis/libskt_rconn.la \
	plugins/redis/libskt_horizontal.la $(HIREDIS_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) \
	$(CRYPTO_LIBS)
plugins_adapter_redis_cluster_la_LDFLAGS = $(plugin_ldflags)

check_PROGRAMS += tests/check_redis_codec
TESTS += tests/check_redis_codec
tests_check_redis_codec_SOURCES = tests/check_redis_codec.c
tests_check_redis_codec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_check_redis_codec_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_redis_codec_LDADD = plugins/redis/libskt_horizontal.la $(CHECK_EXT)

# The layer's bounds on what peers may cost, on a fake transport and host.
check_PROGRAMS += tests/check_redis_horizontal
TESTS += tests/check_redis_horizontal
tests_check_redis_horizontal_SOURCES = tests/check_redis_horizontal.c \
	tests/check_redis_fakehost.c tests/check_redis_fakehost.h
tests_check_redis_horizontal_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_check_redis_horizontal_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_redis_horizontal_LDADD = plugins/redis/libskt_horizontal.la $(CHECK_EXT)

check_PROGRAMS += tests/check_redis_cluster
TESTS += tests/check_redis_cluster
tests_check_redis_cluster_SOURCES = tests/check_redis_cluster.c tests/check_resp.h \
	plugins/redis/cluster_slots.c
tests_check_redis_cluster_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_check_redis_cluster_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_redis_cluster_LDADD = $(HIREDIS_LIBS) $(CHECK_EXT)

# The shared state (store.c): key building and reply parsing, then the plugins loaded
# (dlopen) into two fake daemons against a redis-server (check_redis_store) and a
# two-master Redis Cluster (check_redis_store_cluster) that the tests start on free
# loopback ports; they pass without running when redis-server is not installed.
check_PROGRAMS += tests/check_redis_store
TESTS += tests/check_redis_store
tests_check_redis_store_SOURCES = tests/check_redis_store.c tests/check_resp.h tests/check_redis_live.c \
	tests/check_redis_live.h tests/check_redis_fakehost.c tests/check_redis_fakehost.h \
	tests/fake_config.c tests/fake_config.h tests/test_port.c tests/test_port.h
tests_check_redis_store_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis \
	-DCHECK_REDIS_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\"
tests_check_redis_store_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_redis_store_LDADD = plugins/redis/libskt_rconn.la plugins/redis/libskt_horizontal.la \
	$(HIREDIS_LIBS) $(CRYPTO_LIBS) $(CHECK_EXT)

# Redis Sentinel's pure part: the sentinels configured, the replies of sentinels and
# masters.
check_PROGRAMS += tests/check_redis_sentinel
TESTS += tests/check_redis_sentinel
tests_check_redis_sentinel_SOURCES = tests/check_redis_sentinel.c tests/check_resp.h \
	plugins/redis/sentinel_proto.c
tests_check_redis_sentinel_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_check_redis_sentinel_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_redis_sentinel_LDADD = $(HIREDIS_LIBS) $(CHECK_EXT)

check_PROGRAMS += tests/check_redis_store_cluster
TESTS += tests/check_redis_store_cluster
tests_check_redis_store_cluster_SOURCES = tests/check_redis_store_cluster.c \
	tests/check_redis_live.c tests/check_redis_live.h tests/check_redis_fakehost.c \
	tests/check_redis_fakehost.h tests/fake_config.c tests/fake_config.h tests/test_port.c tests/test_port.h plugins/redis/cluster_slots.c
tests_check_redis_store_cluster_CPPFLAGS = $(tests_check_redis_store_CPPFLAGS)
tests_check_redis_store_cluster_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_redis_store_cluster_LDADD = $(HIREDIS_LIBS) $(CHECK_EXT)
