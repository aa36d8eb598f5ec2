//! Outgoing e-mail through `lettre`: an SMTP server in production, or `.eml`
//! files in a folder (the demo and the tests, which read the folder). Never
//! a real mail server unless `mail.smtp_url` is set.

use crate::settings::Settings;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid e-mail address {0:?}")]
    Address(String),
    #[error("could not build the e-mail: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("invalid mail.smtp_url: {0}")]
    SmtpUrl(String),
    #[error("sending through SMTP failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("writing the mail file failed: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("cannot create the mail folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the mail task failed: {0}")]
    Join(String),
}

/// One plain-text mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
enum Transportation {
    Smtp(Box<SmtpTransport>),
    Folder(FileTransport),
}

/// Sends mail. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Arc<Transportation>,
    describe: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &self.describe)
            .finish()
    }
}

impl Mailer {
    /// SMTP when `mail.smtp_url` is set, else `.eml` files in the mail folder.
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|_| MailError::Address(settings.mail.from.clone()))?;
        let (transport, describe) = match &settings.mail.smtp_url {
            Some(url) => (
                Transportation::Smtp(Box::new(
                    SmtpTransport::from_url(url)
                        .map_err(|e| MailError::SmtpUrl(e.to_string()))?
                        .build(),
                )),
                "smtp".to_string(),
            ),
            None => {
                let path = settings.mail_folder();
                std::fs::create_dir_all(&path).map_err(|source| MailError::Folder {
                    path: path.clone(),
                    source,
                })?;
                let describe = format!("folder {}", path.display());
                (Transportation::Folder(FileTransport::new(path)), describe)
            }
        };
        Ok(Self {
            from,
            transport: Arc::new(transport),
            describe,
        })
    }

    /// Builds the message (errors for a bad address come back at once).
    pub fn build(&self, mail: &Mail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| MailError::Address(mail.to.clone()))?;
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())?)
    }

    /// Sends one mail (blocking IO on the blocking pool).
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        let transport = self.transport.clone();
        tokio::task::spawn_blocking(move || match transport.as_ref() {
            Transportation::Smtp(t) => t.send(&message).map(|_| ()).map_err(MailError::from),
            Transportation::Folder(t) => t.send(&message).map(|_| ()).map_err(MailError::from),
        })
        .await
        .map_err(|e| MailError::Join(e.to_string()))?
    }

    /// Sends in the background; failures are logged, never shown to the user
    /// (a reset request must not reveal whether an address exists).
    pub fn send_later(&self, mail: Mail) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let subject = mail.subject.clone();
            if let Err(e) = mailer.send(mail).await {
                tracing::warn!(error = %e, subject = %subject, "could not send an e-mail");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn folder_transport_writes_an_eml_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::default();
        settings.mail.folder = Some(dir.path().join("mail"));
        let mailer = Mailer::from_settings(&settings).expect("mailer");
        mailer
            .send(Mail {
                to: "anne@example.nl".into(),
                subject: "Nieuw bericht".into(),
                body: "Hallo Anne".into(),
            })
            .await
            .expect("send");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .expect("read")
            .filter_map(Result::ok)
            .collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).expect("eml");
        assert!(text.contains("To: anne@example.nl"), "{text}");
        assert!(text.contains("Hallo Anne"));
    }

    #[test]
    fn a_bad_address_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::default();
        settings.mail.folder = Some(dir.path().to_path_buf());
        let mailer = Mailer::from_settings(&settings).expect("mailer");
        let err = mailer.build(&Mail {
            to: "not an address".into(),
            subject: "x".into(),
            body: "y".into(),
        });
        assert!(matches!(err, Err(MailError::Address(_))));
    }
}
