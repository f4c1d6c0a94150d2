//! The lobby page (`/`) and the game pages (`/game/{id}`), as a browser uses them
//! without script: the list, the form, its redirect and its refusals. The page's live
//! refresh and the game pages' play are in `e2e/lobby.mjs`; the JSON API and the
//! games themselves in `scenarios/games.rs`.

use drapetisca::Settings;
use reqwest::{header, redirect, StatusCode};
use serde_json::Value;

use crate::helpers::{start, TestApp};

/// A server on the embedded bus and store whose settings `adjust` changed.
async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = Settings::local(dir.path());
    adjust(&mut settings);
    start(settings, dir).await
}

/// What a browser gets for a request: status, the `Location` and `Retry-After` headers,
/// the body. Redirects are not followed, so they can be checked.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    retry_after: Option<String>,
    body: String,
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the server answers");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status(),
        location: header(header::LOCATION),
        retry_after: header(header::RETRY_AFTER),
        body: response.text().await.expect("a body"),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The lobby page.
async fn lobby(app: &TestApp) -> Answer {
    answer(browser().get(format!("http://{}/", app.address))).await
}

/// The lobby's form, submitted with `name` (and an `Origin`, if given).
async fn submit(app: &TestApp, name: &str, origin: Option<&str>) -> Answer {
    let mut request = browser()
        .post(format!("http://{}/", app.address))
        .form(&[("name", name)]);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    answer(request).await
}

/// How many games the JSON API lists.
async fn games(app: &TestApp) -> usize {
    let (status, body) = app.get("/api/games").await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    list["games"].as_array().unwrap().len()
}

#[tokio::test]
async fn the_lobby_lists_the_games_and_its_form_opens_a_new_one() {
    let app = spawn_with(|_| {}).await;
    let first = lobby(&app).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body.matches("<li data-game=").count(),
        1,
        "the default game: {}",
        first.body
    );
    assert!(
        first.body.contains(r#"<span class="badge">default</span>"#),
        "{}",
        first.body
    );
    assert!(first
        .body
        .contains(r#"<form id="create-form" method="post" action="/">"#));

    // same origin as a browser sends it from the lobby itself
    let own = format!("http://{}", app.address);
    let created = submit(&app, "  Friday <b>spiders</b> ", Some(&own)).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let path = created.location.expect("a redirect to the game's page");
    let id = path.strip_prefix("/game/").expect("a game page");
    assert_eq!(games(&app).await, 2);

    let listed = lobby(&app).await.body;
    assert!(
        listed.contains(&format!(
            r#"<li data-game="{id}"><a class="name" href="{path}">Friday &lt;b&gt;spiders&lt;/b&gt;</a>"#
        )),
        "listed by its trimmed name, escaped, linked to its page: {listed}"
    );
    assert!(listed.contains(r#"<span class="players">0 players</span>"#));

    let page = answer(browser().get(format!("http://{}{path}", app.address))).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<title>Friday &lt;b&gt;spiders&lt;/b&gt; · Drapetisca</title>"),
        "the game's page is titled after it (this needs the bundle: `cargo xtask dist`): {}",
        page.body
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_form_refuses_in_words_and_a_refusal_changes_nothing() {
    let app = spawn_with(|s| s.max_game_creations_per_minute = 1).await;

    let blank = submit(&app, " \u{7} ", None).await;
    assert_eq!(blank.status, 400);
    assert!(
        blank
            .body
            .contains(r#"<p id="refusal" role="alert">Not created: a game needs a name"#),
        "{}",
        blank.body
    );
    let long = submit(&app, &"x".repeat(300), None).await;
    assert_eq!(long.status, 400);
    assert!(
        long.body.contains("at most 256 characters"),
        "{}",
        long.body
    );

    // another site's page cannot make its visitors create games, by form or by API
    let evil = submit(&app, "Spam", Some("http://evil.example")).await;
    assert_eq!(evil.status, 403, "{}", evil.body);
    let api = answer(
        browser()
            .post(format!("http://{}/api/games", app.address))
            .header(header::ORIGIN, "http://evil.example")
            .json(&serde_json::json!({ "name": "Spam" })),
    )
    .await;
    assert_eq!(api.status, 403, "{}", api.body);
    assert_eq!(games(&app).await, 1, "refusals create nothing");

    // the refused ones did not count: one creation is allowed, a second is not
    assert_eq!(submit(&app, "Mine", None).await.status, 303);
    let again = submit(&app, "Another one", None).await;
    assert_eq!(again.status, 429);
    assert_eq!(again.retry_after.as_deref(), Some("60"));
    assert!(
        again.body.contains("too many games created"),
        "{}",
        again.body
    );
    assert!(
        again.body.contains(r#"value="Another one""#),
        "what was typed stays in the form: {}",
        again.body
    );
    assert_eq!(games(&app).await, 2);

    let oversized = answer(
        browser()
            .post(format!("http://{}/", app.address))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("name={}", "y".repeat(10_000))),
    )
    .await;
    assert_eq!(oversized.status, 400);
    assert_eq!(games(&app).await, 2);

    // /metrics counts each refusal by reason (the oversized body never reached the lobby)
    let (_, metrics) = app.get("/metrics").await;
    for (reason, count) in [("origin", 2), ("invalid", 2), ("too_many", 1), ("full", 0)] {
        let series = format!("drapetisca_games_refused_total{{reason=\"{reason}\"}} {count}");
        assert!(
            metrics.lines().any(|l| l == series),
            "no {series:?} in {metrics}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_link_to_no_game_says_so_and_leads_back_to_the_lobby() {
    let app = spawn_with(|_| {}).await;
    for path in [
        "/game/not-a-uuid".to_string(),
        format!("/game/{}", protocol::Uuid::new_v4()),
    ] {
        let page = answer(browser().get(format!("http://{}{path}", app.address))).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("No such game"), "{path}: {}", page.body);
        assert!(
            page.body.contains(r#"<a href="/">← All games</a>"#),
            "{}",
            page.body
        );
    }
    app.shutdown().await;
}
