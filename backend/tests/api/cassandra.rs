//! The Cassandra store against a real Apache Cassandra (`cargo xtask services up`):
//! every game scenario again, each in a keyspace of its own, then what only Cassandra
//! has: the rows as any CQL client reads them, TLS, replication. The outage scenario
//! stops Cassandra, so it lives in its own binary (`tests/cassandra_outage.rs`).

pub use test_support::cassandra as support;

crate::scenarios::game_scenarios!(crate::cassandra::support::cassandra);

use std::collections::{HashMap, HashSet};

use game_core::clock::now_ms;
use game_core::store::{ObjectKind, Store, StoredObject};
use game_core::tokens::TokenHash;
use protocol::{Cell, Uuid};
use store_cassandra::CassandraOptions;
use store_cassandra::{CassandraStore, Replication};

use self::support::{
    cassandra, fresh_keyspace, quiet_neighbour, session, table_rows, test_ca, token_row, Row, NODE,
    PASSWORD, USER,
};
use crate::helpers::{spawn_app, Client};

#[tokio::test]
async fn after_a_game_the_table_holds_bricks_food_and_players_at_their_last_positions() {
    let app = spawn_app(cassandra).await;
    let keyspace = app.settings.cassandra.keyspace.to_string();
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    for _ in 0..3 {
        let step = quiet_neighbour(&ana);
        ana.move_to(step.x, step.y).await;
        let step = quiet_neighbour(&bob);
        bob.move_to(step.x, step.y).await;
    }
    ana.send(serde_json::json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    let ana_id = ana.id.to_string();
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id
    })
    .await;
    let (ana_at, ana_generation, bob_at) = (ana.at.unwrap(), ana.generation, bob.at.unwrap());
    let view = ana.view.clone();
    app.shutdown().await; // the writer flushes on the way out

    let rows = table_rows(&keyspace).await;
    let games: HashSet<Uuid> = rows.iter().map(|r| r.game_id).collect();
    assert_eq!(games.len(), 1, "one game in the keyspace: {rows:?}");
    let of = |kind: &str| rows.iter().filter(|r| r.kind == kind).collect::<Vec<_>>();

    let bricks = of("brick");
    assert_eq!(bricks.len(), 22);
    let brick_cells: HashSet<Cell> = bricks.iter().map(|r| Cell::new(r.x, r.y)).collect();
    assert_eq!(brick_cells, view.bricks, "bricks where the brief put them");
    assert!(bricks.iter().all(|r| r.name.starts_with("brick_")));

    let food: HashMap<String, Cell> = of("food")
        .iter()
        .map(|r| (r.object_id.to_string(), Cell::new(r.x, r.y)))
        .collect();
    assert_eq!(food, view.food, "the 3 food items where they are");

    let players: HashMap<Uuid, &Row> = of("player").into_iter().map(|r| (r.object_id, r)).collect();
    assert_eq!(players.len(), 2, "{players:?}");
    let ana_row = players[&ana.id];
    assert_eq!(
        (ana_row.x, ana_row.y),
        (ana_at.x, ana_at.y),
        "Ana's last position"
    );
    assert_eq!(ana_row.generation, Some(ana_generation as i32));
    assert_eq!(ana_row.active, Some(false), "Ana left");
    assert_eq!(ana_row.name, "Ana");
    let bob_row = players[&bob.id];
    assert_eq!(
        (bob_row.x, bob_row.y),
        (bob_at.x, bob_at.y),
        "Bob's last position"
    );
    assert_eq!(bob_row.name, "Bob");
}

#[tokio::test]
async fn a_restart_resumes_from_cassandra_with_no_local_file() {
    let app = spawn_app(cassandra).await;
    let keyspace = app.settings.cassandra.keyspace.to_string();
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let step = quiet_neighbour(&ana);
    ana.move_to(step.x, step.y).await;
    let step = quiet_neighbour(&ana);
    ana.move_to(step.x, step.y).await;
    let (ana_id, before, last) = (ana.id, ana.view.clone(), ana.at);
    drop(ana);

    let app = app.restart().await;
    let local: Vec<_> = std::fs::read_dir(app.dir.path()).unwrap().collect();
    assert!(local.is_empty(), "nothing kept on local disk: {local:?}");
    let mut ana = Client::connect_as(&app, ana_id, "Ana").await;
    ana.enter().await;
    assert_eq!(ana.view.bricks, before.bricks, "same bricks");
    assert_eq!(ana.view.food, before.food, "same food where it was");
    assert_eq!(ana.at, last, "Ana returns to her last position");
    app.shutdown().await;

    let games: HashSet<Uuid> = table_rows(&keyspace)
        .await
        .iter()
        .map(|r| r.game_id)
        .collect();
    assert_eq!(games.len(), 1, "the restart played the same game");
}

fn options(keyspace: &str) -> CassandraOptions {
    support::require_cassandra();
    CassandraOptions {
        nodes: vec![NODE.into()],
        keyspace: keyspace.parse().unwrap(),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        ..CassandraOptions::default()
    }
}

fn player(n: u128, x: i32, generation: i32) -> StoredObject {
    StoredObject {
        kind: ObjectKind::Player,
        object_id: Uuid::from_u128(n),
        active: true,
        x,
        y: 2,
        h: true,
        generation,
        name: format!("p{n}"),
        score: 0,
        expires_ms: None,
        token_hash: None,
    }
}

#[tokio::test]
async fn a_later_write_replaces_an_earlier_one_and_a_repeated_batch_is_harmless() {
    let store = CassandraStore::connect(&options(&fresh_keyspace()))
        .await
        .expect("store connects");
    let game = Uuid::new_v4();
    assert_eq!(store.current_game().await.unwrap(), None);
    store.set_current_game(game).await.unwrap();
    assert_eq!(store.current_game().await.unwrap(), Some(game));

    // more rows than one unlogged batch holds, so the write is split
    let many: Vec<StoredObject> = (0..100).map(|n| player(n, 1, 1)).collect();
    store.write(game, &many).await.unwrap();
    store.write(game, &many).await.unwrap();
    store.write(game, &[player(7, 9, 2)]).await.unwrap();
    let mut rows = store.load(game).await.unwrap();
    rows.sort_by_key(|r| r.object_id);
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[7], player(7, 9, 2));
    assert_eq!(rows[8], player(8, 1, 1));
    assert!(store.load(Uuid::new_v4()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_hash_is_kept_beside_the_reference_table_and_expires_with_its_player() {
    let keyspace = fresh_keyspace();
    let store = CassandraStore::connect(&options(&keyspace))
        .await
        .expect("store connects");
    let game = Uuid::new_v4();
    let token = "0123456789abcdef0123456789abcdef";
    let mut ana = player(1, 3, 1);
    ana.token_hash = Some(TokenHash::of(token));
    store
        .write(game, &[ana.clone(), player(2, 4, 1)])
        .await
        .unwrap();
    let mut rows = store.load(game).await.unwrap();
    rows.sort_by_key(|r| r.object_id);
    assert_eq!(
        rows,
        vec![ana.clone(), player(2, 4, 1)],
        "the hash comes back"
    );

    // as any CQL client reads it: the hash (not the token) in a table of our own, and
    // the reference's table with exactly its columns
    let (stored, ttl) = token_row(&keyspace, game, ana.object_id)
        .await
        .expect("a row");
    assert_eq!(stored, TokenHash::of(token).as_bytes().to_vec());
    assert_ne!(stored, token.as_bytes());
    assert_eq!(ttl, None, "kept while the player is");
    assert_eq!(token_row(&keyspace, game, Uuid::from_u128(2)).await, None);
    let columns = session()
        .await
        .query_unpaged(
            "SELECT column_name FROM system_schema.columns \
             WHERE keyspace_name = ? AND table_name = 'objects_by_game_id'",
            (keyspace.as_str(),),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut columns: Vec<String> = columns
        .rows::<(String,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    columns.sort();
    assert_eq!(
        columns,
        [
            "active",
            "game_id",
            "generation",
            "h",
            "kind",
            "name",
            "object_id",
            "x",
            "y"
        ]
    );

    // Ana leaves: her hash gets her row's TTL...
    ana.active = false;
    ana.expires_ms = Some(now_ms() + 3_600_000);
    store.write(game, &[ana.clone()]).await.unwrap();
    let (_, ttl) = token_row(&keyspace, game, ana.object_id)
        .await
        .expect("a row");
    let ttl = ttl.expect("a TTL once she left");
    assert!(ttl > 3_500 && ttl <= 3_600, "the row's TTL: {ttl} s");
    // ...and is forgotten with her
    ana.expires_ms = Some(now_ms());
    store.write(game, &[ana.clone()]).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while token_row(&keyspace, game, ana.object_id).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hash never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let rows = store.load(game).await.unwrap();
    assert_eq!(rows, vec![player(2, 4, 1)], "Ana's row expired with it");
}

#[tokio::test]
async fn a_keyspace_made_by_the_server_has_the_configured_replication() {
    let keyspace = fresh_keyspace();
    let mut options = options(&keyspace);
    // SimpleSnitch names its one datacenter datacenter1
    options.replication = "datacenter1:1".parse::<Replication>().unwrap();
    CassandraStore::connect(&options)
        .await
        .expect("store connects");
    let rows = session()
        .await
        .query_unpaged(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
            (keyspace,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let (replication,) = rows
        .single_row::<(HashMap<String, String>,)>()
        .expect("the keyspace exists");
    assert_eq!(
        replication["class"],
        "org.apache.cassandra.locator.NetworkTopologyStrategy"
    );
    assert_eq!(replication["datacenter1"], "1");
}

#[tokio::test]
async fn the_store_talks_tls_to_a_node_signed_by_the_given_ca() {
    let mut options = options(&fresh_keyspace());
    options.tls_ca_file = Some(test_ca());
    let store = CassandraStore::connect(&options)
        .await
        .expect("store connects over tls");
    let game = Uuid::new_v4();
    store.write(game, &[player(1, 3, 1)]).await.unwrap();
    assert_eq!(store.load(game).await.unwrap(), vec![player(1, 3, 1)]);
}

#[tokio::test]
async fn a_node_not_signed_by_the_given_ca_is_refused() {
    let mut options = options(&fresh_keyspace());
    // the node's own certificate is no CA: nothing the node presents chains up to it
    options.tls_ca_file = Some(test_ca().with_file_name("server.pem"));
    let error = CassandraStore::connect(&options)
        .await
        .err()
        .expect("connecting fails");
    let message = error.to_string();
    assert!(message.contains("cannot connect to cassandra"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[test]
fn an_unreachable_cassandra_stops_the_binary_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drapetisca"))
        .args(["--bind", "127.0.0.1:0", "--cassandra-nodes", "127.0.0.1:1"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("DRAPETISCA_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to cassandra at 127.0.0.1:1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_wrong_password_or_none_is_refused_by_the_node() {
    let mut wrong = options(&fresh_keyspace());
    wrong.password = Some("not the password".into());
    let message = CassandraStore::connect(&wrong)
        .await
        .err()
        .expect("a wrong password fails")
        .to_string();
    assert!(message.contains("cannot connect to cassandra"), "{message}");
    assert!(
        !message.contains("not the password"),
        "the password stays out of errors: {message}"
    );

    let mut anonymous = options(&fresh_keyspace());
    (anonymous.username, anonymous.password) = (None, None);
    assert!(CassandraStore::connect(&anonymous).await.is_err());
}
