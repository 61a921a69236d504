//! Installing connectors from registries, end to end: `lathe plugin keygen|pack|publish`,
//! `lathe registry serve|token|add|trust`, `lathe plugin install`, and the server's
//! `/api/v1/plugins`, `/api/v1/registries`, `/api/v1/trusted-keys` and
//! `/api/v1/settings/egress`. The packages are the first-party `rest` connector's real
//! component; the hostile ones are made from it by hand, in a registry directory written
//! behind the registry's back, so that the server's own checks are what refuses them.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::connectors::root;
use common::{Client, Server, lathe};
use lathe_registry::index::{Index, VersionEntry};
use lathe_registry::keys::SigningKey;
use lathe_registry::package::{Package, digest};
use serde_json::{Value, json};

/// The rest connector's manifest (as JSON) and component.
fn rest_parts() -> (Value, Vec<u8>) {
    let (_, wasm) = lathe_runtime::package::locate(&root().join("plugins/rest"))
        .expect("the rest connector is built (scripts/build-wasm.sh)");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(root().join("plugins/rest/lathe-plugin.json")).unwrap(),
    )
    .unwrap();
    (manifest, std::fs::read(wasm).unwrap())
}

/// A rest package at `version` requesting `capabilities`, signed by `key` if given.
fn rest_package(version: &str, capabilities: &[&str], key: Option<&SigningKey>) -> Vec<u8> {
    let (mut manifest, component) = rest_parts();
    manifest["version"] = json!(version);
    manifest["capabilities"] = json!(capabilities);
    let mut package = Package::new(serde_json::to_vec(&manifest).unwrap(), component).unwrap();
    if let Some(key) = key {
        package.sign(key);
    }
    package.to_bytes()
}

/// A registry directory written by hand: the index lists whatever the test puts in it, and
/// no check of the registry's own stands between a hostile package and the server.
struct HandRegistry {
    dir: tempfile::TempDir,
    index: Index,
}

impl HandRegistry {
    fn new() -> HandRegistry {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("packages")).unwrap();
        let registry = HandRegistry {
            dir,
            index: Index::default(),
        };
        registry.write_index();
        registry
    }

    fn path(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Lists `bytes` as `id@version` and stores them under their digest.
    fn add(&mut self, id: &str, version: &str, bytes: &[u8]) -> String {
        let address = digest(bytes);
        let file = format!("{}.lpkg", address.replace(':', "-"));
        std::fs::write(self.dir.path().join("packages").join(file), bytes).unwrap();
        let entry = VersionEntry {
            version: version.to_string(),
            digest: address.clone(),
            size: bytes.len() as u64,
            name: "REST API".into(),
            description: String::new(),
            kind: "api".into(),
            wit: "lathe:connector@0.1.0".into(),
            capabilities: vec!["http://{base_url}".into()],
            publisher: None,
            yanked: false,
            published_at: "2026-12-05T00:00:00Z".into(),
        };
        let versions = self.index.packages.entry(id.to_string()).or_default();
        versions.retain(|v| v.version != version);
        versions.push(entry);
        self.index
            .owners
            .entry(id.to_string())
            .or_insert_with(|| "test".into());
        self.write_index();
        address
    }

    fn write_index(&self) {
        std::fs::write(self.dir.path().join("index.json"), self.index.to_json()).unwrap();
    }
}

/// `lathe registry serve` on a free loopback port, killed on drop.
struct RegistryServer {
    child: Child,
    url: String,
}

impl RegistryServer {
    fn start(dir: &Path, extra: &[&str]) -> RegistryServer {
        let mut child = lathe()
            .args(["registry", "serve", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lathe registry serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("lathe registry listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        RegistryServer { child, url }
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `lathe ARGS`, asserting success; returns standard output.
fn run_ok(args: &[&str]) -> String {
    let out = lathe().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "lathe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A server with no bundled connectors and its own compile cache, with an instance admin.
fn server(extra: &[&str]) -> (Server, PathBuf) {
    let cache = tempfile::tempdir().unwrap().keep();
    let cache_arg = cache.display().to_string();
    let mut args = vec!["--cache-dir", cache_arg.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start_with(&args);
    let out = server
        .store
        .admin_create(common::ADMIN_EMAIL, common::ADMIN_PASSWORD);
    assert!(out.status.success());
    (server, cache)
}

fn add_registry(admin: &Client, name: &str, url: &str, allow_unsigned: bool) -> String {
    let body = json!({ "name": name, "url": url, "allow_unsigned": allow_unsigned });
    let r = admin.post("/api/v1/registries", &body);
    r.expect_status(201);
    r.json()["id"].as_str().unwrap().to_string()
}

fn trust(admin: &Client, key: &SigningKey) {
    let body = json!({ "name": "publisher", "public_key": key.public().to_string() });
    admin.post("/api/v1/trusted-keys", &body).expect_status(201);
}

fn installed_version(admin: &Client, id: &str) -> Option<String> {
    let plugins = admin.get("/api/v1/plugins").json();
    plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["manifest"]["id"] == id)
        .map(|p| p["manifest"]["version"].as_str().unwrap().to_string())
}

fn audit_actions(admin: &Client) -> Vec<String> {
    let page = admin.get("/api/v1/audit?limit=200").json();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Cached compiled components in the server's cache directory.
fn compiled(cache: &Path) -> usize {
    std::fs::read_dir(cache)
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

#[test]
fn a_published_package_installs_only_signed_by_a_trusted_key_and_with_approval() {
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str| work.path().join(name).display().to_string();

    // The author: a key pair, a package of the rest connector, published with a token.
    let public = run_ok(&["plugin", "keygen", "--out", &w("alice")]);
    let public = public.trim().to_string();
    let package_dir = work.path().join("rest");
    std::fs::create_dir_all(&package_dir).unwrap();
    let (manifest, component) = rest_parts();
    std::fs::write(
        package_dir.join("lathe-plugin.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(package_dir.join("component.wasm"), &component).unwrap();
    let pack = |out: &str| {
        let key = w("alice.key");
        let args = [
            "plugin",
            "pack",
            &w("rest"),
            "--no-build",
            "--key",
            &key,
            "--out",
            out,
        ];
        run_ok(&args).trim().to_string()
    };
    let first_digest = pack(&w("rest-0.1.0.lpkg"));
    assert_eq!(
        first_digest,
        digest(&std::fs::read(w("rest-0.1.0.lpkg")).unwrap())
    );
    // `--out` naming a directory writes the package into it under its usual name.
    let into = work.path().join("packages");
    std::fs::create_dir_all(&into).unwrap();
    let repacked = pack(&w("packages"));
    let written = std::fs::read(into.join("rest-0.1.0.lpkg")).unwrap();
    assert_eq!(repacked, digest(&written));
    let registry_dir = work.path().join("registry");
    let token = run_ok(&["registry", "token", "--dir", &w("registry"), "alice"]);
    let registry = RegistryServer::start(&registry_dir, &[]);
    let published = run_ok(&[
        "plugin",
        "publish",
        &w("rest-0.1.0.lpkg"),
        "--registry",
        &registry.url,
        "--token",
        token.trim(),
    ]);
    assert!(published.contains(&first_digest), "{published}");

    // The admin: a registry; an untrusted signature is refused, then the key is trusted.
    let (server, _cache) = server(&["--egress-allow", "127.0.0.1"]);
    let admin = server.admin();
    assert_eq!(installed_version(&admin, "rest"), None);
    let registry_id = add_registry(&admin, "main", &registry.url, false);
    let found = admin
        .get(&format!("/api/v1/registries/{registry_id}/packages?q=REST"))
        .json();
    assert_eq!(found[0]["id"], "rest", "{found}");
    assert_eq!(
        found[0]["versions"][0]["capabilities"],
        json!(["http://{base_url}"])
    );

    let doc = admin
        .post("/api/v1/plugins", &json!({ "id": "rest" }))
        .expect_problem(422, "package-refused");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("not a trusted key"),
        "{doc}"
    );
    admin
        .post(
            "/api/v1/trusted-keys",
            &json!({ "name": "Alice", "public_key": public }),
        )
        .expect_status(201);

    // Installing needs the capabilities approved; the problem lists them.
    let doc = admin
        .post("/api/v1/plugins", &json!({ "id": "rest" }))
        .expect_problem(409, "approval-required");
    assert_eq!(doc["capabilities"], json!(["http://{base_url}"]));
    assert_eq!(installed_version(&admin, "rest"), None);
    let r = admin.post(
        "/api/v1/plugins",
        &json!({ "id": "rest", "approve_capabilities": ["http://{base_url}"] }),
    );
    r.expect_status(201);
    let view = r.json();
    assert_eq!(view["source"], "registry");
    assert_eq!(view["installed"]["package"], first_digest);
    assert_eq!(view["installed"]["publisher"], public);
    assert_eq!(
        view["installed"]["approved_capabilities"],
        json!(["http://{base_url}"])
    );

    // Usable at once: a datasource of the installed plugin.
    let ws = common::create_workspace(&admin, "Registry");
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/datasources"),
            &json!({ "name": "api", "plugin": "rest", "config": { "base_url": "http://127.0.0.1:9" } }),
        )
        .expect_status(201);

    // An update that widens the capabilities needs approval again; one that doesn't, not.
    let wider = rest_package(
        "0.2.0",
        &["http://{base_url}", "https://{base_url}"],
        Some(&SigningKey::load(Path::new(&w("alice.key"))).unwrap()),
    );
    std::fs::write(w("rest-0.2.0.lpkg"), &wider).unwrap();
    run_ok(&[
        "plugin",
        "publish",
        &w("rest-0.2.0.lpkg"),
        "--registry",
        &registry.url,
        "--token",
        token.trim(),
    ]);
    let doc = admin
        .post(
            "/api/v1/plugins",
            &json!({ "id": "rest", "approve_capabilities": ["http://{base_url}"] }),
        )
        .expect_problem(409, "approval-required");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("https://{base_url}"),
        "{doc}"
    );
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.1.0"));
    let r = admin.post(
        "/api/v1/plugins",
        &json!({ "id": "rest", "approve_capabilities": ["https://{base_url}"] }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["installed"]["version"], "0.2.0");
    assert_eq!(r.json()["installed"]["previous_version"], "0.1.0");
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.2.0"));

    // Installing what is active changes nothing; a rollback returns to 0.1.0.
    admin
        .post("/api/v1/plugins", &json!({ "id": "rest" }))
        .expect_status(200);
    let r = admin.post("/api/v1/plugins/rest/rollback", &json!({}));
    r.expect_status(200);
    assert_eq!(r.json()["installed"]["version"], "0.1.0");
    assert_eq!(
        r.json()["installed"]["approved_capabilities"],
        json!(["http://{base_url}"])
    );
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.1.0"));

    // A yanked version is neither the newest nor installable by its number.
    let yank = |undo: bool| {
        let mut args = vec![
            "plugin",
            "yank",
            "rest@0.2.0",
            "--registry",
            &registry.url,
            "--token",
            token.trim(),
        ];
        if undo {
            args.push("--undo");
        }
        run_ok(&args)
    };
    assert!(yank(false).contains("rest@0.2.0 is yanked"));
    let listed = admin
        .get(&format!("/api/v1/registries/{registry_id}/packages"))
        .json();
    assert_eq!(listed[0]["versions"][1]["yanked"], true, "{listed}");
    admin
        .post(
            "/api/v1/plugins",
            &json!({ "id": "rest", "version": "0.2.0" }),
        )
        .expect_problem(409, "conflict");
    let r = admin.post("/api/v1/plugins", &json!({ "id": "rest" }));
    r.expect_status(200);
    assert_eq!(r.json()["installed"]["version"], "0.1.0");
    assert!(yank(true).contains("rest@0.2.0 is available"));

    let actions = audit_actions(&admin);
    for action in [
        "registry.create",
        "trusted_key.create",
        "plugin.install",
        "plugin.update",
        "plugin.rollback",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[test]
fn refused_packages_leave_nothing_in_the_store_or_the_compile_cache() {
    let key = SigningKey::generate();
    let stranger = SigningKey::generate();
    let mut hand = HandRegistry::new();
    let mut unsigned_hand = HandRegistry::new();
    let (server, cache) = server(&[]);
    let admin = server.admin();
    add_registry(&admin, "signed", &hand.path(), false);
    add_registry(&admin, "open", &unsigned_hand.path(), true);
    trust(&admin, &key);
    let before = compiled(&cache);
    let approve = json!(["http://{base_url}"]);
    let attempt = |id: &str, registry: &str| {
        admin.post(
            "/api/v1/plugins",
            &json!({ "id": id, "registry": registry, "approve_capabilities": approve }),
        )
    };

    // The manifest changed after signing: the same length, so the archive stays valid.
    let good = rest_package("0.1.0", &["http://{base_url}"], Some(&key));
    let at = find(&good, b"\"REST").expect("the manifest names the connector");
    let mut tampered = good.clone();
    tampered[at + 1] = b'X';
    hand.add("rest", "0.1.0", &tampered);
    let doc = attempt("rest", "signed").expect_problem(422, "package-refused");
    assert!(
        doc["detail"].as_str().unwrap().contains("signature"),
        "{doc}"
    );

    // The component changed after signing.
    let mut tampered = good.clone();
    let at = find(&good, b"\0asm").expect("the component's magic number");
    tampered[at + 200] ^= 0x01;
    hand.add("rest", "0.1.0", &tampered);
    attempt("rest", "signed").expect_problem(422, "package-refused");

    // Signed by a key nobody trusts; unsigned where the registry wants signatures.
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], Some(&stranger)),
    );
    let doc = attempt("rest", "signed").expect_problem(422, "package-refused");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("not a trusted key"),
        "{doc}"
    );
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], None),
    );
    let doc = attempt("rest", "signed").expect_problem(422, "package-refused");
    assert!(
        doc["detail"].as_str().unwrap().contains("not signed"),
        "{doc}"
    );

    // The index says 0.1.0 but the package holds 0.2.0.
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.2.0", &["http://{base_url}"], Some(&key)),
    );
    let doc = attempt("rest", "signed").expect_problem(422, "package-refused");
    assert!(doc["detail"].as_str().unwrap().contains("0.2.0"), "{doc}");

    // Bytes that are not what the index's digest names.
    let listed = hand.add("rest", "0.1.0", &good);
    let mut other = good.clone();
    let at = find(&good, b"\"REST").unwrap();
    other[at + 2] = b'Y';
    let file = format!("{}.lpkg", listed.replace(':', "-"));
    std::fs::write(hand.dir.path().join("packages").join(file), &other).unwrap();
    attempt("rest", "signed").expect_problem(424, "registry-failed");

    // A manifest that claims the connector contract over a component that exports nothing
    // (the empty component), and a component that is not wasm at all.
    let (manifest, _) = rest_parts();
    let empty_component = b"\0asm\x0d\0\x01\0".to_vec();
    let package = Package::new(serde_json::to_vec(&manifest).unwrap(), empty_component).unwrap();
    unsigned_hand.add("rest", "0.1.0", &package.to_bytes());
    let doc = attempt("rest", "open").expect_problem(422, "package-refused");
    assert!(
        doc["detail"].as_str().unwrap().contains("lathe:connector"),
        "{doc}"
    );
    let unsigned = rest_package("0.1.0", &["http://{base_url}"], None);
    let at = find(&unsigned, b"\0asm").unwrap();
    let mut garbage = unsigned.clone();
    garbage[at..at + 8].copy_from_slice(b"not wasm");
    unsigned_hand.add("rest", "0.1.0", &garbage);
    attempt("rest", "open").expect_problem(422, "package-refused");

    // Larger than the server downloads (64 MiB).
    let mut huge = unsigned.clone();
    huge.resize(65 << 20, 0);
    unsigned_hand.add("rest", "0.1.0", &huge);
    attempt("rest", "open").expect_problem(424, "registry-failed");

    // Path tricks in the id never reach a registry.
    for id in ["../rest", "/etc/passwd", "REST", "rest/../x", ""] {
        admin
            .post("/api/v1/plugins", &json!({ "id": id }))
            .expect_problem(422, "validation");
    }

    // Nothing of any of them is installed, stored or compiled.
    assert_eq!(installed_version(&admin, "rest"), None);
    assert_eq!(
        server.store.count("SELECT COUNT(*) FROM plugin_packages"),
        0
    );
    assert_eq!(
        server.store.count("SELECT COUNT(*) FROM installed_plugins"),
        0
    );
    assert_eq!(compiled(&cache), before, "the compile cache is unchanged");

    // And the unsigned package installs from the registry that allows it.
    unsigned_hand.add("rest", "0.1.0", &unsigned);
    attempt("rest", "open").expect_status(201);
    let plugins = admin.get("/api/v1/plugins").json();
    assert!(
        plugins[0]["installed"].get("publisher").is_none(),
        "{plugins}"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn concurrent_installs_on_two_servers_end_with_one_version_active() {
    let key = SigningKey::generate();
    let mut hand = HandRegistry::new();
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], Some(&key)),
    );
    hand.add(
        "rest",
        "0.2.0",
        &rest_package("0.2.0", &["http://{base_url}"], Some(&key)),
    );
    let (first, _cache) = server(&[]);
    let admin = first.admin();
    add_registry(&admin, "main", &hand.path(), false);
    trust(&admin, &key);
    let second = first.start_beside(&[
        "--cache-dir",
        &tempfile::tempdir().unwrap().keep().display().to_string(),
    ]);
    let other = second.admin();

    let threads: Vec<_> = (0..8)
        .map(|i| {
            let client = if i % 2 == 0 {
                admin.clone()
            } else {
                other.clone()
            };
            let version = if i % 4 < 2 { "0.1.0" } else { "0.2.0" };
            std::thread::spawn(move || {
                let body = json!({
                    "id": "rest", "version": version,
                    "approve_capabilities": ["http://{base_url}"],
                });
                client.post("/api/v1/plugins", &body).status
            })
        })
        .collect();
    for t in threads {
        let status = t.join().unwrap();
        assert!(status == 200 || status == 201, "status {status}");
    }

    assert_eq!(
        first.store.count("SELECT COUNT(*) FROM installed_plugins"),
        1
    );
    let active = installed_version(&admin, "rest").expect("installed");
    assert_eq!(installed_version(&other, "rest"), Some(active.clone()));
    let packages = first.store.count("SELECT COUNT(*) FROM plugin_packages");
    assert!((1..=2).contains(&packages), "{packages} packages stored");
    let dangling = first.store.count(
        "SELECT COUNT(*) FROM installed_plugins i LEFT JOIN plugin_packages p \
         ON p.digest = i.digest WHERE p.digest IS NULL",
    );
    assert_eq!(dangling, 0);
}

#[test]
fn removing_a_plugin_in_use_needs_force_which_disables_its_datasources() {
    let mut hand = HandRegistry::new();
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], None),
    );
    let (server, _cache) = server(&["--egress-allow", "127.0.0.1"]);
    let admin = server.admin();
    add_registry(&admin, "local", &hand.path(), true);
    let install = json!({ "id": "rest", "approve_capabilities": ["http://{base_url}"] });
    admin.post("/api/v1/plugins", &install).expect_status(201);
    let ws = common::create_workspace(&admin, "Remove");
    let r = admin.post(
        &format!("/api/v1/workspaces/{ws}/datasources"),
        &json!({ "name": "api", "plugin": "rest", "config": { "base_url": "http://127.0.0.1:9" } }),
    );
    r.expect_status(201);
    let ds = r.json()["id"].as_str().unwrap().to_string();
    let ds_path = format!("/api/v1/workspaces/{ws}/datasources/{ds}");
    let preview = json!({ "operation": "request", "query": { "method": "GET", "path": "/" } });

    let doc = admin
        .delete("/api/v1/plugins/rest")
        .expect_problem(409, "conflict");
    assert!(
        doc["detail"].as_str().unwrap().contains("1 datasource"),
        "{doc}"
    );
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.1.0"));

    admin
        .delete("/api/v1/plugins/rest?force=true")
        .expect_status(204);
    assert_eq!(installed_version(&admin, "rest"), None);
    let view = admin.get(&ds_path).json();
    assert!(
        view["disabled"]
            .as_str()
            .unwrap()
            .contains("`rest` was removed"),
        "{view}"
    );

    // Enabling needs the plugin installed.
    admin
        .patch(&ds_path, &json!({ "enabled": true }))
        .expect_problem(422, "validation");

    // Installed again, the datasource stays disabled until someone enables it; other
    // changes leave the mark alone.
    admin.post("/api/v1/plugins", &install).expect_status(201);
    let r = admin.patch(&ds_path, &json!({ "name": "renamed" }));
    r.expect_status(200);
    assert!(r.json()["disabled"].is_string(), "{}", r.body);
    admin
        .post(&format!("{ds_path}/run"), &preview)
        .expect_problem(409, "conflict");
    let r = admin.patch(&ds_path, &json!({ "enabled": true }));
    r.expect_status(200);
    assert!(r.json().get("disabled").is_none());
    // Enabled, it runs: nothing listens on port 9, so the connection fails.
    let r = admin.post(&format!("{ds_path}/run"), &preview);
    assert_eq!(r.status, 424, "{}", r.body);
    assert!(audit_actions(&admin).iter().any(|a| a == "plugin.remove"));
}

#[test]
fn the_command_line_installs_from_a_registry_directory_into_the_store() {
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str| work.path().join(name).display().to_string();
    let public = run_ok(&["plugin", "keygen", "--out", &w("demo")]);
    std::fs::write(
        w("rest-0.1.0.lpkg"),
        rest_package(
            "0.1.0",
            &["http://{base_url}"],
            Some(&SigningKey::load(Path::new(&w("demo.key"))).unwrap()),
        ),
    )
    .unwrap();
    run_ok(&[
        "plugin",
        "publish",
        &w("rest-0.1.0.lpkg"),
        "--registry",
        &w("registry"),
    ]);

    let store = common::TestStore::new();
    let store_args = store.args();
    let with_store = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(store_args.iter().cloned())
            .collect()
    };
    let call = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&args)
    };
    call(with_store(&["registry", "add", "demo", &w("registry")]));
    // Running it again changes nothing.
    call(with_store(&["registry", "add", "demo", &w("registry")]));
    call(with_store(&["registry", "trust", "demo", &w("demo.pub")]));
    let listed = call(with_store(&["registry", "list"]));
    assert!(listed.contains(public.trim()), "{listed}");

    // Without --yes and without a terminal, nothing is installed.
    let args = with_store(&["plugin", "install", "rest"]);
    let out = lathe().args(&args).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("http://{base_url}"), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");

    let done = call(with_store(&["plugin", "install", "rest@0.1.0", "--yes"]));
    assert!(done.contains("installed rest@0.1.0"), "{done}");
    let listed = call(with_store(&["plugin", "list"]));
    assert!(listed.starts_with("rest@0.1.0"), "{listed}");

    // A server on that store runs it.
    let server = Server::start_on(store, &[]);
    let out = server
        .store
        .admin_create(common::ADMIN_EMAIL, common::ADMIN_PASSWORD);
    assert!(out.status.success());
    let admin = server.admin();
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.1.0"));
}

#[test]
fn the_egress_setting_governs_registry_fetches_and_refuses_metadata_addresses() {
    let key = SigningKey::generate();
    let work = tempfile::tempdir().unwrap();
    let registry_dir = work.path().join("registry");
    let token_out = lathe()
        .args(["registry", "token", "--dir"])
        .arg(&registry_dir)
        .arg("ci")
        .output()
        .unwrap();
    let token = String::from_utf8(token_out.stdout).unwrap();
    let registry = RegistryServer::start(&registry_dir, &[]);
    let package = work.path().join("rest.lpkg");
    std::fs::write(
        &package,
        rest_package("0.1.0", &["http://{base_url}"], Some(&key)),
    )
    .unwrap();
    run_ok(&[
        "plugin",
        "publish",
        &package.display().to_string(),
        "--registry",
        &registry.url,
        "--token",
        token.trim(),
    ]);

    // A fresh server reaches public addresses only: its loopback registry is refused.
    let (server, _cache) = server(&[]);
    let admin = server.admin();
    add_registry(&admin, "loopback", &registry.url, false);
    trust(&admin, &key);
    let install = json!({ "id": "rest", "approve_capabilities": ["http://{base_url}"] });
    let doc = admin
        .post("/api/v1/plugins", &install)
        .expect_problem(424, "registry-failed");
    assert!(
        doc["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{doc}"
    );

    // Metadata addresses can't be allowed; the list is refused whole and nothing changes.
    for entry in [
        "169.254.169.254",
        "169.254.0.0/16",
        "not a host!",
        "::ffff:169.254.169.254",
        "64:ff9b::/96",
        "*",
        "*.com",
        "metadata.google.internal",
    ] {
        admin
            .send(
                "PUT",
                "/api/v1/settings/egress",
                Some(&json!({ "allow": ["127.0.0.1", entry] })),
            )
            .expect_problem(422, "validation");
    }
    assert_eq!(
        admin.get("/api/v1/settings/egress").json()["allow"],
        json!([])
    );

    let r = admin.send(
        "PUT",
        "/api/v1/settings/egress",
        Some(&json!({ "allow": ["127.0.0.1"] })),
    );
    r.expect_status(200);
    assert_eq!(r.json()["allow"], json!(["127.0.0.1"]));
    admin.post("/api/v1/plugins", &install).expect_status(201);
    assert!(audit_actions(&admin).iter().any(|a| a == "settings.egress"));
}

#[test]
fn a_server_killed_mid_install_restarts_with_its_installed_plugins_and_no_partial_files() {
    let mut hand = HandRegistry::new();
    hand.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], None),
    );
    let (server, cache) = server(&[]);
    let admin = server.admin();
    add_registry(&admin, "local", &hand.path(), true);
    let install = json!({ "id": "rest", "approve_capabilities": ["http://{base_url}"] });
    admin.post("/api/v1/plugins", &install).expect_status(201);

    // A compile that a killed process left half written, from long ago.
    let partial = cache.join(".tmpAbC123");
    std::fs::write(&partial, b"half a compiled component").unwrap();
    let status = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&partial)
        .status()
        .unwrap();
    assert!(status.success());

    let cache_arg = cache.display().to_string();
    let store = server.crash();
    let server = Server::start_on(store, &["--cache-dir", &cache_arg]);
    let admin = server.admin();
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.1.0"));
    assert!(!partial.exists(), "the partial write was cleaned up");
}

#[test]
fn the_demo_registry_script_installs_the_first_party_connectors_and_runs_again() {
    let store = common::TestStore::new();
    let args = store.args();
    let run = || {
        let mut script = std::process::Command::new("bash");
        script
            .arg(root().join("scripts/demo-registry.sh"))
            .env("LATHE_BIN", env!("CARGO_BIN_EXE_lathe"))
            .env("LATHE_DATA_DIR", &args[1])
            .env_remove("LATHE_DATABASE_URL");
        if let Some(url) = args.iter().position(|a| a == "--database-url") {
            script.env("LATHE_DATABASE_URL", &args[url + 1]);
        }
        let out = script.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert!(first.contains("installed postgres@"), "{first}");
    assert!(first.contains("installed rest@"), "{first}");
    let again = run();
    assert!(again.contains("is installed already"), "{again}");

    let server = Server::start_on(store, &[]);
    let out = server
        .store
        .admin_create(common::ADMIN_EMAIL, common::ADMIN_PASSWORD);
    assert!(out.status.success());
    let admin = server.admin();
    for id in ["postgres", "rest"] {
        assert!(installed_version(&admin, id).is_some(), "{id} is installed");
    }
}

#[test]
fn the_registry_server_refuses_a_200_mb_upload_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("registry");
    let token = run_ok(&[
        "registry",
        "token",
        "--dir",
        &dir.display().to_string(),
        "big",
    ]);
    let registry = RegistryServer::start(&dir, &[]);
    let listing = |d: &Path| -> Vec<String> {
        let mut names: Vec<String> = walk(d).iter().map(|p| p.display().to_string()).collect();
        names.sort();
        names
    };
    let before = listing(&dir);
    let index_before = std::fs::read(dir.join("index.json")).unwrap();

    let body = vec![0u8; 200 << 20];
    let sent = ureq::post(&format!("{}/v1/packages", registry.url))
        .header("authorization", &format!("Bearer {}", token.trim()))
        .header("content-type", "application/octet-stream")
        .send(&body[..]);
    match sent {
        Err(ureq::Error::StatusCode(413)) => {}
        // The server may answer 413 and close before the client has sent everything.
        Err(ureq::Error::Io(_)) => {}
        other => panic!("a 200 MB package was not refused: {other:?}"),
    }
    assert_eq!(listing(&dir), before, "nothing was written");
    assert_eq!(std::fs::read(dir.join("index.json")).unwrap(), index_before);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

#[test]
fn a_package_listed_under_another_id_is_refused() {
    let key = SigningKey::generate();
    let mut hand = HandRegistry::new();
    hand.add(
        "other",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], Some(&key)),
    );
    let (server, _cache) = server(&[]);
    let admin = server.admin();
    add_registry(&admin, "main", &hand.path(), false);
    trust(&admin, &key);
    let doc = admin
        .post(
            "/api/v1/plugins",
            &json!({ "id": "other", "approve_capabilities": ["http://{base_url}"] }),
        )
        .expect_problem(422, "package-refused");
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("the package is `rest`"),
        "{doc}"
    );
    assert_eq!(installed_version(&admin, "rest"), None);
    assert_eq!(
        server.store.count("SELECT COUNT(*) FROM plugin_packages"),
        0
    );
}

#[test]
fn updates_come_from_the_installed_registry_and_a_new_publisher_needs_approval() {
    let (first_key, other_key) = (SigningKey::generate(), SigningKey::generate());
    let mut home = HandRegistry::new();
    home.add(
        "rest",
        "0.1.0",
        &rest_package("0.1.0", &["http://{base_url}"], Some(&first_key)),
    );
    let mut elsewhere = HandRegistry::new();
    elsewhere.add(
        "rest",
        "0.2.0",
        &rest_package("0.2.0", &["http://{base_url}"], Some(&other_key)),
    );
    let (server, _cache) = server(&[]);
    let admin = server.admin();
    // "aaa" sorts first: it would be asked first if updates were looked for everywhere.
    add_registry(&admin, "zzz", &home.path(), false);
    add_registry(&admin, "aaa", &elsewhere.path(), false);
    trust(&admin, &first_key);
    trust(&admin, &other_key);
    let approve = json!(["http://{base_url}"]);
    admin
        .post(
            "/api/v1/plugins",
            &json!({ "id": "rest", "registry": "zzz", "approve_capabilities": approve }),
        )
        .expect_status(201);

    // Without a registry named, the update is looked for where rest came from: nothing new.
    let r = admin.post("/api/v1/plugins", &json!({ "id": "rest" }));
    r.expect_status(200);
    assert_eq!(r.json()["installed"]["version"], "0.1.0");

    // Named, the other registry's package is by another publisher: that needs approval.
    let other = other_key.public().to_string();
    let doc = admin
        .post(
            "/api/v1/plugins",
            &json!({ "id": "rest", "registry": "aaa" }),
        )
        .expect_problem(409, "approval-required");
    assert!(doc["detail"].as_str().unwrap().contains(&other), "{doc}");
    let r = admin.post(
        "/api/v1/plugins",
        &json!({ "id": "rest", "registry": "aaa", "approve_publisher": other }),
    );
    r.expect_status(200);
    assert_eq!(r.json()["installed"]["version"], "0.2.0");

    // A rollback to a version whose key is no longer trusted is refused.
    let keys = admin.get("/api/v1/trusted-keys").json();
    let first = first_key.public().to_string();
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["public_key"] == first.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .delete(&format!("/api/v1/trusted-keys/{id}"))
        .expect_status(204);
    admin
        .post("/api/v1/plugins/rest/rollback", &json!({}))
        .expect_problem(409, "conflict");
    assert_eq!(installed_version(&admin, "rest").as_deref(), Some("0.2.0"));
}
