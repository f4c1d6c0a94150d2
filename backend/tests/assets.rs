//! The embedded browser bundle is served with the right headers; a binary built
//! without one says how to build it.

use actix_web::http::header;
use actix_web::{test, App};
use backend::assets::{self, ASSETS};

#[actix_web::test]
async fn the_root_serves_the_game_page_or_says_how_to_build_it() {
    let app = test::init_service(App::new().configure(assets::configure)).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert!(res.status().is_success());
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(content_type, "text/html; charset=utf-8");
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    if ASSETS.is_empty() {
        assert!(body.contains("cargo xtask dist"), "{body}");
    } else {
        assert!(
            body.contains("_bg.wasm"),
            "index.html loads the wasm: {body}"
        );
    }
}

#[actix_web::test]
async fn hashed_files_are_cached_forever_and_sent_gzipped_and_the_page_is_revalidated() {
    let app = test::init_service(App::new().configure(assets::configure)).await;
    for asset in ASSETS {
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
    let index = ASSETS.iter().find(|a| a.route == "/");
    assert_eq!(
        index.is_some(),
        !ASSETS.is_empty(),
        "a bundle always has an index.html"
    );
    if let Some(index) = index {
        assert!(
            !index.hashed,
            "index.html must be revalidated, not cached forever"
        );
        let wasm = ASSETS
            .iter()
            .find(|a| a.content_type == "application/wasm")
            .unwrap();
        assert!(wasm.hashed && wasm.gzip.is_some());
    }
}
