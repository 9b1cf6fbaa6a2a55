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
