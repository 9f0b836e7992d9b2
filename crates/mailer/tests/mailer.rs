//! The mailer as its callers see it: .eml files in the outbox, and real SMTP deliveries.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail loudly on purpose"
)]

// The test SMTP server is the one keyway-testkit exports; it is compiled in from its source
// because keyway-testkit depends (through the server) on this crate.
#[path = "../../testkit/src/smtp.rs"]
mod smtp;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyway_mailer::{Mailer, MailerError, OutgoingEmail};
use mailparse::{MailHeaderMap, ParsedMail};

use crate::smtp::SmtpSink;
use crate::support::CapturedLogs;

const FROM: &str = "Keyway <no-reply@keyway.test>";
const LINK: &str = "https://app.keyway.test/verify-email?token=Zm9vYmFyYmF6cXV4cXV1eF9sb25nX2Vub3VnaF90b19iZV93cmFwcGVkX2J5X3FwX2VuY29kaW5n";

fn verification_email(html: bool) -> OutgoingEmail {
    OutgoingEmail {
        to: "Ada Lovelace <ada@example.com>".to_owned(),
        subject: "Vérifiez votre adresse — Keyway".to_owned(),
        text: format!(
            "Hello Ada,\r\n\r\nConfirm your address: {LINK}.\r\n\r\nSee also https://keyway.test/docs\r\n"
        ),
        html: html.then(|| {
            format!("<p>Hello Ada,</p><p><a href=\"{LINK}\">Confirm your address</a></p>")
        }),
    }
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

fn header(mail: &ParsedMail<'_>, name: &str) -> String {
    mail.headers
        .get_first_value(name)
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// The single mailbox of an address header, as (display name, address).
fn mailbox(mail: &ParsedMail<'_>, name: &str) -> (String, String) {
    let header = mail.headers.get_first_header(name).unwrap();
    let list = mailparse::addrparse_header(header).unwrap();
    let info = list.clone().extract_single_info();
    let info = info.unwrap_or_else(|| panic!("{name} is not a single mailbox: {list:?}"));
    (info.display_name.unwrap_or_default(), info.addr)
}

/// Bodies come back with CRLF and the encoder's trailing newline; compare the text itself.
fn body(part: &ParsedMail<'_>) -> String {
    part.get_body()
        .unwrap()
        .replace("\r\n", "\n")
        .trim_end()
        .to_owned()
}

fn assert_is_the_verification_email(mail: &ParsedMail<'_>, html: bool) {
    let sent = verification_email(html);
    let pair = |name: &str, addr: &str| (name.to_owned(), addr.to_owned());
    assert_eq!(
        mailbox(mail, "From"),
        pair("Keyway", "no-reply@keyway.test")
    );
    assert_eq!(mailbox(mail, "To"), pair("Ada Lovelace", "ada@example.com"));
    assert_eq!(header(mail, "Subject"), sent.subject);
    assert!(header(mail, "Message-ID").contains('@'));
    assert!(!header(mail, "Date").is_empty());
    let expected_text = sent.text.replace("\r\n", "\n").trim_end().to_owned();
    match sent.html {
        None => {
            assert_eq!(mail.ctype.mimetype, "text/plain");
            assert_eq!(body(mail), expected_text);
        }
        Some(expected_html) => {
            assert_eq!(mail.ctype.mimetype, "multipart/alternative");
            let types: Vec<&str> = mail
                .subparts
                .iter()
                .map(|p| p.ctype.mimetype.as_str())
                .collect();
            assert_eq!(types, ["text/plain", "text/html"]);
            assert_eq!(body(&mail.subparts[0]), expected_text);
            assert_eq!(body(&mail.subparts[1]), expected_html);
        }
    }
}

#[tokio::test]
async fn outbox_writes_one_parseable_eml_per_message() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("data").join("outbox");
    let mailer = Mailer::new(None, FROM, &outbox).unwrap();
    assert_eq!(mailer.describe(), format!("outbox:{}", outbox.display()));

    mailer.send(&verification_email(false)).await.unwrap();
    mailer.send(&verification_email(true)).await.unwrap();

    let files = eml_files(&outbox);
    assert_eq!(files.len(), 2, "expected exactly two files, got {files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "eml"))
    );
    // Names sort in sending order: the plain message first, then the multipart one.
    for (file, html) in files.iter().zip([false, true]) {
        let raw = std::fs::read(file).unwrap();
        let mail = mailparse::parse_mail(&raw).unwrap();
        assert_is_the_verification_email(&mail, html);
    }
}

#[tokio::test]
async fn outbox_logs_the_file_and_the_first_link_of_the_text() {
    let (logs, _guard) = CapturedLogs::install();
    let tmp = tempfile::tempdir().unwrap();
    let mailer = Mailer::new(None, FROM, tmp.path()).unwrap();

    mailer.send(&verification_email(true)).await.unwrap();

    let files = eml_files(tmp.path());
    assert_eq!(files.len(), 1);
    let logged = logs.text();
    let line = logged
        .lines()
        .find(|line| line.contains(" INFO ") && line.contains("outbox"))
        .unwrap_or_else(|| panic!("no info line about the outbox in:\n{logged}"));
    assert!(line.contains(&files[0].display().to_string()), "{line}");
    assert!(line.contains(&format!("link={LINK}")), "{line}");
    assert!(
        !line.contains("keyway.test/docs"),
        "only the first link is logged: {line}"
    );
}

#[tokio::test]
async fn smtp_delivers_the_message_intact_to_a_real_server() {
    let sink = SmtpSink::start().unwrap();
    let mailer = Mailer::new(Some(&sink.url()), FROM, Path::new("/nonexistent")).unwrap();
    assert_eq!(mailer.describe(), sink.url());

    mailer.send(&verification_email(false)).await.unwrap();
    mailer.send(&verification_email(true)).await.unwrap();

    let received = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(sink.messages(), received);
    for (email, html) in received.iter().zip([false, true]) {
        assert_eq!(email.from, "no-reply@keyway.test");
        assert_eq!(email.recipients, ["ada@example.com"]);
        let mail = mailparse::parse_mail(email.data.as_bytes()).unwrap();
        assert_is_the_verification_email(&mail, html);
    }
}

#[tokio::test]
async fn header_injection_through_the_subject_adds_no_recipient() {
    let sink = SmtpSink::start().unwrap();
    let mailer = Mailer::new(Some(&sink.url()), FROM, Path::new("/nonexistent")).unwrap();
    let mut email = verification_email(false);
    email.subject = "Hello\r\nBcc: mallory@evil.test".to_owned();

    mailer.send(&email).await.unwrap();

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].recipients, ["ada@example.com"]);
    let mail = mailparse::parse_mail(received[0].data.as_bytes()).unwrap();
    assert!(
        mail.headers.get_first_value("Bcc").is_none(),
        "{}",
        received[0].data
    );
}

#[tokio::test]
async fn invalid_addresses_are_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();

    let err = Mailer::new(None, "not an address", tmp.path()).unwrap_err();
    assert!(
        matches!(err, MailerError::InvalidAddress { role: "sender", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("invalid sender address \"not an address\""),
        "{err}"
    );

    let mailer = Mailer::new(None, FROM, tmp.path()).unwrap();
    for bad in ["", "ada", "ada@", "@example.com", "Ada <ada@example.com"] {
        let mut email = verification_email(false);
        email.to = bad.to_owned();
        let err = mailer.send(&email).await.unwrap_err();
        assert!(
            matches!(
                err,
                MailerError::InvalidAddress {
                    role: "recipient",
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("invalid recipient address {bad:?}")),
            "{err}"
        );
    }
    assert!(
        eml_files(tmp.path()).is_empty(),
        "nothing may be written for a refused message"
    );
}

#[tokio::test]
async fn ping_checks_the_outbox_directory_is_writable() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let mailer = Mailer::new(None, FROM, &outbox).unwrap();
    mailer.ping().await.unwrap();
    assert!(outbox.is_dir(), "ping creates the outbox");
    assert!(eml_files(&outbox).is_empty(), "ping leaves nothing behind");

    // A file where the directory should be (root ignores permission bits, so use this instead).
    let blocked = tmp.path().join("blocked");
    std::fs::write(&blocked, b"").unwrap();
    let mailer = Mailer::new(None, FROM, &blocked).unwrap();
    let err = mailer.ping().await.unwrap_err();
    assert!(matches!(err, MailerError::Outbox { .. }), "{err:?}");
    let err = mailer.send(&verification_email(false)).await.unwrap_err();
    assert!(matches!(err, MailerError::Outbox { .. }), "{err:?}");
}

#[tokio::test]
async fn ping_checks_the_smtp_server_answers() {
    let sink = SmtpSink::start().unwrap();
    let mailer = Mailer::new(Some(&sink.url()), FROM, Path::new("/nonexistent")).unwrap();
    mailer.ping().await.unwrap();

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{closed_port}");
    let mailer = Mailer::new(Some(&url), FROM, Path::new("/nonexistent")).unwrap();
    let err = mailer.ping().await.unwrap_err();
    assert!(matches!(err, MailerError::Smtp { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("SMTP server {url}:")),
        "{err}"
    );
}

#[tokio::test]
async fn smtp_credentials_never_show_in_debug_describe_errors_or_logs() {
    let (logs, _guard) = CapturedLogs::install();
    let sink = SmtpSink::start().unwrap();
    let port = sink.url().rsplit(':').next().unwrap().to_owned();
    let password = "hunter2-Sup3rSecret";
    let url = format!("smtp://mailer%40keyway.test:{password}@127.0.0.1:{port}?tls=opportunistic");

    let mailer = Mailer::new(Some(&url), FROM, Path::new("/nonexistent")).unwrap();
    assert_eq!(
        mailer.describe(),
        format!("smtp://127.0.0.1:{port}?tls=opportunistic")
    );
    let debug = format!("{mailer:?}");
    assert!(debug.contains(&mailer.describe()), "{debug}");

    // The sink offers no AUTH, so lettre has to give up with the credentials in hand.
    let err = mailer.send(&verification_email(false)).await.unwrap_err();
    assert!(matches!(err, MailerError::Smtp { .. }), "{err:?}");
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    tracing::error!(error = %err, "send failed"); // what a caller would log
    for shown in [debug, mailer.describe(), chain, logs.text()] {
        assert!(!shown.contains(password), "password leaked: {shown}");
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn smtp_urls_are_validated_without_echoing_them() {
    let tmp = tempfile::tempdir().unwrap();
    for url in [
        "not a url",
        "http://user:hunter2@mail.example.com",
        "smtp://user:hunter2@mail.example.com?tls=sometimes",
        "smtp://",
    ] {
        let err = Mailer::new(Some(url), FROM, tmp.path()).unwrap_err();
        assert!(
            matches!(err, MailerError::InvalidSmtpUrl { .. }),
            "{url}: {err:?}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    for (url, described) in [
        ("smtp://mail.example.com", "smtp://mail.example.com:25"),
        (
            "smtp://mail.example.com?tls=required",
            "smtp://mail.example.com:587?tls=required",
        ),
        (
            "smtps://u:p@mail.example.com",
            "smtps://mail.example.com:465",
        ),
        (
            "smtps://mail.example.com:2465",
            "smtps://mail.example.com:2465",
        ),
    ] {
        let mailer = Mailer::new(Some(url), FROM, tmp.path()).unwrap();
        assert_eq!(mailer.describe(), described);
    }
}

#[test]
fn an_smtp_mailer_outside_a_runtime_is_an_error_not_a_panic() {
    let err = Mailer::new(
        Some("smtp://127.0.0.1:2525"),
        FROM,
        Path::new("/nonexistent"),
    )
    .unwrap_err();
    assert!(matches!(err, MailerError::NoRuntime), "{err:?}");
}
