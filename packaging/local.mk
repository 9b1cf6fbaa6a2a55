# packaging/local.mk - installing soketi-c like a distro daemon: the systemd unit and
# the Debian packages (included by Makefile.am). See packaging/README.md.

# The systemd unit, from its template conf/soketi.service.
if INSTALL_SYSTEMD_UNIT
systemdsystemunit_DATA = soketi.service
endif
CLEANFILES += soketi.service
soketi.service: $(srcdir)/conf/soketi.service Makefile
	$(AM_V_GEN)sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/conf/soketi.service > $@

# The unit tests and the man page check alone: no node, no network, no valgrind. What a
# package build runs (debian/rules); the whole suite is `make check`.
check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(filter tests/check_% tests/man.sh,$(TESTS))"

# Debian packages (packaging/README.md): a copy of the tree as `make dist` would ship it,
# with packaging/debian as its debian/, built by dpkg-buildpackage. The .deb, .changes
# and .buildinfo files land in deb/. DEB_BUILD_OPTIONS (nocheck, parallel=N) applies.
deb: distdir
	@v=`dpkg-parsechangelog -l $(srcdir)/packaging/debian/changelog -S Version | sed 's/-[^-]*$$//'`; \
	if [ "$$v" != "$(PACKAGE_VERSION)" ]; then \
	    echo "make deb: packaging/debian/changelog is for $$v, the tree is $(PACKAGE_VERSION): add an entry" >&2; \
	    rm -rf $(distdir); exit 1; fi
	rm -rf deb && mkdir deb
	cp -R $(distdir)/packaging/debian $(distdir)/debian
	cd $(distdir) && dpkg-buildpackage -us -uc -b -jauto
	mv soketi*_$(PACKAGE_VERSION)-*.deb soketi-c_$(PACKAGE_VERSION)-*.changes \
	    soketi-c_$(PACKAGE_VERSION)-*.buildinfo deb/
	rm -rf $(distdir)
	@echo "make deb: packages in $(abs_builddir)/deb:"; ls deb/*.deb

.PHONY: check-unit deb
EXTRA_DIST += packaging/README.md packaging/debian tests/package.sh \
	tests/integration/roundtrip.mjs
clean-local: clean-deb
clean-deb:
	rm -rf deb
.PHONY: clean-deb
