//! Databases on a Citus cluster. A Citus database is a database on the coordinator and on
//! every worker, each with the `citus` extension, and the coordinator's metadata listing the
//! workers. Migration 000015 distributes the tables when it runs in such a database; these
//! helpers make one (tests create a database per test; an operator follows the same steps,
//! written out in `deploy/CITUS.md`).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

/// Shards per distributed table in databases made here for tests: few, so that a test's
/// migrations stay quick. Production keeps Citus's default (32) or sets its own.
pub const TEST_SHARD_COUNT: u32 = 4;

#[derive(QueryableByName)]
struct Node {
    #[diesel(sql_type = Text)]
    nodename: String,
    #[diesel(sql_type = Integer)]
    nodeport: i32,
    #[diesel(sql_type = Integer)]
    groupid: i32,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

/// Whether the database behind `conn` is a Citus coordinator (the extension is installed).
pub fn is_coordinator(conn: &mut PgConnection) -> QueryResult<bool> {
    let flag: Flag = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS value")
        .get_result(conn)?;
    Ok(flag.value)
}

/// `url` (`postgres://[userinfo@]host[:port]/database[?options]`) with its host, port and
/// database replaced.
fn url_for(url: &str, host: &str, port: i32, database: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| anyhow::anyhow!("not a PostgreSQL URL"))?;
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let options = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    Ok(format!("{scheme}://{userinfo}{host}:{port}/{database}{options}"))
}

/// Host and port of `url`'s authority (5432 when it names none).
fn host_port(url: &str) -> anyhow::Result<(String, i32)> {
    let (_, rest) = url.split_once("://").ok_or_else(|| anyhow::anyhow!("not a PostgreSQL URL"))?;
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Ok(match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse()?),
        None => (hostport.to_string(), 5432),
    })
}

fn check_name(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "a database name here is lower-case letters, digits and underscores"
    );
    Ok(())
}

/// Creates database `name` beside the one `maintenance_url` names, and returns its URL. When
/// that database is a Citus coordinator, the new database is created on every node, gets the
/// extension everywhere, and lists the same workers, with `shard_count` shards per table.
pub fn create_database(maintenance_url: &str, name: &str, shard_count: u32) -> anyhow::Result<String> {
    check_name(name)?;
    let mut conn = PgConnection::establish(maintenance_url)?;
    let (host, port) = host_port(maintenance_url)?;
    let own = url_for(maintenance_url, &host, port, name)?;
    if !is_coordinator(&mut conn)? {
        conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
        return Ok(own);
    }
    // Separate statements: a multi-statement string is one implicit transaction, and
    // CREATE DATABASE refuses to run in one.
    conn.batch_execute("SET citus.enable_create_database_propagation = on")?;
    conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let nodes: Vec<Node> = diesel::sql_query(
        "SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' AND isactive ORDER BY groupid",
    )
    .load(&mut conn)?;
    // The extension on every node at once: each `CREATE EXTENSION citus` takes most of a
    // second, and they are independent.
    let install = |url: String| -> anyhow::Result<()> {
        PgConnection::establish(&url)?.batch_execute("CREATE EXTENSION IF NOT EXISTS citus")?;
        Ok(())
    };
    let mut urls = vec![own.clone()];
    for node in nodes.iter().filter(|n| n.groupid != 0) {
        urls.push(url_for(maintenance_url, &node.nodename, node.nodeport, name)?);
    }
    std::thread::scope(|scope| {
        let installs: Vec<_> = urls.into_iter().map(|url| scope.spawn(move || install(url))).collect();
        installs
            .into_iter()
            .try_for_each(|t| t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("CREATE EXTENSION citus panicked"))))
    })?;
    let mut fresh = PgConnection::establish(&own)?;
    if let Some(coordinator) = nodes.iter().find(|n| n.groupid == 0) {
        diesel::sql_query("SELECT citus_set_coordinator_host($1, $2)")
            .bind::<Text, _>(&coordinator.nodename)
            .bind::<Integer, _>(coordinator.nodeport)
            .execute(&mut fresh)?;
    }
    for node in nodes.iter().filter(|n| n.groupid != 0) {
        diesel::sql_query("SELECT citus_add_node($1, $2)")
            .bind::<Text, _>(&node.nodename)
            .bind::<Integer, _>(node.nodeport)
            .execute(&mut fresh)?;
    }
    fresh.batch_execute(&format!("ALTER DATABASE {name} SET citus.shard_count = {shard_count}"))?;
    Ok(own)
}

/// Drops database `name` (on every node of a Citus cluster), ending its sessions.
pub fn drop_database(maintenance_url: &str, name: &str) -> anyhow::Result<()> {
    check_name(name)?;
    let mut conn = PgConnection::establish(maintenance_url)?;
    if is_coordinator(&mut conn)? {
        conn.batch_execute("SET citus.enable_create_database_propagation = on")?;
    }
    // `FORCE` ends the database's sessions on every node, but a worker's Citus maintenance
    // daemon can connect again in between (seen once in CI: "is being accessed by other
    // users"): a few more tries.
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let mut tries = 0;
    loop {
        match conn.batch_execute(&drop) {
            Err(e) if tries < 10 && e.to_string().contains("being accessed by other users") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_point_at_the_node_and_database() {
        let url = url_for("postgres://postgres:pw@127.0.0.1:9700/postgres", "10.0.0.2", 9701, "sahulat_x").unwrap();
        assert_eq!(url, "postgres://postgres:pw@10.0.0.2:9701/sahulat_x");
        let url = url_for("postgres://127.0.0.1/postgres?sslmode=disable", "w1", 5432, "db").unwrap();
        assert_eq!(url, "postgres://w1:5432/db?sslmode=disable");
        assert_eq!(host_port("postgres://u@h:9700/postgres").unwrap(), ("h".to_string(), 9700));
        assert_eq!(host_port("postgres://h/postgres").unwrap(), ("h".to_string(), 5432));
    }

    #[test]
    fn names_are_plain() {
        assert!(check_name("sahulat_test_1").is_ok());
        assert!(check_name("x; DROP DATABASE y").is_err());
        assert!(check_name("").is_err());
    }
}
