//! The browser bundle, embedded at build time (see `build.rs`). Its files are served at
//! `/{file name}`; its `index.html` is the page of one game, served by the lobby at each
//! game's address (`/game/{id}`) with the game's name put in (see [`game_page`]).
//!
//! Files whose names trunk hashed are cached for a year (`immutable`): a new build
//! changes their names. A game's page is revalidated on every load (`no-cache`), so a
//! new build is picked up at once. A gzip copy of each file, made at build time, is sent
//! to clients that accept it. A binary built without a bundle serves a page saying how
//! to build one.

use actix_web::http::header::{
    self, AcceptEncoding, Encoding, EntityTag, Header, HeaderValue, IfNoneMatch, Preference,
    Quality,
};
use actix_web::{guard, web, HttpRequest, HttpResponse};
use maud::html;

/// One embedded file.
pub struct Asset {
    /// The path it is served at: `/` for `index.html`, else `/{file name}`.
    pub route: &'static str,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// Whether the name carries a content hash, so it can be cached forever.
    pub hashed: bool,
    /// A strong ETag of the content, for revalidating the unhashed files.
    pub etag: &'static str,
    /// The file as trunk wrote it.
    pub body: &'static [u8],
    /// The same, gzipped at build time; `None` when that would not be smaller.
    pub gzip: Option<&'static [u8]>,
}

/// Every file of the bundle; empty when the binary was built without one.
pub static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Served at a game's address by a binary built without the frontend.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Drapetisca</title>\
<body style=\"font-family:sans-serif;max-width:40rem;margin:4rem auto\">\
<h1>Drapetisca</h1><p>The server is running, but this binary was built without the \
frontend.</p><p>Run <code>cargo xtask dist</code> (or <code>cargo xtask play</code>) to \
build the game into the binary, or <code>trunk serve</code> for frontend work.</p>";

/// Registers a route for every embedded file but `index.html` (the lobby serves it at the
/// games' addresses). Only exact paths are taken, so routes registered by other modules
/// are never shadowed.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS.iter().filter(|asset| asset.route != "/") {
        cfg.route(
            asset.route,
            get_or_head().to(move |req: HttpRequest| serve(asset, req)),
        );
    }
}

fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The page of the game named `name`: `index.html` with the name in its title and in a
/// `<meta name="drapetisca-game">` the page shows. The page reads which game to play
/// from its own address. So a shared link names the game in the browser's tab and in
/// link previews, and the page needs no request of its own to learn the name.
pub fn game_page(name: &str) -> HttpResponse {
    let Some(index) = ASSETS.iter().find(|asset| asset.route == "/") else {
        return not_built();
    };
    let html = String::from_utf8_lossy(index.body);
    let named = html! {
        title { (name) " · Drapetisca" }
        meta name="drapetisca-game" content=(name);
    };
    // a few hundred bytes, different per game: neither gzipped nor given an ETag
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html.replacen(PAGE_TITLE, &named.into_string(), 1))
}

/// The title in trunk's `index.html`, which [`game_page`] replaces.
const PAGE_TITLE: &str = "<title>Drapetisca</title>";

fn not_built() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(NOT_BUILT)
}

async fn serve(asset: &'static Asset, req: HttpRequest) -> HttpResponse {
    let cache = if asset.hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, asset.etag))
        .insert_header((header::VARY, "Accept-Encoding"));
    if etag_matches(&req, asset.etag) {
        return HttpResponse::NotModified()
            .insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::ETAG, asset.etag))
            .finish();
    }
    response.content_type(asset.content_type);
    match asset.gzip {
        Some(gz) if accepts_gzip(&req) => {
            // set by hand, so a compression middleware leaves the body alone
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
            response.body(gz)
        }
        _ => response.body(asset.body),
    }
}

/// Whether the client's `If-None-Match` names `etag` (or is `*`): then it has this
/// version. Compared weakly, as RFC 9110 asks for `If-None-Match`.
fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    let Ok(ours) = etag.parse::<EntityTag>() else {
        return false;
    };
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&ours)),
        Err(_) => false,
    }
}

/// Whether the client's `Accept-Encoding` takes gzip, by name or as `*`, with a
/// quality above zero.
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Ok(AcceptEncoding(codings)) = AcceptEncoding::parse(req) else {
        return false;
    };
    codings.iter().any(|coding| {
        let gzip = match &coding.item {
            Preference::Any => true,
            Preference::Specific(encoding) => *encoding == Encoding::gzip(),
        };
        gzip && coding.quality > Quality::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        for (header, expected) in [
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("*", true),
            ("gzip;q=0", false),
            ("gzip;q=0.000", false),
            ("GZIP", true),
            ("identity", false),
            ("not a header;;q=x", false),
        ] {
            let req = TestRequest::default()
                .insert_header((header::ACCEPT_ENCODING, header))
                .to_http_request();
            assert_eq!(accepts_gzip(&req), expected, "{header}");
        }
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn an_if_none_match_with_the_etag_matches() {
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"a\", \"b\""))
            .to_http_request();
        assert!(etag_matches(&req, "\"b\""));
        assert!(!etag_matches(&req, "\"c\""));
        let any = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "*"))
            .to_http_request();
        assert!(etag_matches(&any, "\"c\""));
        assert!(!etag_matches(
            &TestRequest::default().to_http_request(),
            "\"c\""
        ));
    }

    #[actix_web::test]
    async fn a_binary_without_the_bundle_says_how_to_build_it() {
        let response = not_built();
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("cargo xtask dist"), "{page}");
    }
}
