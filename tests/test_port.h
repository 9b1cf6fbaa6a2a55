/* test_port.h - loopback ports for the servers the plugin tests start (redis-server,
 * nats-server, mariadbd, postgres).
 *
 * DESIGN
 * A port from bind(0) lies in the kernel's ephemeral range, where any process's outgoing
 * connection may take it while the test does not hold it: between choosing it and the
 * server's bind, or while a test has the server stopped and then starts it again on the
 * same port. So the port is drawn at random below that range (as tests/integration's
 * stablePort draws the integration suite's) and checked free by binding it once; only a
 * machine whose range starts below 12000 gets a bind(0) port.
 */
#ifndef SKT_TESTS_TEST_PORT_H
#define SKT_TESTS_TEST_PORT_H

/* A free loopback TCP port below the ephemeral range; with bus set, port + 10000 is free
 * too (a Redis Cluster node's bus port). Fails the test when none is found. */
int test_port(int bus);

#endif
