// tests/integration/app-manager-mysql.test.mjs — appManager.driver = mysql (app_manager_mysql.so)
// against a private MariaDB started by the test (sqldb.mjs): soketi's schema and fixture row,
// unknown keys and ids, webhooks and limits from a row, the cache on and off, a stopped
// database, the plugin not installed (cases in app-manager-sql.mjs); and dynamodb, which
// soketi-c does not provide, refused at start.
//
// Needs mariadb-server (mariadbd, mariadb-install-db, the mariadb client) and the plugin
// (built when configure finds MariaDB Connector/C): without either the file fails, unless
// SOKETI_TEST_ALLOW_NO_SQL=1 lets it skip.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';

import { REFERENCE, cleanup, startServer } from './harness.mjs';
import { sqlAppManagerSuite } from './app-manager-sql.mjs';

after(cleanup);

sqlAppManagerSuite('mysql');

test('appManager.driver = dynamodb: start refused, naming the driver', { skip: REFERENCE && 'soketi 1.6 has a dynamodb app manager' }, async () => {
    await assert.rejects(startServer({ env: { SOKETI_APP_MANAGER_DRIVER: 'dynamodb' } }), (err) => {
        assert.match(err.message, /daemon exited before it was ready \(\{"code":[1-9]/, err.message);
        assert.match(err.message.split('--- output ---')[1], /dynamodb/, err.message);
        return true;
    });
});
