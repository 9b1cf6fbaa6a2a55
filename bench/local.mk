# bench/local.mk - the load generator and the fan-out floor (included by Makefile.am)
#
# Neither is installed: they are tools for measuring the daemon (see bench/README.md).
# Both reuse the project's codecs and signer from the convenience libraries.

noinst_PROGRAMS = bench/soketi-bench bench/floor
bench_soketi_bench_SOURCES = bench/soketi-bench.c bench/bench.h bench/clients.c \
	bench/publish.c bench/wire.c bench/hist.c
bench_soketi_bench_LDADD = libskt_pusher.la libskt_netio.la libskt_net.la libskt_util.la $(LIBEVENT_LIBS) \
	$(CRYPTO_LIBS) $(JANSSON_LIBS) $(LIBS) -lm
bench_floor_SOURCES = bench/floor.c
bench_floor_LDADD = libskt_netio.la libskt_net.la libskt_util.la $(LIBEVENT_LIBS) $(CRYPTO_LIBS) $(LIBS)
EXTRA_DIST += bench/README.md bench/compare.sh
