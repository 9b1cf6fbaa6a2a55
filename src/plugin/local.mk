# src/plugin/local.mk - loading adapter and app manager plugins (included by Makefile.am)

noinst_LTLIBRARIES += libskt_plugin.la
libskt_plugin_la_SOURCES = src/plugin/loader.c src/plugin/loader.h

# Test-only plugins, each refused (or accepted) for one reason. -rpath makes libtool build
# real shared objects; they land in tests/.libs, which is $SOKETI_TEST_PLUGIN_DIR. Like
# third-party plugins they see only the installed header.
check_plugin_cppflags = -I$(top_srcdir)/include
check_plugin_ldflags = $(plugin_ldflags) -rpath /nowhere
check_LTLIBRARIES += tests/adapter_echo.la tests/adapter_newer.la tests/adapter_none.la \
	tests/adapter_nosym.la tests/adapter_failinit.la tests/adapter_nullop.la \
	tests/adapter_small_ops.la tests/adapter_stall.la
tests_adapter_echo_la_SOURCES = tests/plugins/adapter_echo.c
tests_adapter_echo_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_echo_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_newer_la_SOURCES = tests/plugins/adapter_newer.c
tests_adapter_newer_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_newer_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_none_la_SOURCES = tests/plugins/adapter_none.c
tests_adapter_none_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_none_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_nosym_la_SOURCES = tests/plugins/adapter_nosym.c
tests_adapter_nosym_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_nosym_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_failinit_la_SOURCES = tests/plugins/adapter_failinit.c
tests_adapter_failinit_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_failinit_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_nullop_la_SOURCES = tests/plugins/adapter_nullop.c
tests_adapter_nullop_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_nullop_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_small_ops_la_SOURCES = tests/plugins/adapter_small_ops.c
tests_adapter_small_ops_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_small_ops_la_LDFLAGS = $(check_plugin_ldflags)
tests_adapter_stall_la_SOURCES = tests/plugins/adapter_stall.c
tests_adapter_stall_la_CPPFLAGS = $(check_plugin_cppflags)
tests_adapter_stall_la_LDFLAGS = $(check_plugin_ldflags)
check_LTLIBRARIES += tests/app_manager_fixed.la tests/app_manager_newer.la
tests_app_manager_fixed_la_SOURCES = tests/plugins/app_manager_fixed.c
tests_app_manager_fixed_la_CPPFLAGS = $(check_plugin_cppflags)
tests_app_manager_fixed_la_LDFLAGS = $(check_plugin_ldflags)
tests_app_manager_newer_la_SOURCES = tests/plugins/app_manager_newer.c
tests_app_manager_newer_la_CPPFLAGS = $(check_plugin_cppflags)
tests_app_manager_newer_la_LDFLAGS = $(check_plugin_ldflags)

# Loads the real adapter_local.so ($SOKETI_PLUGIN_DIR_TEST) and the test plugins; the
# defaults let it run outside `make check` (e.g. under valgrind) too.
check_PROGRAMS += tests/check_plugin
TESTS += tests/check_plugin
tests_check_plugin_SOURCES = tests/check_plugin.c
tests_check_plugin_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCHECK_PLUGIN_TEST_DIR=\"$(abs_top_builddir)/tests/.libs\" \
	-DCHECK_PLUGIN_REAL_DIR=\"$(abs_top_builddir)/plugins/.libs\"
tests_check_plugin_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_plugin_LDADD = libskt_plugin.la libskt_util.la $(CHECK_EXT)
