# plugins/workers/local.mk - adapter_workers.so (included by Makefile.am): the adapter the
# workers of one host load when the configured adapter is local (workers > 1). It is the
# horizontal layer (plugins/redis/libskt_horizontal) over the supervisor's relay: one more
# transport beside Redis, NATS and UDP discovery. It compiles its own copy of the frame
# format (src/workers/frame.c), as a plugin resolves nothing from the daemon.

plugin_LTLIBRARIES += plugins/adapter_workers.la
plugins_adapter_workers_la_SOURCES = plugins/workers/adapter_workers.c \
	plugins/workers/workers_store.c plugins/workers/workers_store.h \
	src/workers/frame.c src/workers/frame.h
plugins_adapter_workers_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src \
	-I$(top_srcdir)/plugins/redis
plugins_adapter_workers_la_CFLAGS = $(AM_CFLAGS)
plugins_adapter_workers_la_LIBADD = plugins/redis/libskt_horizontal.la $(LIBEVENT_LIBS) \
	$(JANSSON_LIBS) -lm
plugins_adapter_workers_la_LDFLAGS = $(plugin_ldflags)
