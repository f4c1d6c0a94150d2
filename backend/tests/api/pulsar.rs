//! The Pulsar bus against the real local broker (`cargo xtask services up`): every game
//! scenario again, what a plain Pulsar client sees on the topic, and token
//! authentication. Each test uses a topic of its own. The broker restart has its own
//! test binary (`tests/pulsar_restart.rs`) so that it disturbs no other test.

use std::time::Duration;

use drapetisca::{Application, Settings};
use futures_util::StreamExt;
use pulsar::consumer::InitialPosition;
use pulsar::{Authentication, Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{
    self, cell_of, free_neighbour, pulsar_token_file, spawn_app, Client, PATIENCE, PULSAR_URL,
};

crate::scenarios::game_scenarios!(crate::helpers::pulsar);

mod with_cassandra {
    //! The scaled-out configuration: the Pulsar bus and the Cassandra store together.
    crate::scenarios::game_scenarios!(super::pulsar_and_cassandra);
}

/// The Pulsar bus on its own topic and the Cassandra store in its own keyspace.
fn pulsar_and_cassandra(dir: &std::path::Path) -> Settings {
    let mut settings = crate::cassandra::support::cassandra(dir);
    settings.pulsar = helpers::pulsar(dir).pulsar;
    settings
}

/// A well-formed token signed with a key that is not the broker's.
const FORGED_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkcmFwZXRpc2NhIn0.\
                            GD5nd_WIWybX6U_xEZO9yMl_ZAJ_GJxGhjClnH00Cgw";

fn client_token() -> String {
    std::fs::read_to_string(pulsar_token_file())
        .expect("token file readable")
        .trim()
        .to_string()
}

/// A plain consumer of `topic`, as any Pulsar client would read the game.
async fn plain_consumer(topic: &str) -> Consumer<Vec<u8>, TokioExecutor> {
    let pulsar: Pulsar<TokioExecutor> = Pulsar::builder(PULSAR_URL, TokioExecutor)
        .with_auth(Authentication {
            name: "token".into(),
            data: client_token().into_bytes(),
        })
        .build()
        .await
        .expect("a plain client connects");
    pulsar
        .consumer()
        .with_topic(topic)
        .with_subscription(format!("plain-{}", protocol::Uuid::new_v4()))
        .with_subscription_type(SubType::Exclusive)
        .with_options(
            ConsumerOptions::default()
                .durable(false)
                .with_initial_position(InitialPosition::Earliest),
        )
        .build()
        .await
        .expect("a plain consumer subscribes")
}

/// The next message on the topic whose JSON satisfies `wanted`.
async fn next_matching(
    consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let message = tokio::time::timeout_at(deadline, consumer.next())
            .await
            .unwrap_or_else(|_| panic!("waited {PATIENCE:?} on the topic for {what}"))
            .expect("the consumer goes on")
            .expect("a message");
        let frame: Value =
            serde_json::from_slice(&message.payload.data).expect("topic messages are JSON");
        if wanted(&frame) {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_plain_pulsar_consumer_sees_the_players_moves_and_chat() {
    let dir = tempfile::tempdir().unwrap();
    let settings = helpers::pulsar(dir.path());
    let mut topic = plain_consumer(&settings.pulsar.topic).await;
    let app = spawn_app_with(settings, dir).await;

    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let target = free_neighbour(&ana);
    ana.move_to(target.x, target.y).await;
    ana.send(json!({"messageType": "chat",
                    "payload": {"id": "c-1", "name": "Ana", "text": "anyone on the topic?"}}))
        .await;

    let id = ana.id.to_string();
    let moved = next_matching(&mut topic, "Ana's move", |f| {
        f["messageType"] == "player" && f["playerID"] == id && f["payload"]["generation"] == 1
    })
    .await;
    assert_eq!(cell_of(&moved), target);
    assert_eq!(moved["payload"]["name"], "Ana");
    let chat = next_matching(&mut topic, "Ana's chat", |f| f["messageType"] == "chat").await;
    assert_eq!(
        chat,
        json!({"messageType": "chat", "playerID": id,
               "payload": {"id": "c-1", "name": "Ana", "text": "anyone on the topic?"}}),
        "the topic carries the world-socket JSON as is"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn two_instances_on_one_topic_each_fan_out_the_others_frames() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut settings_a = helpers::pulsar(dir_a.path());
    let mut settings_b = helpers::pulsar(dir_b.path());
    settings_b.pulsar.topic = settings_a.pulsar.topic.clone();
    // world frames are per game: both instances serve the same default game
    settings_a.game_id = Some(protocol::Uuid::new_v4());
    settings_b.game_id = settings_a.game_id;
    let a = spawn_app_with(settings_a, dir_a).await;
    let b = spawn_app_with(settings_b, dir_b).await;

    let mut bob = Client::connect(&b, "Bob").await;
    bob.enter().await;
    let mut ana = Client::connect(&a, "Ana").await;
    ana.enter().await;
    let line = json!({"messageType": "chat",
                      "payload": {"id": "c-2", "name": "Ana", "text": "hello from A"}});
    ana.send(line).await;
    let seen = bob
        .world_until("Ana's chat from the other instance", |f| {
            f["messageType"] == "chat"
        })
        .await;
    assert_eq!(seen["playerID"], ana.id.to_string());
    assert_eq!(seen["payload"]["text"], "hello from A");
    a.shutdown().await;
    b.shutdown().await;
}

#[test]
fn help_documents_the_pulsar_options_without_showing_the_token() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drapetisca"))
        .arg("--help")
        .env("DRAPETISCA_PULSAR_TOKEN", FORGED_TOKEN)
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, env) in [
        ("--pulsar-url", "DRAPETISCA_PULSAR_URL"),
        ("--pulsar-topic", "DRAPETISCA_PULSAR_TOPIC"),
        ("--pulsar-token", "DRAPETISCA_PULSAR_TOKEN"),
        ("--pulsar-token-file", "DRAPETISCA_PULSAR_TOKEN_FILE"),
        ("--pulsar-tls-ca-file", "DRAPETISCA_PULSAR_TLS_CA_FILE"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(help.contains(env), "--help lacks {env}:\n{help}");
    }
    assert!(
        help.contains("persistent://public/default/drapetisca-world"),
        "the default topic is shown:\n{help}"
    );
    assert!(
        !help.contains(FORGED_TOKEN),
        "the token is not shown:\n{help}"
    );
}

#[tokio::test]
async fn the_configured_token_is_accepted_and_the_bus_reports_ok() {
    let app = spawn_app(helpers::pulsar).await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"bus_ok\":true"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_given_inline_works_like_a_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = helpers::pulsar(dir.path());
    settings.pulsar.token_file = None;
    settings.pulsar.token = Some(SecretString::from(client_token()));
    let app = spawn_app_with(settings, dir).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    app.shutdown().await;
}

fn with_forged_token(dir: &std::path::Path) -> Settings {
    let mut settings = helpers::pulsar(dir);
    settings.pulsar.token_file = None;
    settings.pulsar.token = Some(SecretString::from(FORGED_TOKEN));
    settings
}

#[tokio::test]
async fn a_wrong_token_is_refused_at_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let started = tokio::time::timeout(
        Duration::from_secs(30),
        Application::build(with_forged_token(dir.path())),
    )
    .await
    .expect("start-up fails fast");
    let error = format!("{:#}", started.err().expect("start-up fails"));
    assert!(error.contains("authentication failed"), "{error}");
    assert!(
        error.contains(PULSAR_URL),
        "the error names the broker: {error}"
    );
}

#[test]
fn the_binary_exits_non_zero_saying_authentication_failed() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drapetisca"))
        .args(["--bind", "127.0.0.1:0", "--pulsar-url", PULSAR_URL])
        .args(["--pulsar-topic", &helpers::unique_topic()])
        .arg("--data-dir")
        .arg(dir.path())
        .env("DRAPETISCA_PULSAR_TOKEN", FORGED_TOKEN)
        // a developer's own token file would clash with the forged token
        .env_remove("DRAPETISCA_PULSAR_TOKEN_FILE")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exits non-zero:\n{stderr}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(
        !stderr.contains(FORGED_TOKEN),
        "the token is not printed:\n{stderr}"
    );
}

#[tokio::test]
async fn a_missing_token_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = helpers::pulsar(dir.path());
    settings.pulsar.token_file = Some(dir.path().join("no-such-token"));
    let error = format!("{:#}", Application::build(settings).await.err().unwrap());
    assert!(error.contains("no-such-token"), "{error}");
}

#[tokio::test]
async fn the_bus_works_over_tls_trusting_the_configured_ca() {
    crate::scenarios::a_move_is_seen_by_the_other_player(helpers::pulsar_tls).await;
}

#[tokio::test]
async fn a_wrong_token_over_tls_is_refused_as_an_authentication_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = helpers::pulsar_tls(dir.path());
    settings.pulsar.token_file = None;
    settings.pulsar.token = Some(SecretString::from(FORGED_TOKEN));
    let error = format!("{:#}", Application::build(settings).await.err().unwrap());
    assert!(error.contains("authentication failed"), "{error}");
}

#[tokio::test]
async fn a_broker_certificate_from_an_unknown_ca_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = helpers::pulsar_tls(dir.path());
    settings.pulsar.tls_ca_file = None;
    let started = tokio::time::timeout(Duration::from_secs(60), Application::build(settings))
        .await
        .expect("start-up fails within a minute");
    let error = format!("{:#}", started.err().expect("start-up fails"));
    assert!(
        error.contains("TLS") || error.contains("certificate"),
        "{error}"
    );
}

/// Starts a server with ready-made settings (the harness makes them from a function).
async fn spawn_app_with(settings: Settings, dir: tempfile::TempDir) -> helpers::TestApp {
    helpers::start(settings, dir).await
}
