# tests/fuzz/local.mk - libFuzzer targets, one per parser (included by Makefile.am)
#
# Built only by `configure CC=clang --enable-fuzzing`, which also builds every library with
# the fuzzer's coverage and ASan+UBSan. `make fuzz` runs each target for FUZZ_SECONDS with
# its seed corpus (tests/fuzz/corpus/<target>/) and dictionary (tests/fuzz/<target>.dict);
# `make fuzz-<target>` or `make fuzz FUZZ_TARGETS="a b"` runs some. See tests/fuzz/README.md.

FUZZ_ALL = ws_frame http_request http_chunked http_query config_ini config_json config_env \
	apps sig redis_codec redis_reply pusher_ws pusher_rest
FUZZ_SECONDS = 20
FUZZ_TARGETS = $(FUZZ_ALL)

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run.sh tests/fuzz/make_seeds.py tests/fuzz/fuzz.h \
	tests/fuzz/corpus \
	$(wildcard $(srcdir)/tests/fuzz/*.dict)

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_ws_frame tests/fuzz/fuzz_http_request \
	tests/fuzz/fuzz_http_chunked tests/fuzz/fuzz_http_query tests/fuzz/fuzz_config_ini \
	tests/fuzz/fuzz_config_json tests/fuzz/fuzz_config_env tests/fuzz/fuzz_apps \
	tests/fuzz/fuzz_sig tests/fuzz/fuzz_redis_codec tests/fuzz/fuzz_redis_reply \
	tests/fuzz/fuzz_pusher_ws tests/fuzz/fuzz_pusher_rest
endif

fuzz_ldflags = $(FUZZ_LDFLAGS) $(SAN_LDFLAGS)
fuzz_net_libs = libskt_net.la libskt_util.la $(EXT_LIBS)
fuzz_config_libs = libskt_config.la libskt_util.la $(EXT_LIBS)

tests_fuzz_fuzz_ws_frame_SOURCES = tests/fuzz/fuzz_ws_frame.c
tests_fuzz_fuzz_ws_frame_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_ws_frame_LDADD = $(fuzz_net_libs)
tests_fuzz_fuzz_http_request_SOURCES = tests/fuzz/fuzz_http_request.c
tests_fuzz_fuzz_http_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_request_LDADD = $(fuzz_net_libs)
tests_fuzz_fuzz_http_chunked_SOURCES = tests/fuzz/fuzz_http_chunked.c
tests_fuzz_fuzz_http_chunked_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_chunked_LDADD = $(fuzz_net_libs)
tests_fuzz_fuzz_http_query_SOURCES = tests/fuzz/fuzz_http_query.c
tests_fuzz_fuzz_http_query_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_query_LDADD = $(fuzz_net_libs)

# One source, three readers.
tests_fuzz_fuzz_config_ini_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_ini_CPPFLAGS = $(AM_CPPFLAGS) -DFZ_CONFIG_INI
tests_fuzz_fuzz_config_ini_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_config_ini_LDADD = $(fuzz_config_libs)
tests_fuzz_fuzz_config_json_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_json_CPPFLAGS = $(AM_CPPFLAGS) -DFZ_CONFIG_JSON
tests_fuzz_fuzz_config_json_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_config_json_LDADD = $(fuzz_config_libs)
tests_fuzz_fuzz_config_env_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_env_CPPFLAGS = $(AM_CPPFLAGS) -DFZ_CONFIG_ENV
tests_fuzz_fuzz_config_env_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_config_env_LDADD = $(fuzz_config_libs)
tests_fuzz_fuzz_apps_SOURCES = tests/fuzz/fuzz_apps.c
tests_fuzz_fuzz_apps_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_apps_LDADD = $(fuzz_config_libs)

tests_fuzz_fuzz_sig_SOURCES = tests/fuzz/fuzz_sig.c
tests_fuzz_fuzz_sig_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_sig_LDADD = libskt_pusher.la $(fuzz_net_libs)

tests_fuzz_fuzz_redis_codec_SOURCES = tests/fuzz/fuzz_redis_codec.c
tests_fuzz_fuzz_redis_codec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_fuzz_fuzz_redis_codec_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_redis_codec_LDADD = plugins/redis/libskt_horizontal.la $(EXT_LIBS)
tests_fuzz_fuzz_redis_reply_SOURCES = tests/fuzz/fuzz_redis_reply.c plugins/redis/cluster_slots.c
tests_fuzz_fuzz_redis_reply_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
tests_fuzz_fuzz_redis_reply_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
tests_fuzz_fuzz_redis_reply_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_redis_reply_LDADD = plugins/redis/libskt_rconn.la plugins/redis/libskt_horizontal.la \
	$(HIREDIS_LIBS) $(EXT_LIBS)

# The Pusher message handler and the REST routes: the real server, handlers and
# adapter_local.so over the fake net of the protocol's unit tests (tests/fake_net.c).
fuzz_pusher_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	-DFZ_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\"
fuzz_pusher_libs = libskt_pusher.la libskt_plugin.la libskt_features.la libskt_net.la \
	libskt_config.la libskt_util.la $(EXT_LIBS)
tests_fuzz_fuzz_pusher_ws_SOURCES = tests/fuzz/fuzz_pusher_ws.c tests/fake_net.c tests/fake_net.h
tests_fuzz_fuzz_pusher_ws_CPPFLAGS = $(fuzz_pusher_cppflags)
tests_fuzz_fuzz_pusher_ws_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_pusher_ws_LDADD = $(fuzz_pusher_libs)
tests_fuzz_fuzz_pusher_rest_SOURCES = tests/fuzz/fuzz_pusher_rest.c tests/fake_net.c tests/fake_net.h
tests_fuzz_fuzz_pusher_rest_CPPFLAGS = $(fuzz_pusher_cppflags)
tests_fuzz_fuzz_pusher_rest_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_pusher_rest_LDADD = $(fuzz_pusher_libs)

# `make fuzz`, `make fuzz-<target>`: the targets are built first, then run one at a time.
.PHONY: fuzz
if ENABLE_FUZZING
# The protocol targets load adapter_local.so: it is built with them.
fuzz: $(FUZZ_TARGETS:%=tests/fuzz/fuzz_%) plugins/adapter_local.la
	FUZZ_SECONDS='$(FUZZ_SECONDS)' $(SHELL) $(srcdir)/tests/fuzz/run.sh \
		'$(abs_top_srcdir)/tests/fuzz' '$(abs_top_builddir)/tests/fuzz' $(FUZZ_TARGETS)
fuzz-%: tests/fuzz/fuzz_% plugins/adapter_local.la
	FUZZ_SECONDS='$(FUZZ_SECONDS)' $(SHELL) $(srcdir)/tests/fuzz/run.sh \
		'$(abs_top_srcdir)/tests/fuzz' '$(abs_top_builddir)/tests/fuzz' $*
else
fuzz_disabled = echo "make fuzz: configure with CC=clang --enable-fuzzing first" >&2; exit 1
fuzz:
	@$(fuzz_disabled)
fuzz-%:
	@$(fuzz_disabled)
endif

clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/work
