//! What the page asks of the browser: randomness, its own address, which game it shows,
//! and whether its server answers.

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
    let id = route::game_in_path(&window.location().pathname().ok()?)?;
    let name = window
        .document()
        .and_then(|d| {
            d.query_selector("meta[name=drapetisca-game]")
                .ok()
                .flatten()
        })
        .and_then(|meta| meta.get_attribute("content"));
    Some((id, name))
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
