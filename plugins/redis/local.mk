# plugins/redis/local.mk - the redis adapter plugin, adapter_redis.so (included by Makefile.am)
#
# The soketi wire codec and the horizontal-adapter logic (requests, timeouts, merging,
# answering peers) are a convenience library of their own, so that another transport
# (the redis-cluster adapter) links the same code; adapter_redis.c is only the
# single-server connection handling. The library compiles its own copy of the hash map,
# because a plugin resolves nothing from the daemon.

noinst_LTLIBRARIES += plugins/redis/libskt_horizontal.la
plugins_redis_libskt_horizontal_la_SOURCES = \
	plugins/redis/codec.c plugins/redis/codec.h \
	plugins/redis/horizontal.c plugins/redis/horizontal.h \
	src/util/map.c src/util/map.h
plugins_redis_libskt_horizontal_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_redis_libskt_horizontal_la_CFLAGS = $(AM_CFLAGS)

plugin_LTLIBRARIES += plugins/adapter_redis.la
plugins_adapter_redis_la_SOURCES = plugins/redis/adapter_redis.c
plugins_adapter_redis_la_CPPFLAGS = -I$(top_srcdir)/include
plugins_adapter_redis_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
plugins_adapter_redis_la_LIBADD = plugins/redis/libskt_horizontal.la $(HIREDIS_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS)
plugins_adapter_redis_la_LDFLAGS = $(plugin_ldflags)

check_PROGRAMS += tests/check_redis_codec
TESTS += tests/check_redis_codec
tests_check_redis_codec_SOURCES = tests/check_redis_codec.c
tests_check_redis_codec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_check_redis_codec_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_redis_codec_LDADD = plugins/redis/libskt_horizontal.la $(CHECK_EXT)

