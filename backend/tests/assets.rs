//! The embedded browser bundle is served with the right headers. These tests need the
//! bundle: `cargo xtask test` builds it first; under a plain `cargo test` they fail
//! saying how to build it, rather than pass with nothing to check. (The page a binary
//! built without a bundle serves is checked by a unit test of `assets`.)

use actix_web::http::header;
use actix_web::{test, App};
use edge::assets::{self, ASSETS};

/// The embedded files; fails when there are none.
fn bundle() -> &'static [assets::Asset] {
    assert!(
        !ASSETS.is_empty(),
        "this binary was built without the browser bundle: run `cargo xtask dist` (or \
         `cargo xtask test`, which builds it first), or set DRAPETISCA_DIST to a trunk \
         build, then run the tests again"
    );
    ASSETS
}

#[actix_web::test]
async fn a_game_page_is_the_bundle_page_named_after_its_game() {
    bundle();
    let res = assets::game_page("Friday <spiders> & \"co\"");
    assert!(res.status().is_success());
    assert_eq!(
        res.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-cache"
    );
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(content_type, "text/html; charset=utf-8");
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        body.contains("_bg.wasm"),
        "index.html loads the wasm: {body}"
    );
    let escaped = "Friday &lt;spiders&gt; &amp; &quot;co&quot;";
    assert!(
        body.contains(&format!("<title>{escaped} · Drapetisca</title>")),
        "the title names the game, escaped: {body}"
    );
    assert!(
        body.contains(&format!(
            r#"<meta name="drapetisca-game" content="{escaped}">"#
        )),
        "the page is told the game's name, escaped: {body}"
    );
}

#[actix_web::test]
async fn hashed_files_are_cached_forever_and_sent_gzipped_and_the_page_is_revalidated() {
    let app = test::init_service(App::new().configure(assets::configure)).await;
    // index.html is served by the lobby, at each game's address
    let files = bundle().iter().filter(|a| a.route != "/");
    for asset in files {
        let req = test::TestRequest::get()
            .uri(asset.route)
            .insert_header((header::ACCEPT_ENCODING, "gzip, br"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert!(res.status().is_success(), "{}", asset.route);
        let h = |name| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(h(header::CONTENT_TYPE).as_deref(), Some(asset.content_type));
        let cache = h(header::CACHE_CONTROL).unwrap();
        assert_eq!(
            asset.hashed,
            cache.contains("immutable"),
            "{}: {cache}",
            asset.route
        );
        assert_eq!(
            h(header::CONTENT_ENCODING).is_some(),
            asset.gzip.is_some(),
            "{}",
            asset.route
        );
        let req = test::TestRequest::get()
            .uri(asset.route)
            .insert_header((header::IF_NONE_MATCH, asset.etag))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), 304, "{}", asset.route);
    }
    let index = bundle()
        .iter()
        .find(|a| a.route == "/")
        .expect("a bundle has an index.html");
    assert!(
        !index.hashed,
        "index.html must be revalidated, not cached forever"
    );
    let wasm = bundle()
        .iter()
        .find(|a| a.content_type == "application/wasm")
        .expect("a bundle has the game's wasm");
    assert!(wasm.hashed && wasm.gzip.is_some());
}
