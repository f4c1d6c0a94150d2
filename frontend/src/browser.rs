//! What the page asks of the browser: randomness, its own address, which game it shows,
//! whether its server answers, a text over HTTP, and its address changed in place.

use protocol::Uuid;

use crate::route;
use wasm_bindgen::JsCast;

/// A fresh random (version 4) UUID, from the browser's cryptographic generator.
pub fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok());
    if filled.is_none() {
        // no Web Crypto (a very old browser): Math.random is good enough to tell players apart
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A random number for picking among a few choices.
pub fn roll() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}

/// The WebSocket location of the server that served this page: `ws://host:port`, or
/// `wss://` behind https.
pub fn own_server() -> String {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return "ws://127.0.0.1:8000".into();
    };
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_else(|_| "127.0.0.1:8000".into());
    format!("{scheme}://{host}")
}

/// The game this page plays: its id, from the page's address (`/game/{id}`), and the
/// name the server put in the page (`<meta name="drapetisca-game">`, absent under
/// `trunk serve`). `None` at any other address: then the page plays the server's default
/// game through the reference routes.
pub fn page_game() -> Option<(Uuid, Option<String>)> {
    let window = web_sys::window()?;
    let path = window.location().pathname().ok()?;
    let id = route::game_in_path(&path).or_else(|| route::watched_in_path(&path))?;
    Some((id, game_name()))
}

/// The game this page replays, from its address (`/game/{id}/replay?t=MS`): its id, the
/// moment asked for, and its name (as [`page_game`]).
pub fn page_replay() -> Option<(Uuid, Option<i64>, Option<String>)> {
    let location = web_sys::window()?.location();
    let id = route::replay_in_path(&location.pathname().ok()?)?;
    let at = route::moment_in_query(&location.search().ok()?);
    Some((id, at, game_name()))
}

/// The game's name the server put in the page (`<meta name="drapetisca-game">`).
fn game_name() -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector("meta[name=drapetisca-game]")
        .ok()
        .flatten()?
        .get_attribute("content")
}

/// The body of a GET of `url` (of the page's own server) and the value of its header
/// `header`, if sent; or why not.
pub async fn fetch_text(url: &str, header: &str) -> Result<(String, Option<String>), String> {
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let unanswered = |_| "the server did not answer".to_string();
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(unanswered)?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("the server answered {}", response.status()));
    }
    let value = response.headers().get(header).ok().flatten();
    let text = response.text().map_err(unanswered)?;
    let text = JsFuture::from(text).await.map_err(unanswered)?;
    Ok((text.as_string().ok_or("not a text")?, value))
}

/// Shows `url` (a path of this site) as the page's address, without loading it or
/// adding to the history of the tab: the address follows what the page shows.
pub fn replace_address(url: &str) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
    }
}

/// Whether the page's address is a watch view (`/game/{id}/watch`).
pub fn watching() -> bool {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .is_some_and(|path| route::watched_in_path(&path).is_some())
}

/// Whether the server the page came from answers, asked so that a refusal leaves no
/// error in the console: Chrome logs every refused socket, fetch, image or script, but
/// not a frame that fails to load. So a hidden frame loads `/healthz`; it shows a
/// document of our own origin only if the server answered. `server` is the socket
/// location in use: for another server than the page's own this cannot tell, and says
/// yes (the sockets will find out).
pub async fn reachable(server: &str) -> bool {
    if server != own_server() {
        return true;
    }
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return true;
    };
    let Some(frame) = document
        .create_element("iframe")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlIFrameElement>().ok())
    else {
        return true;
    };
    let _ = frame.set_attribute("hidden", "");
    let _ = frame.set_attribute("aria-hidden", "true");
    let _ = frame.set_attribute("tabindex", "-1");
    frame.set_src("/healthz");
    // loaded, or given up after 5 s (then the sockets find out)
    let settled = js_sys::Promise::new(&mut |resolve, _| {
        frame.set_onload(Some(&resolve));
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 5_000);
        }
    });
    let Some(body) = document.body() else {
        return true;
    };
    if body.append_child(&frame).is_err() {
        return true;
    }
    let _ = wasm_bindgen_futures::JsFuture::from(settled).await;
    // an error page is of another origin: no document for us
    let answered = frame.content_document().is_some();
    frame.remove();
    answered
}
