# man/local.mk - the manual pages soketi(8) and soketi.conf(5) (included by Makefile.am).
#
# Both are written from their .in templates with the configured paths. The OPTIONS part
# of soketi.conf(5) comes from conf/soketi.conf, the sample the option table writes
# (`soketi config sample`; tests/check_config keeps it in sync), through man/options.awk.

nodist_man_MANS = man/soketi.8 man/soketi.conf.5
EXTRA_DIST += man/soketi.8.in man/soketi.conf.5.in man/options.awk
CLEANFILES += $(nodist_man_MANS) man/options.roff

man_edit = sed -e 's|@VERSION[@]|$(PACKAGE_VERSION)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@plugindir[@]|$(plugindir)|g' -e 's|@includedir[@]|$(includedir)|g'

man/soketi.8: $(srcdir)/man/soketi.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(man_edit) $(srcdir)/man/soketi.8.in > $@

man/soketi.conf.5: $(srcdir)/man/soketi.conf.5.in $(srcdir)/man/options.awk \
		$(srcdir)/conf/soketi.conf Makefile
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(AWK) -f $(srcdir)/man/options.awk $(srcdir)/conf/soketi.conf > man/options.roff && \
	$(man_edit) -e '/^@OPTIONS[@]$$/{r man/options.roff' -e 'd;}' \
		$(srcdir)/man/soketi.conf.5.in > $@ && rm -f man/options.roff

# The pages render without groff warnings and list every option of the sample.
TESTS += tests/man.sh
EXTRA_DIST += tests/man.sh
