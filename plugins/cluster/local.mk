# plugins/cluster/local.mk - the cluster adapter plugin, adapter_cluster.so (included by
# Makefile.am): soketi's brokerless `cluster` driver, nodes that find each other on UDP.
#
# soketi's horizontal protocol is the Redis plugins' library (plugins/redis/libskt_horizontal:
# the wire codec, requests, merging, answering peers); this plugin is one more transport
# over it, node-discover's (discover.c on the host's loop; discover_proto.c its packets,
# node table and election, unit-tested alone). It needs nothing the daemon does not.

CLUSTER_PLUGIN_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src -I$(top_srcdir)/plugins/redis

plugin_LTLIBRARIES += plugins/adapter_cluster.la
plugins_adapter_cluster_la_SOURCES = plugins/cluster/adapter_cluster.c \
	plugins/cluster/discover.c plugins/cluster/discover.h \
	plugins/cluster/discover_proto.c plugins/cluster/discover_proto.h
plugins_adapter_cluster_la_CPPFLAGS = $(CLUSTER_PLUGIN_CPPFLAGS)
plugins_adapter_cluster_la_CFLAGS = $(AM_CFLAGS)
plugins_adapter_cluster_la_LIBADD = plugins/redis/libskt_horizontal.la $(LIBEVENT_LIBS) \
	$(JANSSON_LIBS) -lm
plugins_adapter_cluster_la_LDFLAGS = $(plugin_ldflags)

# The packets, node table and election, without a socket (soketi's captured packets).
check_PROGRAMS += tests/check_cluster_proto
TESTS += tests/check_cluster_proto
tests_check_cluster_proto_SOURCES = tests/check_cluster_proto.c plugins/cluster/discover_proto.c
tests_check_cluster_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/cluster \
	-I$(top_srcdir)/plugins/redis
tests_check_cluster_proto_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_cluster_proto_LDADD = plugins/redis/libskt_horizontal.la $(CHECK_EXT) -lm

# The plugin loaded into two fake daemons talking on loopback (in a network namespace of
# the test's own when it runs as root).
# (The fake daemons are the Redis tests' own, check_redis_live.c.)
check_PROGRAMS += tests/check_cluster
TESTS += tests/check_cluster
tests_check_cluster_SOURCES = tests/check_cluster.c tests/check_redis_live.c \
	tests/check_redis_live.h tests/check_redis_fakehost.c tests/check_redis_fakehost.h \
	tests/fake_config.c tests/fake_config.h tests/test_port.c tests/test_port.h
tests_check_cluster_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCHECK_REDIS_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\"
tests_check_cluster_CFLAGS = $(CHECK_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_check_cluster_LDADD = $(HIREDIS_LIBS) $(CHECK_EXT)
