//! What the page asks of the browser: randomness and its own address.

use protocol::Uuid;

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
