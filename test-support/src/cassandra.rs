//! Test support for the Cassandra store: settings that point a test server at the local
//! Cassandra in a keyspace of its own, and a plain driver session to look at the tables
//! as any CQL client would.
//!
//! Used by the `api` test binary and by `cassandra_outage`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::Duration;

use std::collections::HashSet;

use drapetisca::Settings;
use protocol::{Cell, Uuid};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use crate::app::Client;

/// The Cassandra every test talks to: the one `cargo xtask services up` starts.
pub const NODE: &str = "127.0.0.1:9042";
/// The superuser the test Cassandra creates on its first start (PasswordAuthenticator).
pub const USER: &str = "cassandra";
pub const PASSWORD: &str = "cassandra";
/// Prefix of the keyspaces tests make: `dt_<pid>_<n>_<random>`.
const PREFIX: &str = "dt_";

/// Fails the test, loudly and with the fix, when Cassandra does not answer.
pub fn require_cassandra() {
    // unwrap: NODE is a literal socket address
    let address: SocketAddr = NODE.parse().unwrap();
    if let Err(e) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
        panic!(
            "Cassandra is not reachable on {NODE} ({e}): run `cargo xtask services up` \
             (or `bash services/cassandra/up.sh`) first"
        );
    }
}

/// A keyspace name no other test (in this run or a concurrent one) uses.
pub fn fresh_keyspace() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// Settings of a test server on the Cassandra store, in a fresh keyspace.
pub fn cassandra(dir: &Path) -> Settings {
    require_cassandra();
    drop_stale_keyspaces_once();
    let mut settings = Settings::local(dir);
    settings.cassandra.nodes = vec![NODE.to_string()];
    settings.cassandra.username = Some(USER.into());
    // unwrap: any string is a password
    settings.cassandra.password = Some(PASSWORD.into());
    // unwrap: fresh_keyspace makes valid names
    settings.cassandra.keyspace = fresh_keyspace().parse().unwrap();
    settings
}

/// A plain driver session on the test Cassandra, for looking at tables directly.
pub async fn session() -> Session {
    require_cassandra();
    SessionBuilder::new()
        .known_node(NODE)
        .user(USER, PASSWORD)
        .build()
        .await
        .expect("a CQL session on the test Cassandra")
}

/// A cell next to `client` it can step on without catching food.
pub fn quiet_neighbour(client: &Client) -> Cell {
    let at = client.at.unwrap();
    let food: HashSet<Cell> = client.view.food.values().copied().collect();
    (-1..=1)
        .flat_map(|dx| (-1..=1).map(move |dy| Cell::new(at.x + dx, at.y + dy)))
        .find(|c| *c != at && !food.contains(c) && client.path_to(*c).is_some_and(|p| p.len() == 1))
        .expect("a free neighbour without food")
}

/// One row of `objects_by_game_id`, as a CQL client reads it.
#[derive(Debug)]
pub struct Row {
    /// The game (partition key).
    pub game_id: Uuid,
    /// `player`, `brick` or `food`.
    pub kind: String,
    /// The object's own id.
    pub object_id: Uuid,
    /// For players: in the game.
    pub active: Option<bool>,
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
    /// For players: the move counter.
    pub generation: Option<i32>,
    /// The displayed name.
    pub name: String,
}

/// Every row of the keyspace's `objects_by_game_id`, through a plain query.
pub async fn table_rows(keyspace: &str) -> Vec<Row> {
    let session = session().await;
    let result = session
        .query_unpaged(
            format!(
                "SELECT game_id, kind, object_id, active, x, y, generation, name \
                 FROM {keyspace}.objects_by_game_id"
            ),
            &[],
        )
        .await
        .expect("the table answers a plain query");
    type Columns = (
        Uuid,
        String,
        Uuid,
        Option<bool>,
        i32,
        i32,
        Option<i32>,
        String,
    );
    result
        .into_rows_result()
        .expect("rows")
        .rows::<Columns>()
        .expect("the columns of protocol.md")
        .map(|row| {
            let (game_id, kind, object_id, active, x, y, generation, name) = row.expect("a row");
            Row {
                game_id,
                kind,
                object_id,
                active,
                x,
                y,
                generation,
                name,
            }
        })
        .collect()
}

/// `player`'s row of `game` in our `tokens_by_game_id`, as a CQL client reads it: the
/// stored hash and the TTL left on it (`None` while there is no row).
pub async fn token_row(keyspace: &str, game: Uuid, player: Uuid) -> Option<(Vec<u8>, Option<i32>)> {
    let result = session()
        .await
        .query_unpaged(
            format!(
                "SELECT token_hash, TTL(token_hash) FROM {keyspace}.tokens_by_game_id \
                 WHERE game_id = ? AND player_id = ?"
            ),
            (game, player),
        )
        .await
        .expect("our token table answers a plain query");
    result
        .into_rows_result()
        .expect("rows")
        .maybe_first_row::<(Vec<u8>, Option<i32>)>()
        .expect("a hash and a TTL")
}

/// The private CA that signed the test Cassandra's certificate (made by up.sh).
pub fn test_ca() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.services/cassandra/tls/ca.pem");
    assert!(
        path.exists(),
        "{} is missing: start Cassandra with `cargo xtask services up`, which makes it",
        path.display()
    );
    path
}

/// Drops, once per test process and in the background, the keyspaces of earlier test
/// processes that have ended: the test harness has no hook at the end of a run, so
/// each run cleans up after the ones before it.
pub fn drop_stale_keyspaces_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the clean-up");
            runtime.block_on(drop_stale_keyspaces());
        });
    });
}

async fn drop_stale_keyspaces() {
    let Ok(session) = SessionBuilder::new()
        .known_node(NODE)
        .user(USER, PASSWORD)
        .build()
        .await
    else {
        return;
    };
    let Ok(result) = session
        .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", &[])
        .await
    else {
        return;
    };
    let Ok(rows) = result.into_rows_result() else {
        return;
    };
    let Ok(names) = rows.rows::<(String,)>() else {
        return;
    };
    for (name,) in names.flatten() {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
        else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue; // that test process still runs
        }
        let _ = session
            .query_unpaged(format!("DROP KEYSPACE IF EXISTS {name}"), &[])
            .await;
    }
}
