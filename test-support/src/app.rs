//! Test support: a server on a free port with its own data directory, and a client that
//! speaks the protocol over real WebSockets, as a reference client would.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use drapetisca::{Application, Settings};
use futures_util::{SinkExt, StreamExt};
use protocol::{Board, Cell, Uuid};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one expected frame.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Makes the settings of a test server whose data lives in the given directory.
pub type MakeSettings = fn(&Path) -> Settings;

/// The embedded bus and store: what the binary runs with nothing configured.
pub fn embedded(dir: &Path) -> Settings {
    Settings::local(dir)
}

/// The local Apache Pulsar broker that `cargo xtask services up` starts.
pub const PULSAR_URL: &str = "pulsar://127.0.0.1:6650";

/// The Pulsar bus on the local broker, on a topic of its own, with the broker's client
/// token; the embedded store.
pub fn pulsar(dir: &Path) -> Settings {
    let mut settings = Settings::local(dir);
    settings.pulsar.url = Some(PULSAR_URL.into());
    settings.pulsar.topic = unique_topic();
    settings.pulsar.token_file = Some(pulsar_token_file());
    settings
}

/// Like [`pulsar`], over TLS (`pulsar+ssl://`, port 6651), trusting the local CA that
/// `services/pulsar/up.sh` made.
pub fn pulsar_tls(dir: &Path) -> Settings {
    let mut settings = pulsar(dir);
    settings.pulsar.url = Some(PULSAR_TLS_URL.into());
    settings.pulsar.tls_ca_file = Some(services_dir().join("tls/ca.cert.pem"));
    settings
}

/// The local broker's TLS port.
pub const PULSAR_TLS_URL: &str = "pulsar+ssl://127.0.0.1:6651";

/// Where `services/pulsar/up.sh` keeps the broker's state (tokens, certificates).
pub fn services_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.services/pulsar")
}

/// A topic no other test uses.
pub fn unique_topic() -> String {
    format!("persistent://public/default/test-{}", Uuid::new_v4())
}

/// The local broker's admin REST API.
pub const PULSAR_ADMIN: &str = "127.0.0.1:18080";

/// How many partitions the tests' command topics have.
pub const TEST_PARTITIONS: u32 = 4;

/// Creates the partitioned command topic that instances sharing the world topic
/// `topic` need (what an operator does once per deployment, see docs/cluster.md),
/// through the broker's admin REST API.
pub fn create_command_topic(topic: &str) {
    let path = bus_pulsar::contract::command_topic(topic)
        .replace("persistent://", "/admin/v2/persistent/");
    let token = std::fs::read_to_string(pulsar_token_file()).expect("token readable");
    let body = TEST_PARTITIONS.to_string();
    let request = format!(
        "PUT {path}/partitions HTTP/1.1\r\nHost: {PULSAR_ADMIN}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    );
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(PULSAR_ADMIN).expect("pulsar admin api answers");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 204"),
        "creating the command topic of {topic}: {response}"
    );
}

/// The client token of the local broker (`DRAPETISCA_PULSAR_TOKEN_FILE`, else the one
/// `services/pulsar/up.sh` wrote). Fails with a hint when the broker is not running:
/// these tests never skip.
pub fn pulsar_token_file() -> std::path::PathBuf {
    let hint = "run `cargo xtask services up` (or `bash services/pulsar/up.sh`) first";
    let address = "127.0.0.1:6650".parse().unwrap(); // unwrap: a literal address
    if std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err() {
        panic!("no Pulsar broker answers on {PULSAR_URL}: {hint}");
    }
    let file = std::env::var_os("DRAPETISCA_PULSAR_TOKEN_FILE")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.services/pulsar/token"));
    assert!(
        file.exists(),
        "no Pulsar token at {}: {hint}",
        file.display()
    );
    file
}

/// A running server.
pub struct TestApp {
    /// `127.0.0.1:port`.
    pub address: String,
    /// Its data directory, removed when the test ends.
    pub dir: tempfile::TempDir,
    /// The settings it runs with, kept for a restart.
    pub settings: Settings,
    /// Stops it.
    stop: CancellationToken,
    /// Ends when it stopped.
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts a server with settings made for a fresh data directory.
pub async fn spawn_app(make: MakeSettings) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings = make(dir.path());
    start(settings, dir).await
}

/// Starts a server with ready-made settings in `dir`.
pub async fn start(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    // the pulsar crate warns on every routine (re)connection
    drapetisca::telemetry::init("warn,pulsar=error");
    let app = Application::build(settings.clone())
        .await
        .expect("server builds");
    let address = format!("127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        dir,
        settings,
        stop,
        task,
    }
}

impl TestApp {
    /// Stops the server as SIGTERM would, and starts it again on the same data.
    pub async fn restart(self) -> TestApp {
        let Stopped { dir, mut settings } = self.shutdown_keep().await;
        settings.bind = "127.0.0.1:0".into();
        start(settings, dir).await
    }

    /// Stops the server, checking that it stops cleanly.
    pub async fn shutdown(self) {
        self.shutdown_keep().await;
    }

    async fn shutdown_keep(self) -> Stopped {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("server stops within 30 s")
            .expect("server task does not panic")
            .expect("server stops without error");
        Stopped {
            dir: self.dir,
            settings: self.settings,
        }
    }

    /// A GET of `path`: its status and body; a failed request fails the test, naming
    /// the URL.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.address);
        read(url.clone(), reqwest::get(&url).await).await
    }

    /// A POST of `body` as JSON to `path`: its status and body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let url = format!("http://{}{path}", self.address);
        let sent = reqwest::Client::new().post(&url).json(body).send().await;
        read(url, sent).await
    }
}

/// The status and body of a response; a failed request fails the test, naming the URL.
async fn read(url: String, response: reqwest::Result<reqwest::Response>) -> (u16, String) {
    let response = response.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    (status, body)
}

struct Stopped {
    dir: tempfile::TempDir,
    settings: Settings,
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a player learned from its brief, and keeps up to date from the world socket.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// The board's size, from `geometry`.
    pub board: Option<Board>,
    /// Brick cells.
    pub bricks: HashSet<Cell>,
    /// Food by id.
    pub food: HashMap<String, Cell>,
    /// Other players by id.
    pub players: HashMap<String, Cell>,
}

/// A protocol client with both sockets open.
pub struct Client {
    pub id: Uuid,
    pub name: String,
    /// The player socket.
    pub player: Ws,
    /// The world socket.
    pub world: Ws,
    /// Where the server last put this player.
    pub at: Option<Cell>,
    /// This client's move counter.
    pub generation: i64,
    /// The board as last seen.
    pub view: View,
    /// World frames read while looking for something else, oldest first.
    world_backlog: VecDeque<Value>,
}

pub async fn open(app: &TestApp, path: &str) -> Ws {
    open_at(&app.address, path).await
}

/// Opens a WebSocket on the server at `address` (`host:port`).
pub async fn open_at(address: &str, path: &str) -> Ws {
    let url = format!("ws://{address}{path}");
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("websocket opens");
    ws
}

impl Client {
    /// Opens both sockets under a fresh id.
    pub async fn connect(app: &TestApp, name: &str) -> Client {
        Self::connect_as(app, Uuid::new_v4(), name).await
    }

    /// Opens both sockets under `id` (world first, as the reference client does).
    pub async fn connect_as(app: &TestApp, id: Uuid, name: &str) -> Client {
        let routes = (protocol::world_route(id), protocol::player_route(id));
        Self::connect_on(app, routes, id, name).await
    }

    /// Opens both sockets of the default game under `id` on the server at `address`.
    pub async fn connect_at(address: &str, id: Uuid, name: &str) -> Client {
        let world = open_at(address, &protocol::world_route(id)).await;
        let player = open_at(address, &protocol::player_route(id)).await;
        Client::with_sockets(id, name, world, player)
    }

    /// Opens both sockets of game `game` under a fresh id.
    pub async fn connect_to(app: &TestApp, game: Uuid, name: &str) -> Client {
        Self::connect_to_as(app, game, Uuid::new_v4(), name).await
    }

    /// Opens both sockets of game `game` under `id`.
    pub async fn connect_to_as(app: &TestApp, game: Uuid, id: Uuid, name: &str) -> Client {
        let routes = (
            protocol::game_world_route(game, id),
            protocol::game_player_route(game, id),
        );
        Self::connect_on(app, routes, id, name).await
    }

    /// Opens the world socket, then the player socket, at the given paths.
    async fn connect_on(
        app: &TestApp,
        (world, player): (String, String),
        id: Uuid,
        name: &str,
    ) -> Client {
        let world = open(app, &world).await;
        let player = open(app, &player).await;
        Client::with_sockets(id, name, world, player)
    }

    /// A client on two open sockets.
    /// Opens both sockets of game `game` under `id` on the server at `address`.
    pub async fn connect_to_at(address: &str, game: Uuid, id: Uuid, name: &str) -> Client {
        let world = open_at(address, &protocol::game_world_route(game, id)).await;
        let player = open_at(address, &protocol::game_player_route(game, id)).await;
        Client::with_sockets(id, name, world, player)
    }

    fn with_sockets(id: Uuid, name: &str, world: Ws, player: Ws) -> Client {
        Client {
            id,
            name: name.into(),
            player,
            world,
            at: None,
            generation: 0,
            view: View::default(),
            world_backlog: VecDeque::new(),
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.player
            .send(Message::text(frame.to_string()))
            .await
            .expect("frame sent");
    }

    /// Sends `entering` and reads the brief up to and including the own position.
    /// Returns every frame of the brief.
    pub async fn enter(&mut self) -> Vec<Value> {
        self.send(json!({"messageType": "entering", "payload": {"name": self.name}}))
            .await;
        let mut brief = Vec::new();
        loop {
            let frame = self.next_player().await;
            brief.push(frame.clone());
            self.learn(&frame);
            if frame["messageType"] == "player" && frame["playerID"] == self.id.to_string() {
                self.at = Some(cell_of(&frame));
                // a returning player goes on counting from where the server has it
                self.generation = self
                    .generation
                    .max(frame["payload"]["generation"].as_i64().unwrap());
                return brief;
            }
        }
    }

    /// The next frame on the player socket.
    pub async fn next_player(&mut self) -> Value {
        next_text(&mut self.player)
            .await
            .expect("a frame on the player socket")
    }

    /// The next world frame that satisfies `wanted`, updating the view with every frame
    /// read on the way; frames that do not match are kept for later calls.
    pub async fn world_until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        self.world_until_within(PATIENCE, what, wanted).await
    }

    /// Like [`Client::world_until`], waiting up to `patience` instead of [`PATIENCE`]:
    /// for what takes a service's restart.
    pub async fn world_until_within(
        &mut self,
        patience: Duration,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(i) = self.world_backlog.iter().position(&wanted) {
            // unwrap: the index was just found
            return self.world_backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let frame = tokio::time::timeout_at(deadline, next_text(&mut self.world))
                .await
                .unwrap_or_else(|_| panic!("{}: waited {patience:?} for {what}", self.name))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: world socket closed while waiting for {what}",
                        self.name
                    )
                });
            self.learn(&frame);
            if wanted(&frame) {
                return frame;
            }
            self.world_backlog.push_back(frame);
        }
    }

    /// World frames read while waiting for others and not yet asked for, oldest first.
    pub fn world_seen(&self) -> impl Iterator<Item = &Value> {
        self.world_backlog.iter()
    }

    /// Waits for the world update about `player` with generation `generation`.
    pub async fn sees_move(&mut self, player: Uuid, generation: i64) -> Value {
        self.sees_move_within(PATIENCE, player, generation).await
    }

    /// Like [`Client::sees_move`], waiting up to `patience`.
    pub async fn sees_move_within(
        &mut self,
        patience: Duration,
        player: Uuid,
        generation: i64,
    ) -> Value {
        let what = format!("move {generation} of {player}");
        self.world_until_within(patience, &what, |f| is_move(f, player, generation))
            .await
    }

    /// Asks to move to `(x, y)` and returns where the server put us (own world update).
    pub async fn move_to(&mut self, x: i32, y: i32) -> Cell {
        self.generation += 1;
        let generation = self.generation;
        self.send(move_frame(Cell::new(x, y), generation, &self.name))
            .await;
        let update = self.sees_move(self.id, generation).await;
        let cell = cell_of(&update);
        self.at = Some(cell);
        cell
    }

    /// Walks to `target` one king's step at a time around bricks and players, catching
    /// food on the way. Panics if the server refuses a step.
    pub async fn walk_to(&mut self, target: Cell) {
        let path = self
            .path_to(target)
            .unwrap_or_else(|| panic!("no path to {target:?}"));
        for step in path {
            let got = self.move_to(step.x, step.y).await;
            assert_eq!(got, step, "{} stepping to {step:?}", self.name);
        }
    }

    /// Shortest king's-step path from here to `target` over cells free of bricks and
    /// other players (food counts as free).
    pub fn path_to(&self, target: Cell) -> Option<Vec<Cell>> {
        let board = self.view.board.expect("geometry known");
        let start = self.at.expect("own position known");
        let blocked: HashSet<Cell> = self
            .view
            .bricks
            .iter()
            .chain(self.view.players.values())
            .copied()
            .collect();
        let mut came_from = HashMap::from([(start, start)]);
        let mut queue = VecDeque::from([start]);
        while let Some(cell) = queue.pop_front() {
            if cell == target {
                let mut path = vec![cell];
                let mut c = cell;
                while came_from[&c] != start {
                    c = came_from[&c];
                    path.push(c);
                }
                path.reverse();
                return Some(path);
            }
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let next = Cell::new(cell.x + dx, cell.y + dy);
                    if board.contains(next)
                        && !came_from.contains_key(&next)
                        && !blocked.contains(&next)
                    {
                        came_from.insert(next, cell);
                        queue.push_back(next);
                    }
                }
            }
        }
        None
    }

    /// Updates the view from any server frame.
    pub fn learn(&mut self, frame: &Value) {
        self.view.learn(self.id, frame);
    }
}

impl View {
    /// Updates the view of player `me` from any server frame.
    pub fn learn(&mut self, me: Uuid, frame: &Value) {
        match frame["messageType"].as_str() {
            Some("geometry") => {
                self.board = Some(Board {
                    half_x: frame["payload"]["halfSizeX"].as_i64().unwrap() as i32,
                    half_y: frame["payload"]["halfSizeY"].as_i64().unwrap() as i32,
                })
            }
            Some("brick") => {
                self.bricks.insert(cell_of(frame));
            }
            Some("food") => {
                self.food
                    .insert(frame["foodID"].as_str().unwrap().into(), cell_of(frame));
            }
            Some("player") if frame["payload"]["x"].is_i64() => {
                let id = frame["playerID"].as_str().unwrap();
                if id != me.to_string() {
                    self.players.insert(id.into(), cell_of(frame));
                }
            }
            Some("leaving") => {
                self.players.remove(frame["playerID"].as_str().unwrap());
            }
            _ => {}
        }
    }

    /// A cell next to `at` with nothing on it (no brick, player or food: catching food
    /// sends frames a caller does not expect).
    pub fn free_neighbour(&self, at: Cell) -> Cell {
        let board = self.board.expect("geometry known");
        (-1..=1)
            .flat_map(|dx| (-1..=1).map(move |dy| Cell::new(at.x + dx, at.y + dy)))
            .find(|c| {
                *c != at
                    && board.contains(*c)
                    && !self.bricks.contains(c)
                    && !self.players.values().any(|p| p == c)
                    && !self.food.values().any(|f| f == c)
            })
            .expect("a free neighbour")
    }
}

/// A cell next to `client` it can step on, with nothing on it.
pub fn free_neighbour(client: &Client) -> Cell {
    client.view.free_neighbour(client.at.unwrap())
}

/// Whether `frame` is the world update of `player`'s move `generation`.
pub fn is_move(frame: &Value, player: Uuid, generation: i64) -> bool {
    frame["messageType"] == "player"
        && frame["playerID"] == player.to_string()
        && frame["payload"]["generation"] == generation
}

/// The `player` frame of a move of `name` to `to`, counted `generation`.
pub fn move_frame(to: Cell, generation: i64, name: &str) -> Value {
    json!({"messageType": "player", "payload":
        {"x": to.x, "y": to.y, "h": false, "generation": generation, "name": name}})
}

/// The cell in a frame's payload.
pub fn cell_of(frame: &Value) -> Cell {
    Cell::new(
        frame["payload"]["x"].as_i64().expect("x") as i32,
        frame["payload"]["y"].as_i64().expect("y") as i32,
    )
}

/// The next text frame as JSON, skipping control frames; `None` once the socket closed.
pub async fn next_text(ws: &mut Ws) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")?;
        match message {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).expect("server frames are JSON"))
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Reads until the server closes the socket; returns its close code and reason.
pub async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (frame.code.into(), frame.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket failed before closing cleanly: {e}"),
            None => panic!("socket ended without a close frame"),
        }
    }
}
