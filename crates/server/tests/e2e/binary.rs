//! The real `keyway` binary, as a newcomer runs it: `keyway serve` on the embedded default with
//! no other service, both ports up, state in the data directory, clean exit on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Serve {
    child: Child,
    api: String,
    gateway: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(data_dir: &std::path::Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args([
            "serve",
            "--api-addr",
            "127.0.0.1:0",
            "--gateway-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_REDIS_URL")
        .env_remove("KEYWAY_CLICKHOUSE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url_after = |line: &str, label: &str| {
        line.strip_prefix(label)
            .map(|rest| rest.trim().trim_end_matches("/v1").to_owned())
    };
    let (mut api, mut gateway) = (None, None);
    while api.is_none() || gateway.is_none() {
        let line = lines
            .next()
            .expect("keyway serve exited before printing its URLs")
            .unwrap();
        api = api.or_else(|| url_after(&line, "Keyway dashboard and API:"));
        gateway = gateway.or_else(|| url_after(&line, "Keyway gateway:"));
    }
    Serve {
        child,
        api: api.unwrap(),
        gateway: gateway.unwrap(),
    }
}

#[tokio::test]
async fn serve_runs_the_embedded_default_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = start(dir.path());
    for base in [&serve.api, &serve.gateway] {
        let resp = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(resp.status(), 200, "{base}");
        let ready: serde_json::Value = reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["status"], "ready", "{ready}");
    }
    // The dashboard is served on the API port.
    let page = reqwest::get(format!("{}/", serve.api)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Keyway"));

    for file in ["keyway.db", "analytics.db", "master.key"] {
        assert!(
            dir.path().join(file).exists(),
            "{file} missing from the data dir"
        );
    }

    let pid = serve.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "keyway did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn restart_keeps_the_generated_master_key() {
    let dir = tempfile::tempdir().unwrap();
    drop(start(dir.path()));
    let first = std::fs::read(dir.path().join("master.key")).unwrap();
    drop(start(dir.path()));
    assert_eq!(std::fs::read(dir.path().join("master.key")).unwrap(), first);
}

#[test]
fn bad_settings_fail_fast_with_the_offending_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["serve", "--data-dir", "/nonexistent-never-used"])
        .env("KEYWAY_REDIS_URL", "http://wrong-scheme")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("redis.url"), "{stderr}");
}

#[test]
fn migrate_creates_the_embedded_databases_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .arg("migrate")
            .arg("--data-dir")
            .arg(dir.path())
            .env("KEYWAY_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("keyway.db").exists());
    assert!(dir.path().join("analytics.db").exists());
}

#[test]
fn admin_commands_seed_an_org_a_provider_and_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let admin = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("UPSTREAM_KEY", "sk-upstream-secret-9876")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, org_id, _) = admin(&["create-org", "acme"]);
    assert!(ok && uuid::Uuid::parse_str(&org_id).is_ok(), "{org_id}");
    let (ok, _, err) = admin(&[
        "add-provider",
        "--org",
        "acme",
        "--slug",
        "openai-prod",
        "--kind",
        "openai",
        "--api-key-env",
        "UPSTREAM_KEY",
    ]);
    assert!(ok, "{err}");
    let (ok, key, _) = admin(&["issue-key", "--org", "acme"]);
    assert!(
        ok && key.starts_with("kw-") && !key.contains('\n'),
        "stdout must be exactly the key: {key}"
    );
    let (ok, _, err) = admin(&["issue-key", "--org", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
    let (ok, _, err) = admin(&[
        "add-provider",
        "--org",
        "acme",
        "--slug",
        "x",
        "--kind",
        "openai",
        "--api-key-env",
        "MISSING_VAR_XYZ",
    ]);
    assert!(!ok && err.contains("MISSING_VAR_XYZ"), "{err}");
    // The provider key never reaches a log line.
    assert!(!err.contains("sk-upstream-secret-9876"));
}

fn admin(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyway"));
    cmd.arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_MASTER_KEY")
        .env("KEYWAY_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "keyway admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_stored_secrets() {
    use keyway_domain::{OrgId, Slug};
    use keyway_store::{Database, MasterKey};
    let dir = tempfile::tempdir().unwrap();
    let org_id = admin(dir.path(), &["create-org", "acme"], &[]);
    admin(
        dir.path(),
        &[
            "add-provider",
            "--org",
            "acme",
            "--slug",
            "openai",
            "--kind",
            "openai",
            "--api-key-env",
            "ROTATION_TEST_KEY",
        ],
        &[("ROTATION_TEST_KEY", "sk-rotation-test-0123456789")],
    );
    let old_text = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let out = admin(dir.path(), &["rotate-master-key"], &[]);
    assert!(
        out.trim().is_empty(),
        "a data-dir key is written to its file, never printed"
    );
    let new_text = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert_ne!(old_text, new_text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let db = Database::connect(
        &format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("keyway.db").display()
        ),
        1,
    )
    .await
    .unwrap();
    let org = OrgId::from_uuid(org_id.trim().parse().unwrap());
    let slug = Slug::parse("openai").unwrap();
    let new = MasterKey::from_base64(&new_text).unwrap();
    let old = MasterKey::from_base64(&old_text).unwrap();
    let secret = db.credential_secret(org, &slug, &new).await.unwrap();
    assert_eq!(secret.expose(), "sk-rotation-test-0123456789");
    assert!(
        db.credential_secret(org, &slug, &old).await.is_err(),
        "the old key no longer opens it"
    );
    let listed = db.list_credentials(org).await.unwrap();
    assert_eq!(listed[0].master_key_id, new.id());
}
