# plugins/local.mk - adapter plugins shipped with soketi (included by Makefile.am)
#
# A plugin sees only the installed header, like a third-party one would.

plugin_LTLIBRARIES += plugins/adapter_local.la
plugins_adapter_local_la_SOURCES = plugins/adapter_local.c
plugins_adapter_local_la_CPPFLAGS = -I$(top_srcdir)/include
plugins_adapter_local_la_CFLAGS = $(AM_CFLAGS)
plugins_adapter_local_la_LDFLAGS = $(plugin_ldflags)
