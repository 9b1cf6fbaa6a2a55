// tests/integration/app-manager-postgres.test.mjs — appManager.driver = postgres
// (app_manager_postgres.so) against a private PostgreSQL started by the test (sqldb.mjs):
// soketi's schema and fixture row, unknown keys and ids, webhooks and limits from a row, the
// cache on and off, a stopped database, the plugin not installed (cases in app-manager-sql.mjs).
//
// Needs postgresql (initdb, postgres, psql; run as the postgres user when the tests run as
// root) and the plugin (built when configure finds libpq): without either the file fails,
// unless SOKETI_TEST_ALLOW_NO_SQL=1 lets it skip.
import { after } from 'node:test';

import { cleanup } from './harness.mjs';
import { sqlAppManagerSuite } from './app-manager-sql.mjs';

after(cleanup);

sqlAppManagerSuite('postgres');
