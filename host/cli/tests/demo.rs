//! The README's demo (`examples/demo.sh`) runs against a real server and a fresh PostgreSQL
//! database, so the documented flow can't rot.

mod common;

use common::connectors::{pg, root, start};
use std::process::Command;

#[test]
fn the_readme_demo_creates_a_datasource_imports_the_app_and_runs_a_query() {
    let server = start(true);
    let database = format!("lathe_demo_{}", std::process::id());
    // The name is built from a number only.
    pg(&format!("DROP DATABASE IF EXISTS {database}"));
    pg(&format!("CREATE DATABASE {database}"));

    let out = Command::new("bash")
        .arg(root().join("examples/demo.sh"))
        .env("LATHE_URL", &server.url)
        .env("LATHE_EMAIL", common::ADMIN_EMAIL)
        .env("LATHE_PASSWORD", common::ADMIN_PASSWORD)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "5432")
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &database)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    pg(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("the run's JSON");
    let names: Vec<&str> = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Ada Lovelace", "Grace Hopper", "Alan Turing"],
        "{result}"
    );
    assert_eq!(result["rowCount"], 3);
}
