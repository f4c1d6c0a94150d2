//! Hostile clients against the in-process server over real sockets: pages of other
//! origins, too many sockets, floods of moves, chat and garbage. Each limit is set low
//! here so that a test reaches it quickly; the defaults are in `ws::guard`.

use std::time::{Duration, Instant};

use drapetisca::Settings;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::StatusCode, Message};

use crate::helpers::{close_of, start, Client, TestApp, PATIENCE};

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server on the embedded bus and store whose settings `adjust` changed.
pub(crate) async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings::local(dir.path());
    adjust(&mut settings);
    start(settings, dir).await
}

/// Opens `path` from the local address `from` with an `Origin` header (if given);
/// returns the socket, or the HTTP status of the refusal.
pub(crate) async fn handshake(
    app: &TestApp,
    path: &str,
    from: &str,
    origin: Option<&str>,
) -> Result<Ws, StatusCode> {
    handshake_answer(app, path, from, origin)
        .await
        .map_err(|response| response.status())
}

/// As [`handshake`], with the whole answer of a refusal.
async fn handshake_answer(
    app: &TestApp,
    path: &str,
    from: &str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::http::Response<Option<Vec<u8>>>> {
    let mut request = format!("ws://{}{}", app.address, path)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    handshake_over(app, request, socket_from(from)).await
}

/// A client socket bound to the local address `from`, not yet connected.
fn socket_from(from: &str) -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket
}

/// Opens `request` over `socket`; the socket, or the whole answer of a refusal.
async fn handshake_over(
    app: &TestApp,
    request: tungstenite::handshake::client::Request,
    socket: TcpSocket,
) -> Result<Ws, tungstenite::http::Response<Option<Vec<u8>>>> {
    let stream = socket.connect(app.address.parse().unwrap()).await.unwrap();
    match tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response),
        Err(e) => panic!("handshake failed other than by an HTTP refusal: {e}"),
    }
}

/// The value of one series in the server's `/metrics`.
pub(crate) async fn metric(app: &TestApp, series: &str) -> f64 {
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
        .parse()
        .unwrap()
}

fn route(id: protocol::Uuid) -> String {
    protocol::player_route(id)
}

#[tokio::test]
async fn sockets_from_pages_of_other_origins_are_refused_with_403() {
    let app = spawn_with(|_| {}).await;
    let own = format!("http://{}", app.address);
    for (origin, allowed) in [
        (None, true),
        (Some(own.as_str()), true),
        (Some("http://127.0.0.1:8080"), true),
        (Some("http://localhost:8080"), true),
        (Some("http://evil.example"), false),
        (Some("null"), false),
    ] {
        for path in [
            protocol::player_route(protocol::Uuid::new_v4()),
            protocol::world_route(protocol::Uuid::new_v4()),
        ] {
            let got = handshake(&app, &path, "127.0.0.1", origin).await;
            match (allowed, got) {
                (true, Ok(_)) => {}
                (false, Err(status)) => assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?}"),
                (_, got) => panic!("{path} from {origin:?}: {:?}", got.map(|_| "opened")),
            }
        }
    }
    assert_eq!(
        metric(&app, "drapetisca_sockets_refused_total{reason=\"origin\"}").await,
        4.0
    );
    app.shutdown().await;

    // the list is configurable; `*` allows any page
    let app = spawn_with(|s| s.guard.allowed_origins = vec!["https://play.example".into()]).await;
    let path = route(protocol::Uuid::new_v4());
    assert!(
        handshake(&app, &path, "127.0.0.1", Some("https://play.example"))
            .await
            .is_ok()
    );
    assert_eq!(
        handshake(&app, &path, "127.0.0.1", Some("http://127.0.0.1:8080"))
            .await
            .err(),
        Some(StatusCode::FORBIDDEN)
    );
    app.shutdown().await;
    let app = spawn_with(|s| s.guard.allowed_origins = vec!["*".into()]).await;
    let path = route(protocol::Uuid::new_v4());
    assert!(
        handshake(&app, &path, "127.0.0.1", Some("http://evil.example"))
            .await
            .is_ok()
    );
    app.shutdown().await;
}

/// Opens world sockets from `from` until one is refused; returns the open ones and the
/// refusal.
async fn open_until_refused(app: &TestApp, from: &str) -> (Vec<Ws>, StatusCode) {
    let mut open = Vec::new();
    loop {
        let path = protocol::world_route(protocol::Uuid::new_v4());
        match handshake(app, &path, from, None).await {
            Ok(ws) => open.push(ws),
            Err(status) => return (open, status),
        }
        assert!(open.len() <= 100, "no cap reached");
    }
}

#[tokio::test]
async fn sockets_over_the_caps_are_refused_and_a_closed_socket_frees_its_place() {
    let app = spawn_with(|s| {
        s.guard.max_sockets_per_address = 3;
        s.guard.max_sockets = 5;
    })
    .await;
    let (mut first, status) = open_until_refused(&app, "127.0.0.1").await;
    assert_eq!((first.len(), status), (3, StatusCode::TOO_MANY_REQUESTS));
    // another address has places of its own, up to the total
    let (second, status) = open_until_refused(&app, "127.0.0.2").await;
    assert_eq!((second.len(), status), (2, StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        metric(&app, "drapetisca_sockets_refused_total{reason=\"address\"}").await,
        1.0
    );
    assert_eq!(
        metric(&app, "drapetisca_sockets_refused_total{reason=\"total\"}").await,
        1.0
    );
    // closing one gives its place back, once the server saw it go
    first.pop().unwrap().close(None).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    let path = protocol::world_route(protocol::Uuid::new_v4());
    while handshake(&app, &path, "127.0.0.1", None).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the closed socket's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop((first, second));
    app.shutdown().await;
}

/// Reads `player`'s socket until it closes; returns the reasons of its error frames and
/// the close's code and reason.
async fn errors_until_closed(ws: &mut Ws) -> (Vec<String>, u16, String) {
    let mut errors = Vec::new();
    loop {
        use futures_util::StreamExt;
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the flood is cut in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["messageType"] == "error" {
                    errors.push(frame["payload"]["reason"].as_str().unwrap().to_string());
                }
            }
            Some(Ok(Message::Close(Some(close)))) => {
                return (errors, close.code.into(), close.reason.to_string())
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_move_flood_reaches_others_only_up_to_the_limit_and_the_flooder_is_closed() {
    let app = spawn_with(|s| {
        s.guard.move_limit = "5/10".parse().unwrap();
        s.guard.drop_limit = "1/20".parse().unwrap();
    })
    .await;
    let mut honest = Client::connect(&app, "Honest").await;
    honest.enter().await;
    let mut flooder = Client::connect(&app, "Flooder").await;
    flooder.enter().await;
    let started = Instant::now();
    flood_standing_still(&mut flooder.player, flooder.at.unwrap()).await;
    let (errors, code, reason) = errors_until_closed(&mut flooder.player).await;
    let took = started.elapsed().as_secs_f64();
    closed_for_flooding_moves(code, &reason, &errors);

    flood_capped(&mut honest, flooder.id, took).await;
    assert!(metric(&app, "drapetisca_frames_limited_total{kind=\"move\"}").await >= 20.0);
    assert_eq!(metric(&app, "drapetisca_sockets_flooding_total").await, 1.0);
    // the honest player plays on
    let step = crate::helpers::free_neighbour(&honest);
    assert_eq!(honest.move_to(step.x, step.y).await, step);
    app.shutdown().await;
}

/// Sends 200 moves on the spot `at` (standing still is a valid move: each one would be
/// fanned out to everyone), or until the server closed `ws`.
pub(crate) async fn flood_standing_still(ws: &mut Ws, at: protocol::Cell) {
    for generation in 1..=200 {
        let frame = crate::helpers::move_frame(at, generation, "Flooder");
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            break; // closed by the server meanwhile
        }
    }
}

/// Asserts that a move flood was answered with error frames, then closed with 1008.
pub(crate) fn closed_for_flooding_moves(code: u16, reason: &str, errors: &[String]) {
    assert_eq!(
        (code, reason),
        (1008, "too many frames over the limits"),
        "policy violation"
    );
    assert!(errors.len() >= 20, "{} error frames", errors.len());
    assert!(
        errors.iter().all(|e| e == "too many move frames: dropped"),
        "{errors:?}"
    );
}

/// Asserts that `honest` saw the flooder's entering and at most the burst plus the rate
/// of its moves (`--move-limit 5/10`) over the `took` seconds of the flood, up to its
/// leaving.
pub(crate) async fn flood_capped(honest: &mut Client, flooder: protocol::Uuid, took: f64) {
    let flooder_id = flooder.to_string();
    let mut seen = 0;
    loop {
        let frame = honest
            .world_until("the flooder's moves and leaving", |f| {
                f["playerID"] == flooder_id
            })
            .await;
        if frame["messageType"] == "leaving" {
            break;
        }
        seen += 1;
    }
    let most = 1 + 10 + (5.0 * took).ceil() as usize;
    assert!(
        seen <= most,
        "{seen} updates of the flooder reached others, at most {most} may"
    );
    assert!(seen >= 10, "the burst goes through: {seen}");
}

#[tokio::test]
async fn chat_over_the_limit_is_dropped_with_an_error_frame_and_play_goes_on() {
    let app = spawn_with(|s| s.guard.chat_limit = "1/3".parse().unwrap()).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    for n in 0..5 {
        ana.send(json!({"messageType": "chat", "payload": {"id": format!("c{n}"), "name": "Ana", "text": format!("line {n}")}}))
            .await;
    }
    for _ in 0..2 {
        let error = ana.next_player().await;
        assert_eq!(error["messageType"], "error");
        assert_eq!(error["payload"]["reason"], "too many chat frames: dropped");
    }
    // a line once the bucket refilled goes through, after the first three
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ana.send(
        json!({"messageType": "chat", "payload": {"id": "late", "name": "Ana", "text": "later"}}),
    )
    .await;
    let ana_id = ana.id.to_string();
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("later") {
        let line = bob
            .world_until("Ana's chat", |f| {
                f["messageType"] == "chat" && f["playerID"] == ana_id
            })
            .await;
        lines.push(line["payload"]["text"].as_str().unwrap().to_string());
    }
    assert_eq!(lines, ["line 0", "line 1", "line 2", "later"]);
    assert_eq!(
        metric(&app, "drapetisca_frames_limited_total{kind=\"chat\"}").await,
        2.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn entering_over_the_limit_is_dropped_with_an_error_frame() {
    let app = spawn_with(|s| s.guard.enter_limit = "0.01/2".parse().unwrap()).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    // the second entering is within the burst (it renames in place); the next two are not
    for n in 0..3 {
        ana.send(json!({"messageType": "entering", "payload": {"name": format!("Ana {n}")}}))
            .await;
    }
    // the room answers the one it took, the socket the dropped ones: in either order
    let mut answers = Vec::new();
    for _ in 0..3 {
        let frame = ana.next_player().await;
        answers.push(match frame["messageType"].as_str().unwrap() {
            "error" => frame["payload"]["reason"].as_str().unwrap().to_string(),
            kind => format!("{kind} {}", frame["payload"]["name"].as_str().unwrap_or("")),
        });
    }
    answers.sort();
    assert_eq!(
        answers,
        [
            "player Ana 0",
            "too many entering frames: dropped",
            "too many entering frames: dropped"
        ]
    );
    assert_eq!(
        metric(&app, "drapetisca_frames_limited_total{kind=\"entering\"}").await,
        2.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_client_that_keeps_sending_garbage_is_closed_on_either_socket() {
    let app = spawn_with(|s| s.guard.drop_limit = "1/20".parse().unwrap()).await;
    let mut client = Client::connect(&app, "Noisy").await;
    for _ in 0..100 {
        if client.player.send(Message::text("not json")).await.is_err() {
            break;
        }
    }
    let (errors, code, reason) = errors_until_closed(&mut client.player).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "too many frames over the limits")
    );
    assert!(errors.len() >= 20 && errors.iter().all(|e| e.starts_with("invalid frame")));
    // the world socket takes no frames at all
    for _ in 0..100 {
        if client.world.send(Message::text("hello?")).await.is_err() {
            break;
        }
    }
    let (code, reason) = close_of(&mut client.world).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "too many frames over the limits")
    );
    assert_eq!(metric(&app, "drapetisca_sockets_flooding_total").await, 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn an_address_closed_for_flooding_is_refused_new_sockets_for_a_while() {
    let app = spawn_with(|s| {
        s.guard.drop_limit = "1/20".parse().unwrap();
        s.guard.flood_ban_secs = 5;
    })
    .await;
    let from = "127.0.0.2";
    // a world socket opened before the flood stays open through the ban
    let mut world = handshake(
        &app,
        &protocol::world_route(protocol::Uuid::new_v4()),
        from,
        None,
    )
    .await
    .expect("the world socket opens");
    let mut flooder = handshake(&app, &route(protocol::Uuid::new_v4()), from, None)
        .await
        .expect("the flooder's first socket opens");
    for _ in 0..100 {
        if flooder.send(Message::text("not json")).await.is_err() {
            break;
        }
    }
    let (_, code, reason) = errors_until_closed(&mut flooder).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "too many frames over the limits")
    );

    // coming straight back under a fresh id is refused, with the reason and the wait
    let refusal = handshake_answer(&app, &route(protocol::Uuid::new_v4()), from, None)
        .await
        .expect_err("the flooder's address is refused");
    assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refusal.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After: {retry_after}");
    let body = String::from_utf8(refusal.body().clone().unwrap_or_default()).unwrap();
    assert_eq!(
        body,
        format!("a socket of your address was closed for flooding; try again in {retry_after} s")
    );
    assert_eq!(
        handshake(
            &app,
            &protocol::world_route(protocol::Uuid::new_v4()),
            from,
            None
        )
        .await
        .err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "world sockets too"
    );
    assert_eq!(
        metric(
            &app,
            "drapetisca_sockets_refused_total{reason=\"flooding\"}"
        )
        .await,
        2.0
    );
    // other addresses play on, and so does the socket the address had open
    let mut honest = Client::connect(&app, "Honest").await;
    honest.enter().await;
    world
        .send(Message::Ping(b"still here".to_vec()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(PATIENCE, async {
        use futures_util::StreamExt;
        while let Some(Ok(message)) = world.next().await {
            if let Message::Pong(bytes) = message {
                return bytes;
            }
        }
        panic!("the world socket closed");
    })
    .await
    .expect("a pong in time");
    assert_eq!(pong, b"still here");

    // once the hold is over the address may come back
    let deadline = Instant::now() + Duration::from_secs(5) + PATIENCE;
    while handshake(&app, &route(protocol::Uuid::new_v4()), from, None)
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the address stayed refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_served_on_an_address_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::local(dir.path());
    settings.metrics_bind = Some("127.0.0.1:0".into());
    let app = drapetisca::Application::build(settings).await.unwrap();
    let (port, metrics_port) = (app.port(), app.metrics_port().expect("a metrics port"));
    let stop = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    let (status, _) = get(port, "/metrics").await;
    assert_eq!(status, 404, "not on the public address");
    let (status, _) = get(port, "/healthz").await;
    assert_eq!(status, 200);
    let (status, body) = get(metrics_port, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("drapetisca_players_connected 0"), "{body}");
    let (status, _) = get(metrics_port, "/").await;
    assert_eq!(status, 404, "only /metrics there");
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// `GET path` on a local port: status and body.
async fn get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (response[9..12].parse().unwrap(), body)
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(|_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(&app.address).await.unwrap();
    let started = Instant::now();
    // the request head, never finished
    stream
        .write_all(b"GET /ws/world/00000000-0000-0000-0000-000000000001 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server hangs up on a slow handshake")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "cut after the request timeout"
    );
    app.shutdown().await;
}

/// Sends `entering` with the resume-token fields, as our page does.
pub(crate) async fn enter_with(client: &mut Client, extra: Value) {
    let mut payload = json!({"name": client.name});
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    client
        .send(json!({"messageType": "entering", "payload": payload}))
        .await;
}

/// Frames on `client`'s player socket up to and including its own position (a brief).
pub(crate) async fn brief_of(client: &mut Client) -> Vec<Value> {
    let id = client.id.to_string();
    let mut frames = Vec::new();
    loop {
        let frame = client.next_player().await;
        frames.push(frame.clone());
        if frame["messageType"] == "player" && frame["playerID"] == id {
            return frames;
        }
    }
}

#[tokio::test]
async fn chat_lines_carry_the_senders_entered_name_and_lose_control_and_format_characters() {
    let app = spawn_with(|_| {}).await;
    let mut ana = Client::connect(&app, "\u{202E}Ana\u{200B}").await;
    ana.send(
        json!({"messageType": "chat", "payload": {"id": "c0", "name": "Ana", "text": "early"}}),
    )
    .await;
    let refused = ana.next_player().await;
    assert_eq!(
        refused["payload"]["reason"],
        "enter the game before chatting"
    );
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    let brief = bob.enter().await;
    let ana_id = ana.id.to_string();
    let seen = brief
        .iter()
        .find(|f| f["playerID"] == ana_id)
        .expect("Ana in Bob's brief");
    assert_eq!(seen["payload"]["name"], "Ana", "names are cleaned too");
    ana.send(json!({"messageType": "chat", "payload":
        {"id": "c1", "name": "Admin", "text": "hi\u{200B} \u{2066}there\u{202E}\u{7}"}}))
        .await;
    let line = bob
        .world_until("Ana's line", |f| {
            f["messageType"] == "chat" && f["playerID"] == ana_id
        })
        .await;
    assert_eq!(
        line["payload"]["name"], "Ana",
        "the entered name, cleaned, not the frame's"
    );
    assert_eq!(line["payload"]["text"], "hi there");
    app.shutdown().await;
}

#[tokio::test]
async fn entering_again_on_the_same_socket_sends_no_new_brief() {
    let app = spawn_with(|_| {}).await;
    let mut ana = Client::connect(&app, "Ana").await;
    let at = ana.enter().await;
    assert!(
        at.len() > 20,
        "a first brief: geometry, bricks, food, own position"
    );
    ana.send(json!({"messageType": "entering", "payload": {"name": "Ana Two"}}))
        .await;
    let again = ana.next_player().await;
    assert_eq!(again["messageType"], "player", "{again}");
    assert_eq!(again["playerID"], ana.id.to_string());
    assert_eq!(again["payload"]["name"], "Ana Two");
    assert_eq!(crate::helpers::cell_of(&again), ana.at.unwrap(), "in place");
    // nothing else came: the next frame answers the next request
    ana.send(json!({"messageType": "teleport", "payload": {}}))
        .await;
    assert_eq!(ana.next_player().await["messageType"], "error");
    app.shutdown().await;
}

#[tokio::test]
async fn an_id_bound_to_a_token_cannot_be_entered_without_it() {
    let app = spawn_with(|_| {}).await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let mut ana = Client::connect(&app, "Ana").await;
    enter_with(&mut ana, json!({"wantToken": true})).await;
    let brief = brief_of(&mut ana).await;
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    let home = crate::helpers::cell_of(brief.last().unwrap());
    let ana_id = ana.id;
    drop(ana);
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id.to_string()
    })
    .await;

    // a thief who read Ana's id from a world frame
    for attempt in [
        json!({"messageType": "entering", "payload": {"name": "Thief"}}),
        json!({"messageType": "entering", "payload": {"name": "Thief", "token": "0123"}}),
        json!({"messageType": "entering", "payload": {"name": "Thief", "wantToken": true}}),
        json!({"messageType": "chat", "payload": {"id": "x", "name": "Thief", "text": "hi"}}),
        json!({"messageType": "player", "payload": {"x": 1, "y": 1, "h": false, "generation": 1, "name": "T"}}),
    ] {
        let mut thief = Client::connect_as(&app, ana_id, "Thief").await;
        thief.send(attempt.clone()).await;
        let (code, reason) = close_of(&mut thief.player).await;
        assert_eq!(
            (code, reason.as_str()),
            (1008, "this player id needs its token"),
            "{attempt}"
        );
    }
    assert_eq!(
        metric(&app, "drapetisca_players_refused_total{reason=\"token\"}").await,
        5.0,
        "each attempt counted"
    );
    // Ana, with her token, gets her spider back where she left it
    let mut ana = Client::connect_as(&app, ana_id, "Ana").await;
    enter_with(&mut ana, json!({"token": token})).await;
    let brief = brief_of(&mut ana).await;
    assert_eq!(brief[0]["messageType"], "geometry", "no new token");
    assert_eq!(crate::helpers::cell_of(brief.last().unwrap()), home);
    app.shutdown().await;
}

/// Asserts that `watcher` sees `player`'s move `generation` and no leaving before it:
/// a replaced socket goes without a `leaving`.
pub(crate) async fn moved_on_without_leaving(
    watcher: &mut Client,
    player: protocol::Uuid,
    generation: i64,
) {
    let id = player.to_string();
    let seen = watcher
        .world_until("a move or leaving", |f| {
            f["playerID"] == id
                && (f["messageType"] == "leaving" || f["payload"]["generation"] == generation)
        })
        .await;
    assert_eq!(seen["messageType"], "player", "{seen}");
}

#[tokio::test]
async fn presenting_the_token_replaces_a_stale_socket_at_once() {
    let app = spawn_with(|_| {}).await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let mut stale = Client::connect(&app, "Ana").await;
    enter_with(&mut stale, json!({"wantToken": true})).await;
    let brief = brief_of(&mut stale).await;
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    // the old connection stays open but silent, as a dead TCP connection would
    let mut intruder = Client::connect_as(&app, stale.id, "Ana").await;
    intruder
        .send(json!({"messageType": "entering", "payload": {"name": "Ana"}}))
        .await;
    let (code, reason) = close_of(&mut intruder.player).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "this player id needs its token")
    );

    let mut fresh = Client::connect_as(&app, stale.id, "Ana").await;
    enter_with(&mut fresh, json!({"token": token})).await;
    let brief = brief_of(&mut fresh).await;
    assert_eq!(
        brief[0]["messageType"], "geometry",
        "a full brief for the new socket"
    );
    fresh.at = Some(crate::helpers::cell_of(brief.last().unwrap()));
    for frame in &brief {
        fresh.learn(frame);
    }
    let (code, reason) = close_of(&mut stale.player).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "replaced by a newer connection")
    );
    let step = crate::helpers::free_neighbour(&fresh);
    assert_eq!(
        fresh.move_to(step.x, step.y).await,
        step,
        "the new socket plays"
    );
    // Bob saw Ana move on without ever leaving
    moved_on_without_leaving(&mut bob, fresh.id, fresh.generation).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_second_socket_for_a_connected_id_is_refused_and_counted() {
    let app = spawn_with(|_| {}).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut second = handshake(&app, &route(ana.id), "127.0.0.1", None)
        .await
        .expect("the handshake itself is accepted");
    let (code, reason) = close_of(&mut second).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "this player id is already connected")
    );
    assert_eq!(
        metric(&app, "drapetisca_players_refused_total{reason=\"taken\"}").await,
        1.0
    );
    assert_eq!(
        metric(&app, "drapetisca_players_refused_total{reason=\"token\"}").await,
        0.0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_is_only_bound_on_an_ids_first_entering() {
    let app = spawn_with(|_| {}).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let id = ana.id;
    drop(ana);
    // the same id later asks: it is known already, so it stays unbound
    let deadline = Instant::now() + PATIENCE;
    let brief = loop {
        let mut again = Client::connect_as(&app, id, "Ana").await;
        enter_with(&mut again, json!({"wantToken": true})).await;
        match tokio::time::timeout(Duration::from_secs(2), brief_of(&mut again)).await {
            Ok(brief) => break brief,
            // the old socket may not be gone yet: refused with 1008, try again
            Err(_) => assert!(Instant::now() < deadline, "never entered again"),
        }
    };
    assert!(
        brief.iter().all(|f| f["messageType"] != "token"),
        "{brief:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_game_takes_at_most_its_player_cap() {
    let app = spawn_with(|s| s.guard.max_players_per_game = 2).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let mut carol = Client::connect(&app, "Carol").await;
    carol
        .send(json!({"messageType": "entering", "payload": {"name": "Carol"}}))
        .await;
    let refused = carol.next_player().await;
    assert_eq!(refused["messageType"], "error");
    assert_eq!(refused["payload"]["reason"], "the game is full");
    assert_eq!(
        metric(&app, "drapetisca_players_refused_total{reason=\"full\"}").await,
        1.0
    );
    ana.send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    let ana_id = ana.id.to_string();
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id
    })
    .await;
    carol.enter().await;
    assert!(carol.at.is_some(), "a place came free");
    app.shutdown().await;
}

#[tokio::test]
async fn a_full_game_forgets_the_longest_gone_for_a_newcomer_and_never_a_player_in_it() {
    let app = spawn_with(|s| s.guard.max_players_per_game = 2).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    crate::scenarios::catch_nearest_food(&mut ana).await;
    let ana_id = ana.id.to_string();
    drop(ana);
    let mut bob = Client::connect(&app, "Bob").await;
    let brief = bob.enter().await;
    let ana_score = |brief: &[Value]| {
        brief
            .iter()
            .any(|f| f["messageType"] == "score" && f["playerID"] == ana_id)
    };
    assert!(ana_score(&brief), "the game holds Ana, gone, and Bob");
    // a third player: the game forgets Ana, gone longest, to make room
    let mut carol = Client::connect(&app, "Carol").await;
    let brief = carol.enter().await;
    assert!(!ana_score(&brief), "Ana was forgotten for Carol");
    assert_eq!(metric(&app, "drapetisca_players_pruned_total").await, 1.0);
    // with Bob and Carol both in the game, there is nobody to forget
    let mut dora = Client::connect(&app, "Dora").await;
    dora.send(json!({"messageType": "entering", "payload": {"name": "Dora"}}))
        .await;
    let refused = dora.next_player().await;
    assert_eq!(refused["payload"]["reason"], "the game is full");
    assert_eq!(metric(&app, "drapetisca_players_pruned_total").await, 1.0);
    app.shutdown().await;
}

/// Opens `count` world sockets from 127.0.0.1 and closes them.
async fn open_and_close(app: &TestApp, count: u64) {
    let mut open = Vec::new();
    for _ in 0..count {
        let path = protocol::world_route(protocol::Uuid::new_v4());
        open.push(handshake(app, &path, "127.0.0.1", None).await.unwrap());
    }
    for mut ws in open {
        ws.close(None).await.unwrap();
    }
}

#[tokio::test]
async fn the_memory_of_a_flood_of_closed_sockets_is_given_back_and_a_few_closes_cost_nothing() {
    let app = spawn_with(|_| {}).await;
    let trims = "drapetisca_memory_trims_total";
    // a few sockets closing: not worth walking the heap, even after checks came round
    open_and_close(&app, 10).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(metric(&app, trims).await, 0.0);
    // a flood closing: given back once the count is seen
    open_and_close(&app, edge::memory::CLOSES_PER_TRIM).await;
    let deadline = Instant::now() + PATIENCE;
    while metric(&app, trims).await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the memory of {} closed sockets was never given back",
            edge::memory::CLOSES_PER_TRIM + 10
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(metric(&app, trims).await, 1.0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_counts_under_the_caps_until_its_connection_ends() {
    let app = spawn_with(|s| {
        s.guard.max_sockets_per_address = 2;
        s.guard.move_limit = "2000/2000".parse().unwrap();
    })
    .await;
    // a world socket from 127.0.0.3 whose client never reads, with a small receive
    // window: the server's writes to it back up, and the heartbeat gives up on it
    let socket = socket_from("127.0.0.3");
    socket.set_recv_buffer_size(2048).unwrap();
    let request = format!(
        "ws://{}{}",
        app.address,
        protocol::world_route(protocol::Uuid::new_v4())
    )
    .into_client_request()
    .unwrap();
    let stuck = handshake_over(&app, request, socket).await.unwrap();
    // a player standing still as fast as the raised limit lets it: every move is an
    // update for every world socket, megabytes while the heartbeat runs out
    let mut mover = Client::connect(&app, "Mover").await;
    mover.enter().await;
    let at = mover.at.unwrap();
    let started = Instant::now();
    let mut generation = 0;
    // the heartbeat gives up on a silent client after 30 s
    while started.elapsed() < Duration::from_secs(36) {
        for _ in 0..10 {
            generation += 1;
            mover
                .send(json!({"messageType": "player", "payload":
                    {"x": at.x, "y": at.y, "h": false, "generation": generation, "name": "Mover"}}))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // the stuck connection is still open, so it still counts: one more socket fits
    // under the cap of 2, not two
    let path = protocol::world_route(protocol::Uuid::new_v4());
    let second = handshake(&app, &path, "127.0.0.3", None).await;
    assert!(second.is_ok(), "the address's second place was taken");
    let third = handshake(&app, &path, "127.0.0.3", None).await;
    assert_eq!(
        third.err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "a connection that stopped reading ({generation} updates behind) no longer counted"
    );
    // once the client's connection ends, its place comes back
    drop(stuck);
    let deadline = Instant::now() + PATIENCE;
    while handshake(&app, &path, "127.0.0.3", None).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the place of an ended connection never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((second, mover));
    app.shutdown().await;
}
