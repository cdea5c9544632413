import java.util.concurrent.TimeUnit;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Logging;
import org.neo4j.driver.Record;
import org.neo4j.driver.Session;

/**
 * Runs one Cypher query over Bolt and prints its rows, one a line:
 * java BoltCheck [URI [QUERY]], with STUDIO_GRAPH_USER and
 * STUDIO_GRAPH_PASSWORD. By default `RETURN 1 AS one` on
 * bolt://127.0.0.1:7687, which is how up.sh knows that Neo4j answers.
 */
public final class BoltCheck {
    public static void main(String[] args) {
        String uri = args.length > 0 ? args[0] : "bolt://127.0.0.1:7687";
        String query = args.length > 1 ? args[1] : "RETURN 1 AS one";
        String user = env("STUDIO_GRAPH_USER", "neo4j");
        String password = env("STUDIO_GRAPH_PASSWORD", "studio-graph-password");
        Config config = Config.builder()
                .withoutEncryption()
                .withConnectionTimeout(5, TimeUnit.SECONDS)
                .withLogging(Logging.none())
                .build();
        try (Driver driver = GraphDatabase.driver(uri, AuthTokens.basic(user, password), config);
                Session session = driver.session()) {
            for (Record record : session.run(query).list()) {
                System.out.println(record.values());
            }
        }
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }
}
