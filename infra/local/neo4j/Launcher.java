import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.io.ByteUnit;

/**
 * Neo4j Community, embedded, for local runs and tests (started by
 * infra/local/up.sh): Bolt on loopback only, no HTTP, authentication on,
 * with the user and password from the environment. Everything is under
 * $STUDIO_NEO4J_HOME. SIGTERM shuts the databases down cleanly.
 */
public final class Launcher {
    /** up.sh waits for this line before it tries a query. */
    static final String READY = "studio-neo4j: ready";

    public static void main(String[] args) throws InterruptedException {
        Path home = Path.of(required("STUDIO_NEO4J_HOME"));
        int port = Integer.parseInt(env("STUDIO_NEO4J_PORT", "7687"));
        String user = env("STUDIO_GRAPH_USER", "neo4j");
        String password = env("STUDIO_GRAPH_PASSWORD", "studio-graph-password");

        log("starting Neo4j in " + home);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(256))
                // Internal settings: without them Bolt's shutdown idles for
                // 10 s (two 5 s grace periods) with no connection open.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("stopping");
            dbms.shutdown();
            log("stopped");
        }, "studio-neo4j-shutdown"));

        try {
            setCredentials(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), user, password);
        } catch (RuntimeException e) {
            // The databases' threads would keep the JVM alive, never ready.
            log("ERROR cannot set the credentials of " + user + ": " + e.getMessage());
            e.printStackTrace();
            System.exit(1);
        }
        log(READY + " on bolt://127.0.0.1:" + port + " as " + user);
        // The databases run on their own threads; this one waits for SIGTERM.
        new CountDownLatch(1).await();
    }

    /**
     * Makes the password of `user` the configured one, at every start, so that
     * the environment is the truth. Embedded Neo4j has no setting for the
     * initial password (neo4j-admin's set-initial-password writes a file the
     * server reads), but the system database takes the same commands as
     * Cypher Shell would, without needing to log in.
     */
    static void setCredentials(GraphDatabaseService system, String user, String password) {
        Map<String, Object> params = Map.of("user", user, "password", password);
        boolean exists = system.executeTransactionally(
                "SHOW USERS YIELD user WHERE user = $user RETURN count(*) AS n",
                params, result -> ((Number) result.next().get("n")).longValue() > 0);
        if (!exists) {
            system.executeTransactionally(
                    "CREATE USER $user SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED", params);
            log("created user " + user);
            return;
        }
        try {
            system.executeTransactionally(
                    "ALTER USER $user SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED", params);
            log("set the password of " + user);
        } catch (QueryExecutionException e) {
            // Neo4j refuses to set a password to what it already is: nothing to do.
            if (!e.getMessage().contains("cannot be the same")) {
                throw e;
            }
        }
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    static String required(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set");
        }
        return value;
    }

    static void log(String message) {
        System.out.println(Instant.now() + " " + message);
    }
}
