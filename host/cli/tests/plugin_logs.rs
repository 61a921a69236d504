//! What a connector logs through `lathe plugin run`: its lines reach stderr, a flood is cut at
//! the per-call limit, and the cut itself is said once.

mod common;

use common::plugin_cli::lathe;

#[tokio::test]
async fn a_log_flood_is_cut_at_the_limit_and_the_cut_is_reported_once() {
    let config = r#"{"host":"127.0.0.1","port":9,"base_url":"http://127.0.0.1:9"}"#;
    let out = lathe(&[
        "plugin",
        "run",
        "tests/fixtures/hostile",
        "--operation",
        "act",
        "--config",
        config,
        "--query",
        r#"{"action":"chatter","count":5000}"#,
    ])
    .await;
    let stderr = out.stderr.clone();
    out.success();
    let chatter = stderr.lines().filter(|l| l.contains("chatter ")).count();
    assert_eq!(chatter, 100, "{stderr}");
    let cut = stderr
        .lines()
        .filter(|l| l.contains("the rest of this call's are dropped"))
        .count();
    assert_eq!(cut, 1, "{stderr}");
}
