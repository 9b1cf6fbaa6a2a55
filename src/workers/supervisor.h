/* supervisor.h - `workers = N`: the parent process that runs N workers and keeps them
 * running.
 *
 * DESIGN
 * Each worker is this program started again (fork, then exec of /proc/self/exe with the
 * same arguments), so it begins as a fresh process: it reads the configuration, loads its
 * adapter and binds the ports with SO_REUSEPORT, and the kernel spreads new connections
 * over the workers. The supervisor itself serves no client; it
 *   - relays the workers' adapter messages when the adapter is local (hub.h): the workers
 *     then load adapter_workers.so, the horizontal layer over the hub, and behave as one
 *     server. With another adapter (redis, redis-cluster, nats) each worker is one node
 *     of that cluster and the hub is not used;
 *   - replaces a worker that exits (its clients reconnect to the others): at once when it
 *     had run a second or more, else after a delay doubling from 1 s to 30 s. A worker
 *     that fails before it ever listens during start-up stops the whole start (exit 1):
 *     a configuration or plugin error would fail every time;
 *   - forwards SIGTERM/SIGINT (each worker closes its clients with 4200 and exits; after
 *     shutdownGracePeriod plus 5 s those still running are killed) and SIGHUP;
 *   - tells systemd READY=1 once every worker listens (the workers do not talk to
 *     NOTIFY_SOCKET), RELOADING=1 ... READY=1 around a SIGHUP until every worker has
 *     reloaded, STOPPING=1. Each worker gets PR_SET_PDEATHSIG, so none outlives it.
 */
#ifndef SKT_WORKERS_SUPERVISOR_H
#define SKT_WORKERS_SUPERVISOR_H

#include "config/config.h"

/* Runs cfg->workers.count workers started with argv (this program's own command line)
 * until a SIGTERM or SIGINT has stopped them all. cfg is only read during the call.
 * Returns the process's exit code: 0, or 1 when the workers could not be started. */
int skt_supervisor_run(const skt_config_t *cfg, char **argv);

#endif
