//! The `drapetisca` binary as an operator runs it: its help, its start-up, a clean
//! stop on SIGTERM, and what a SIGKILL leaves (resume tokens stay bound).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sha2::Digest;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

const BIN: &str = env!("CARGO_BIN_EXE_drapetisca");

#[test]
fn help_documents_every_option_with_its_environment_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--bind", "DRAPETISCA_BIND"),
        ("--data-dir", "DRAPETISCA_DATA_DIR"),
        ("--game-id", "DRAPETISCA_GAME_ID"),
        ("--log", "DRAPETISCA_LOG"),
        ("--world-queue", "DRAPETISCA_WORLD_QUEUE"),
        ("--world-batch-ms", "DRAPETISCA_WORLD_BATCH_MS"),
        ("--metrics-bind", "DRAPETISCA_METRICS_BIND"),
        ("--allowed-origins", "DRAPETISCA_ALLOWED_ORIGINS"),
        ("--max-sockets", "DRAPETISCA_MAX_SOCKETS"),
        (
            "--max-sockets-per-address",
            "DRAPETISCA_MAX_SOCKETS_PER_ADDRESS",
        ),
        ("--move-limit", "DRAPETISCA_MOVE_LIMIT"),
        ("--chat-limit", "DRAPETISCA_CHAT_LIMIT"),
        ("--enter-limit", "DRAPETISCA_ENTER_LIMIT"),
        ("--drop-limit", "DRAPETISCA_DROP_LIMIT"),
        ("--pulsar-url", "DRAPETISCA_PULSAR_URL"),
        ("--cassandra-nodes", "DRAPETISCA_CASSANDRA_NODES"),
        ("--cassandra-keyspace", "DRAPETISCA_CASSANDRA_KEYSPACE"),
        (
            "--cassandra-replication",
            "DRAPETISCA_CASSANDRA_REPLICATION",
        ),
        ("--cassandra-username", "DRAPETISCA_CASSANDRA_USERNAME"),
        ("--cassandra-password", "DRAPETISCA_CASSANDRA_PASSWORD"),
        (
            "--cassandra-tls-ca-file",
            "DRAPETISCA_CASSANDRA_TLS_CA_FILE",
        ),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(help.contains(env), "--help lacks {env}:\n{help}");
    }
    assert!(
        help.contains("127.0.0.1:8000"),
        "the default address is shown"
    );
}

#[test]
fn a_bad_option_is_refused_with_a_message() {
    for (flag, value, says) in [
        ("--world-queue", "lots", "--world-queue"),
        ("--move-limit", "fast", "expected RATE/BURST"),
    ] {
        let out = Command::new(BIN).args([flag, value]).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag) && stderr.contains(says), "{stderr}");
    }
}

#[tokio::test]
async fn the_limits_and_the_metrics_address_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let (mut child, port) = start_with(
        dir.path(),
        &[
            ("DRAPETISCA_ALLOWED_ORIGINS", "https://play.example"),
            ("DRAPETISCA_MAX_SOCKETS_PER_ADDRESS", "1"),
            ("DRAPETISCA_METRICS_BIND", &metrics_bind),
        ],
    );
    assert_eq!(
        refused(connect_async(from(port, "http://127.0.0.1:8080")).await),
        403
    );
    let (world, _) = connect_async(from(port, "https://play.example"))
        .await
        .unwrap();
    assert_eq!(
        refused(connect_async(socket_url(port, "player")).await),
        429,
        "one socket per address"
    );
    drop(world);
    let metrics = http_get(metrics_port, "/metrics").await;
    assert!(
        metrics.contains("drapetisca_sockets_refused_total{reason=\"origin\"} 1"),
        "{metrics}"
    );
    assert!(http_get(port, "/metrics").await.starts_with("HTTP/1.1 404"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_refused_origin_is_logged_once_with_the_flag_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, log) = start_logged(dir.path(), &[]);
    // the reference React client's usual set-up: its page on port 3000, the server on
    // another port, default flags; the page reloads and retries
    for _ in 0..3 {
        let result = connect_async(from(port, "http://127.0.0.1:3000")).await;
        assert_eq!(refused(result), 403);
    }
    // a hostile page making up origins
    for i in 0..60 {
        let result = connect_async(from(port, &format!("http://evil{i}.example"))).await;
        assert_eq!(refused(result), 403);
    }
    // each line is written before the 403 is answered: the log is complete
    child.kill().unwrap();
    child.wait().unwrap();
    let log = log.join().unwrap();
    let told: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("refused a page from another origin"))
        .collect();
    let of_3000: Vec<&&String> = told
        .iter()
        .filter(|line| line.contains("127.0.0.1:3000"))
        .collect();
    assert_eq!(of_3000.len(), 1, "told once: {told:#?}");
    assert!(
        of_3000[0].contains(" INFO ")
            && of_3000[0].contains(
                "start drapetisca with --allowed-origins \
                 http://127.0.0.1:8080,http://localhost:8080,http://127.0.0.1:3000"
            ),
        "{}",
        of_3000[0]
    );
    assert!(
        (2..=10).contains(&told.len()),
        "the made-up origins are told, up to a budget of lines: {told:#?}"
    );
}

/// The address of a fresh socket of `kind` (`player`, `world`) on a local port.
fn socket_url(port: u16, kind: &str) -> String {
    format!(
        "ws://127.0.0.1:{port}/ws/{kind}/{}",
        protocol::Uuid::new_v4()
    )
}

/// A world socket handshake as a page served from `origin` sends it.
fn from(port: u16, origin: &str) -> tungstenite::handshake::client::Request {
    let mut request = socket_url(port, "world").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    request
}

/// The HTTP status a handshake was answered with (101 when it opened).
fn refused<S>(result: Result<S, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => 101,
    }
}

/// The whole HTTP response to `GET path` on a local port.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Starts the binary on a free port; returns it and the port it logged.
fn start(data_dir: &std::path::Path) -> (Child, u16) {
    start_with(data_dir, &[])
}

/// Like [`start`], with more environment variables.
fn start_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, u16) {
    let (child, port, _log) = start_logged(data_dir, env);
    (child, port)
}

/// Like [`start_with`]; also returns the rest of the server's log, whole once the
/// server has exited.
fn start_logged(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (Child, u16, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--log", "info"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the server logs that it listens")
            .unwrap();
        if let Some(rest) = line.split("port=").nth(1) {
            break rest
                .trim_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap();
        }
    };
    // keep draining the log so the server never blocks on a full pipe
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    (child, port, log)
}

#[tokio::test]
async fn sigterm_closes_sockets_with_a_reason_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start(dir.path());
    let url = format!(
        "ws://127.0.0.1:{port}/ws/world/{}",
        protocol::Uuid::new_v4()
    );
    let (mut world, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // a player enters, so the default game is laid and has rows to write out
    let id = protocol::Uuid::new_v4();
    let url = format!("ws://127.0.0.1:{port}/ws/player/{id}");
    let (mut player, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let entering = r#"{"messageType": "entering", "payload": {"name": "Ana"}}"#;
    player.send(Message::text(entering)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match player.next().await {
                Some(Ok(Message::Text(text))) => return text,
                Some(Ok(_)) => continue, // pings
                other => panic!("expected the brief, got {other:?}"),
            }
        }
    })
    .await
    .expect("the brief in time");
    assert!(first.contains("geometry"), "{first}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match world.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame within 10 s")
    .expect("the close frame has a reason");
    assert_eq!(u16::from(close.code), 1001, "going away");
    assert!(close.reason.contains("shutting down"), "{}", close.reason);
    drop((world, player));

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let log = std::fs::read_to_string(dir.path().join("drapetisca.jsonl")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("\"brick\"")).count(),
        22,
        "the new game was stored"
    );
}

/// What the server answered an `entering` on a fresh player socket: the frames up to
/// the own position, or the close code and reason when it closed the socket instead.
async fn enter(
    port: u16,
    id: protocol::Uuid,
    extra: serde_json::Value,
) -> Result<Vec<serde_json::Value>, (u16, String)> {
    let url = format!("ws://127.0.0.1:{port}/ws/player/{id}");
    let (mut player, _) = connect_async(&url).await.unwrap();
    let mut payload = serde_json::json!({"name": "Ana"});
    payload
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let entering = serde_json::json!({"messageType": "entering", "payload": payload});
    player
        .send(Message::text(entering.to_string()))
        .await
        .unwrap();
    let mut frames = Vec::new();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match player.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let own =
                        frame["messageType"] == "player" && frame["playerID"] == id.to_string();
                    frames.push(frame);
                    if own {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(Some(close)))) => {
                    return Err((u16::from(close.code), close.reason.to_string()))
                }
                Some(Ok(_)) => continue, // pings
                other => panic!("expected a brief or a close, got {other:?}"),
            }
        }
    })
    .await
    .expect("an answer within 10 s");
    answer.map(|()| frames)
}

#[tokio::test]
async fn a_bound_id_stays_bound_after_the_server_is_killed_and_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let (child, port) = start(dir.path());
    let mut child = KillOnDrop(child);
    let ana = protocol::Uuid::new_v4();
    let brief = enter(port, ana, serde_json::json!({"wantToken": true}))
        .await
        .expect("Ana enters");
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    let home = brief.last().unwrap()["payload"].clone();
    // she left (her socket closed): wait until the store has her row saying so
    let log = dir.path().join("drapetisca.jsonl");
    let id = ana.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let departed = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let row = text
            .lines()
            .filter(|l| l.contains(&id) && l.contains("\"active\":false"))
            .next_back()
            .map(str::to_string);
        if let Some(row) = row {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Ana's departure never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let (child, port) = start(dir.path());
    let _child = KillOnDrop(child);
    let stranger = enter(port, ana, serde_json::json!({})).await;
    assert_eq!(
        stranger.err(),
        Some((1008, "this player id needs its token".to_string())),
        "a stranger under Ana's id after the restart"
    );
    let back = enter(port, ana, serde_json::json!({"token": token}))
        .await
        .expect("Ana enters with her token");
    assert_eq!(back[0]["messageType"], "geometry", "no new token");
    let at = &back.last().unwrap()["payload"];
    assert_eq!(
        (&at["x"], &at["y"]),
        (&home["x"], &home["y"]),
        "Ana in her place"
    );
    // the store kept the token's SHA-256, never the token
    let stored: serde_json::Value = serde_json::from_str(&departed).unwrap();
    let hash = hex::encode(sha2::Sha256::digest(&token));
    assert_eq!(stored["token_hash"], hash.as_str());
    let file = std::fs::read_to_string(&log).unwrap();
    assert!(
        !file.contains(&token),
        "the token itself is nowhere in the store"
    );
}

/// A server process killed when the test ends, also when it fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
