//! Turning an [`OutgoingEmail`] into a lettre [`Message`], and finding the link the outbox logs.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};

use crate::{MailerError, OutgoingEmail};

/// Parses `address` as a mailbox; `role` names it in the error (`sender` or `recipient`).
pub(crate) fn parse_mailbox(role: &'static str, address: &str) -> Result<Mailbox, MailerError> {
    address
        .trim()
        .parse()
        .map_err(|source| MailerError::InvalidAddress {
            role,
            address: address.to_owned(),
            source,
        })
}

pub(crate) fn build(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, MailerError> {
    let to = parse_mailbox("recipient", &email.to)?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.as_str())
        .message_id(None);
    let message = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone()),
    }?;
    Ok(message)
}

/// The first `http://` or `https://` link in `text`, without the sentence punctuation or
/// closing bracket that often follows a link in prose.
pub(crate) fn first_link(text: &str) -> Option<&str> {
    let start = match (text.find("https://"), text.find("http://")) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
        .unwrap_or(rest.len());
    let link = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
    // A bare scheme is not a link anyone can follow.
    (!link.ends_with("//")).then_some(link)
}

#[cfg(test)]
mod tests {
    use super::first_link;

    #[test]
    fn finds_the_first_link_and_drops_trailing_punctuation() {
        let text = "Welcome!\n\nVerify here: https://app.example.com/verify?token=abc_123.\n\
                    Or visit http://example.com later.";
        assert_eq!(
            first_link(text),
            Some("https://app.example.com/verify?token=abc_123")
        );
        assert_eq!(
            first_link("(see http://localhost:3000/reset#t=1) thanks"),
            Some("http://localhost:3000/reset#t=1")
        );
        assert_eq!(
            first_link("<https://a.example/x>"),
            Some("https://a.example/x")
        );
    }

    #[test]
    fn no_link_means_none() {
        assert_eq!(
            first_link("no links here, only ftp://x and mailto:a@b"),
            None
        );
        assert_eq!(first_link("just a scheme https:// and nothing"), None);
    }
}
