//! Running the real `lathe` binary as a command (`lathe plugin run`, `lathe plugin new`) and
//! reading what it printed, for the connector tests.

use std::path::PathBuf;

use super::connectors::root;

/// What a run of the binary left behind.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts success and parses stdout as JSON.
    pub fn success(self) -> serde_json::Value {
        assert_eq!(
            self.code,
            Some(0),
            "expected success:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts success and returns stdout as text.
    pub fn success_text(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "expected success:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    /// Asserts failure with nothing on stdout, and returns stderr.
    pub fn failure(self) -> String {
        assert_eq!(
            self.code,
            Some(1),
            "expected failure:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "a failure printed a result: {}",
            self.stdout
        );
        self.stderr
    }
}

/// Runs `lathe` with `args` from the workspace root.
pub async fn lathe(args: &[&str]) -> Outcome {
    lathe_with_env(args, &[]).await
}

/// Runs `lathe` with `args` and extra environment variables.
pub async fn lathe_with_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(args)
        .current_dir(root())
        .env("LATHE_CACHE_DIR", cache)
        .env_remove("LATHE_EGRESS_ALLOW")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("running lathe");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `lathe plugin run PATH --config … --query … --inputs …`.
pub async fn lathe_plugin_run(path: &str, config: &str, query: &str, inputs: &str) -> Outcome {
    lathe(&[
        "plugin", "run", path, "--config", config, "--query", query, "--inputs", inputs,
    ])
    .await
}
