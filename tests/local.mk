# tests/local.mk - test harness pieces shared by all areas (included by Makefile.am)
# Unit tests live beside their area's local.mk; integration tests are below.
