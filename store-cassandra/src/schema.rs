//! The keyspace, its tables and the prepared statements of the Cassandra store.
//!
//! Schema statements are plain CQL, run once at connect: identifiers cannot be bound,
//! so the keyspace name is validated ([`Keyspace`]) before it is written into them.

use std::fmt;
use std::str::FromStr;

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

/// The key of the one row of `current_game`, and the partition of `games_by_deployment`.
pub const CURRENT_KEY: &str = "current";

/// A keyspace name: what CQL accepts unquoted (letters, digits, underscores, at most
/// 48 characters, starting with a letter), in lower case since Cassandra folds unquoted
/// names to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyspace(String);

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace("drapetisca".into())
    }
}

impl FromStr for Keyspace {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = (1..=48).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(Keyspace(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{s:?} is not a keyspace name (letters, digits and _, at most 48, starting with a letter)"
            ))
        }
    }
}

impl fmt::Display for Keyspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a keyspace created by the server is replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy` with this replication factor: one datacenter, development.
    Simple(u32),
    /// `NetworkTopologyStrategy` with a factor per datacenter: production.
    PerDatacenter(Vec<(String, u32)>),
}

impl Default for Replication {
    fn default() -> Self {
        Replication::Simple(1)
    }
}

impl FromStr for Replication {
    type Err = String;

    /// `3`, or `dc1:3,dc2:3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let factor = |text: &str| match text.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{text:?} is not a replication factor (1 or more)")),
        };
        if !s.contains(':') {
            return factor(s).map(Replication::Simple);
        }
        s.split(',')
            .map(|pair| {
                let (dc, n) = pair
                    .split_once(':')
                    .ok_or_else(|| format!("{pair:?} is not datacenter:factor"))?;
                let dc = dc.trim();
                let plain = !dc.is_empty()
                    && dc
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !plain {
                    return Err(format!("{dc:?} is not a datacenter name"));
                }
                Ok((dc.to_string(), factor(n)?))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Replication::PerDatacenter)
    }
}

impl Replication {
    /// The CQL map of `CREATE KEYSPACE ... WITH replication = `.
    fn cql(&self) -> String {
        match self {
            Replication::Simple(n) => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}")
            }
            Replication::PerDatacenter(dcs) => {
                let pairs: Vec<String> = dcs.iter().map(|(dc, n)| format!("'{dc}': {n}")).collect();
                format!(
                    "{{'class': 'NetworkTopologyStrategy', {}}}",
                    pairs.join(", ")
                )
            }
        }
    }
}

/// Every data statement of the store, prepared once.
pub struct Statements {
    /// Upserts one object row, with a client-side timestamp and a TTL (0: none).
    pub upsert_object: PreparedStatement,
    /// Every object row of one game, with the TTL left on it.
    pub select_game: PreparedStatement,
    /// Upserts one player's score, with a client-side timestamp and a TTL (0: none).
    pub upsert_score: PreparedStatement,
    /// Every score of one game.
    pub select_scores: PreparedStatement,
    /// Upserts one player's token hash, with a client-side timestamp and a TTL (0: none).
    pub upsert_token: PreparedStatement,
    /// Every token hash of one game.
    pub select_tokens: PreparedStatement,
    /// The game to resume.
    pub select_current: PreparedStatement,
    /// Records the game to resume, with a client-side timestamp.
    pub upsert_current: PreparedStatement,
    /// Records a game for the lobby.
    pub insert_game: PreparedStatement,
    /// Every game of the deployment.
    pub select_games: PreparedStatement,
    /// One game of the deployment.
    pub select_game_info: PreparedStatement,
}

/// Creates what is missing (keyspace, tables) and prepares the statements.
pub async fn set_up(
    session: &Session,
    keyspace: &Keyspace,
    replication: &Replication,
) -> Result<Statements, String> {
    let exists = session
        .prepare("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?")
        .await
        .map_err(|e| e.to_string())?;
    let found = session
        .execute_unpaged(&exists, (keyspace.to_string(),))
        .await
        .map_err(|e| e.to_string())?
        .into_rows_result()
        .map_err(|e| e.to_string())?
        .rows_num()
        > 0;
    // Only when missing: managed services (Astra DB) refuse CREATE KEYSPACE outright,
    // even with IF NOT EXISTS, and want the keyspace made in their console.
    if !found {
        tracing::info!(%keyspace, replication = %replication.cql(), "creating keyspace");
        run(
            session,
            &format!(
                "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {}",
                replication.cql()
            ),
        )
        .await?;
    }
    // The table of protocol.md, unchanged in shape.
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.objects_by_game_id (
                game_id uuid, kind text, object_id uuid, active boolean,
                x int, y int, h boolean, generation int, name text,
                PRIMARY KEY ((game_id), kind, object_id))
             WITH CLUSTERING ORDER BY (kind DESC, object_id DESC)"
        ),
    )
    .await?;
    // Ours: the scoreboard (food caught per player and game), beside the objects since
    // objects_by_game_id keeps the reference's shape.
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.scores_by_game_id (
                game_id uuid, player_id uuid, score int,
                PRIMARY KEY ((game_id), player_id))"
        ),
    )
    .await?;
    // Ours: the hash of each resume token (never the token), with its player's TTL, so
    // that an id stays bound across restarts and take-overs (docs/protocol.md).
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.tokens_by_game_id (
                game_id uuid, player_id uuid, token_hash blob,
                PRIMARY KEY ((game_id), player_id))"
        ),
    )
    .await?;
    // Ours: the game a restart resumes (one row per deployment).
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.current_game (
                deployment text PRIMARY KEY, game_id uuid)"
        ),
    )
    .await?;

    // Ours: the lobby's games, one partition per deployment so that listing them is one
    // partition read (a few thousand rows at most), never a scan of the cluster.
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.games_by_deployment (
                deployment text, game_id uuid, name text, created timestamp, played bigint,
                PRIMARY KEY ((deployment), game_id))"
        ),
    )
    .await?;
    // `played` (ms since the epoch: when the game was last played, for forgetting
    // games nobody plays) came later: added to a table created before it
    add_column(session, keyspace, "games_by_deployment", "played", "bigint").await?;

    // every statement reads or upserts whole rows: safe to retry
    let prepare = |cql: String| prepare_idempotent(session, cql);
    Ok(Statements {
        upsert_object: prepare(format!(
            "INSERT INTO {keyspace}.objects_by_game_id
                (game_id, kind, object_id, active, x, y, h, generation, name)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?"
        ))
        .await?,
        select_game: prepare(format!(
            "SELECT kind, object_id, active, x, y, h, generation, name, TTL(active)
             FROM {keyspace}.objects_by_game_id WHERE game_id = ?"
        ))
        .await?,
        upsert_score: prepare(format!(
            "INSERT INTO {keyspace}.scores_by_game_id (game_id, player_id, score)
             VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?"
        ))
        .await?,
        select_scores: prepare(format!(
            "SELECT player_id, score FROM {keyspace}.scores_by_game_id WHERE game_id = ?"
        ))
        .await?,
        upsert_token: prepare(format!(
            "INSERT INTO {keyspace}.tokens_by_game_id (game_id, player_id, token_hash)
             VALUES (?, ?, ?) USING TIMESTAMP ? AND TTL ?"
        ))
        .await?,
        select_tokens: prepare(format!(
            "SELECT player_id, token_hash FROM {keyspace}.tokens_by_game_id WHERE game_id = ?"
        ))
        .await?,
        select_current: prepare(format!(
            "SELECT game_id FROM {keyspace}.current_game WHERE deployment = ?"
        ))
        .await?,
        upsert_current: prepare(format!(
            "INSERT INTO {keyspace}.current_game (deployment, game_id) VALUES (?, ?)
             USING TIMESTAMP ?"
        ))
        .await?,
        insert_game: prepare(format!(
            "INSERT INTO {keyspace}.games_by_deployment (deployment, game_id, name, created)
             VALUES (?, ?, ?, ?)"
        ))
        .await?,
        select_games: prepare(format!(
            "SELECT game_id, name, created, played FROM {keyspace}.games_by_deployment
             WHERE deployment = ?"
        ))
        .await?,
        select_game_info: prepare(format!(
            "SELECT game_id, name, created, played FROM {keyspace}.games_by_deployment
             WHERE deployment = ? AND game_id = ?"
        ))
        .await?,
    })
}

/// Prepares `cql`, marked safe for the driver to retry.
pub(crate) async fn prepare_idempotent(
    session: &Session,
    cql: String,
) -> Result<PreparedStatement, String> {
    let mut statement = session.prepare(cql).await.map_err(|e| e.to_string())?;
    statement.set_is_idempotent(true);
    Ok(statement)
}

/// Adds `column` of `kind` to `table` unless it has it (a table created by an earlier
/// version); two instances adding it at once: the second is told it exists, and that is
/// fine.
async fn add_column(
    session: &Session,
    keyspace: &Keyspace,
    table: &str,
    column: &str,
    kind: &str,
) -> Result<(), String> {
    let found = session
        .query_unpaged(
            "SELECT column_name FROM system_schema.columns
             WHERE keyspace_name = ? AND table_name = ? AND column_name = ?",
            (keyspace.to_string(), table, column),
        )
        .await
        .map_err(|e| e.to_string())?
        .into_rows_result()
        .map_err(|e| e.to_string())?
        .rows_num();
    if found > 0 {
        return Ok(());
    }
    match run(
        session,
        &format!("ALTER TABLE {keyspace}.{table} ADD {column} {kind}"),
    )
    .await
    {
        Err(e) if !e.contains("conflicts with an existing column") => Err(e),
        _ => Ok(()),
    }
}

/// Runs one schema statement.
pub(crate) async fn run(session: &Session, cql: &str) -> Result<(), String> {
    session
        .query_unpaged(cql, &[])
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_is_a_factor_or_datacenter_factors() {
        assert_eq!("3".parse(), Ok(Replication::Simple(3)));
        assert_eq!(
            "dc1:3, dc2:1".parse(),
            Ok(Replication::PerDatacenter(vec![
                ("dc1".into(), 3),
                ("dc2".into(), 1)
            ]))
        );
        assert_eq!(
            Replication::PerDatacenter(vec![("dc1".into(), 3)]).cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
        );
        for bad in ["0", "x", "dc1:0", "dc'1:3", ":3", "dc1:3,dc2"] {
            assert!(bad.parse::<Replication>().is_err(), "{bad}");
        }
    }

    #[test]
    fn keyspace_names_are_plain_identifiers() {
        assert_eq!("Game_1".parse(), Ok(Keyspace("game_1".into())));
        for bad in ["", "1game", "a-b", "a;DROP", &"k".repeat(49)] {
            assert!(bad.parse::<Keyspace>().is_err(), "{bad}");
        }
    }
}
