//! E-mail notifications to parents when the group sends something: a message,
//! a diary entry, a photo. Per parent and kind of item the parent chooses e-mail
//! on or off ("Notificaties"). Recipients are decided with the same rules as
//! reading ([`crate::portal`]): a parent who may not see a photo is not told
//! about it. A new news post or newsletter reaches the parents who may read
//! it and kept "Nieuws" on ([`spawn_news`]). Mails carry no child data beyond a first name, and no photo.

use crate::AppState;
use crate::portal::i18n::{Lang, Tr};
use crate::portal::mail::Mail;
use kring_protocol::{DiaryEntryId, MessageId, ParentId, PhotoId};

/// Something the group sent that parents may hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Message(MessageId),
    Diary(DiaryEntryId),
    Photo(PhotoId),
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Diary(_) => "diary",
            Self::Photo(_) => "photo",
        }
    }
}

/// The origin parents of `slug` reach the portal at, e.g. `https://zonnebloem.ouderportaal.nl`.
pub fn portal_origin(settings: &crate::settings::Settings, slug: &str) -> String {
    let scheme = if settings.portal.secure_cookies {
        "https"
    } else {
        "http"
    };
    // Keep an explicit port of the public URL (local use: `:8080`).
    let port = settings
        .http
        .public_url
        .rsplit_once(':')
        .map(|(_, p)| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{slug}.{}{port}", settings.portal.base_domain)
}

/// Who hears about an event: the group's organisation (its slug, for the
/// portal link), the group's name and the parents to mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    pub slug: String,
    pub group_name: String,
    pub parents: Vec<Recipient>,
}

/// A parent who wants e-mail for an event and may see it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub parent: ParentId,
    pub name: String,
    pub email: String,
    /// The language of the parent's mails: their saved portal language.
    pub lang: Lang,
}

/// The mails for `event` to `to` (no database work, no sending).
pub fn mails_for(event: Event, to: &Recipients, origin: &str) -> Vec<Mail> {
    let group_name = &to.group_name;
    to.parents
        .iter()
        .map(|p| {
            let t = Tr::new(p.lang);
            let (subject, what, link) = match event {
                Event::Message(id) => (
                    t.f("Nieuw bericht van groep {0}", group_name),
                    t.s("een nieuw bericht gestuurd"),
                    format!("{origin}/berichten/bericht/{id}"),
                ),
                Event::Diary(id) => (
                    t.f("Nieuw in het dagboek van groep {0}", group_name),
                    t.s("iets in het dagboek geschreven"),
                    format!("{origin}/dagboek/{id}"),
                ),
                Event::Photo(id) => (
                    t.f("Nieuwe foto van groep {0}", group_name),
                    t.s("een nieuwe foto gedeeld"),
                    format!("{origin}/fotos/{id}"),
                ),
            };
            Mail {
                to: p.email.clone(),
                subject,
                body: t.f3(
                    "Beste {0},\n\nGroep {1} heeft {2}.\nBekijk het in het ouderportaal (na inloggen):\n",
                    &p.name,
                    group_name,
                    what,
                ) + &link
                    + t.s("\n\nU krijgt deze e-mail omdat e-mail aan staat bij Notificaties in het ouderportaal.\n"),
            }
        })
        .collect()
}

/// Works out and sends the mails for `event` in the background.
pub fn spawn(state: &AppState, event: Event) {
    let state = state.clone();
    tokio::spawn(async move {
        let settings = state.settings.clone();
        let recipients = state
            .store
            .notification_recipients(event, chrono::Utc::now())
            .await;
        match recipients {
            Ok(None) => {}
            Ok(Some(to)) => {
                let origin = portal_origin(&settings, &to.slug);
                for mail in mails_for(event, &to, &origin) {
                    if let Err(e) = state.mailer.send(mail).await {
                        tracing::warn!(error = %e, ?event, "notification mail failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, ?event, "could not work out notification mails"),
        }
    });
}

/// Who hears about a news post: parents who may read it and want e-mail for
/// news ("Nieuws" on the Notificaties page, on unless switched off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsRecipients {
    pub slug: String,
    pub kind: crate::portal::news::NewsKind,
    pub title: String,
    pub parents: Vec<Recipient>,
}

/// The mails about news post `id` (no database work, no sending). The title
/// is the manager's own words; the text stays in the portal.
pub fn news_mails(id: &str, to: &NewsRecipients, origin: &str) -> Vec<Mail> {
    let title: String = to.title.chars().filter(|c| !c.is_control()).collect();
    to.parents
        .iter()
        .map(|p| {
            let t = Tr::new(p.lang);
            let what = match to.kind {
                crate::portal::news::NewsKind::Nieuws => t.s("Nieuw bericht"),
                crate::portal::news::NewsKind::Nieuwsbrief => t.s("Nieuwe nieuwsbrief"),
            };
            Mail {
                to: p.email.clone(),
                subject: format!("{what}: {title}"),
                body: t.f3(
                    "Beste {0},\n\n{1} van de opvang: \"{2}\".\nLees het in het ouderportaal (na inloggen):\n",
                    &p.name,
                    what,
                    &title,
                ) + &format!("{origin}/nieuws/{id}")
                    + t.s("\n\nU krijgt deze e-mail omdat e-mail bij Nieuws aan staat bij Notificaties in het ouderportaal.\n"),
            }
        })
        .collect()
}

/// Works out and sends the mails about a new news post in the background.
pub fn spawn_news(state: &AppState, id: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let recipients = state
            .store
            .news_recipients(id.clone(), chrono::Utc::now())
            .await;
        match recipients {
            Ok(None) => {}
            Ok(Some(to)) => {
                let origin = portal_origin(&state.settings, &to.slug);
                let mails = news_mails(&id, &to, &origin);
                tracing::info!(news = %id, mails = mails.len(), "news notification mails");
                for mail in mails {
                    if let Err(e) = state.mailer.send(mail).await {
                        tracing::warn!(error = %e, news = %id, "news notification mail failed");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, news = %id, "could not work out news notification mails")
            }
        }
    });
}

/// A decision on a parent's request, for the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The child's first name (nothing more about the child).
    pub child: String,
    pub day: chrono::NaiveDate,
    /// What was asked for.
    pub what: DecisionWhat,
    pub approved: bool,
}

/// What a decided request asked for; in words in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionWhat {
    ExtraDay {
        part: kring_protocol::PartOfDay,
        payment: crate::portal::agenda::Payment,
    },
    Vacation {
        part: kring_protocol::PartOfDay,
        hours: u32,
    },
}

impl DecisionWhat {
    /// "een extra dag (hele dag, betaald)", "vakantieopvang (ochtend, 4 uur)",
    /// in the current language.
    pub fn words(self) -> String {
        use crate::portal::agenda::part_words;
        let t = Tr::current();
        match self {
            Self::ExtraDay { part, payment } => t.f2(
                "een extra dag ({0}, {1})",
                part_words(part),
                payment.words(),
            ),
            Self::Vacation { part, hours } => t.f2(
                "vakantieopvang ({0}, {1})",
                part_words(part),
                crate::portal::agenda::hours_words(hours.into()),
            ),
        }
    }
}

/// The mails telling the child's parents about a decision (no database
/// work, no sending), each in the parent's own language. Plain words; no
/// photo, no detail beyond the first name.
pub fn decision_mails(d: &Decision, to: &[Recipient], origin: &str) -> Vec<Mail> {
    let child: String = d.child.chars().filter(|c| !c.is_control()).collect();
    to.iter()
        .map(|p| {
            crate::portal::i18n::scope_sync(Tr::new(p.lang), || {
                let t = Tr::current();
                let day = crate::portal::agenda::long_day(d.day);
                let what = d.what.words();
                let (subject, line) = if d.approved {
                    (
                        t.f3("Goedgekeurd: {0} voor {1} op {2}", &what, &child, &day),
                        t.f3(
                            "De locatie heeft uw aanvraag goedgekeurd: {0} voor {1} op {2}.",
                            &what,
                            &child,
                            &day,
                        ) + " "
                            + &t.f("{0} wordt die dag verwacht.", &child),
                    )
                } else {
                    (
                        t.f3("Afgewezen: {0} voor {1} op {2}", &what, &child, &day),
                        t.f3(
                            "De locatie heeft uw aanvraag afgewezen: {0} voor {1} op {2}.",
                            &what,
                            &child,
                            &day,
                        ) + " "
                            + t.s("Er is niets van uw tegoed of vakantie-uren afgegaan."),
                    )
                };
                Mail {
                    to: p.email.clone(),
                    subject,
                    body: t.f2(
                        "Beste {0},\n\n{1}\n\nBekijk uw agenda in het ouderportaal (na inloggen):\n",
                        &p.name,
                        line,
                    ) + &format!("{origin}/agenda\n"),
                }
            })
        })
        .collect()
}

/// Tells the child's parents about a decision, in the background.
pub fn spawn_decision(state: &AppState, child: kring_protocol::ChildId, decision: Decision) {
    let state = state.clone();
    tokio::spawn(async move {
        match state.store.decision_recipients(child).await {
            Ok(None) => {}
            Ok(Some((slug, to))) => {
                let origin = portal_origin(&state.settings, &slug);
                for mail in decision_mails(&decision, &to, &origin) {
                    if let Err(e) = state.mailer.send(mail).await {
                        tracing::warn!(error = %e, child = %child, "decision mail failed");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, child = %child, "could not work out decision mails")
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parent_gets_mail_in_their_own_language() {
        let to = Recipients {
            slug: "zonnebloem".into(),
            group_name: "Dolfijnen".into(),
            parents: [("Anne", Lang::Nl), ("Ben", Lang::En)]
                .into_iter()
                .map(|(name, lang)| Recipient {
                    parent: ParentId(uuid::Uuid::now_v7()),
                    name: name.into(),
                    email: format!("{}@example.nl", name.to_lowercase()),
                    lang,
                })
                .collect(),
        };
        let id = MessageId(uuid::Uuid::now_v7());
        let mails = mails_for(Event::Message(id), &to, "http://x");
        assert_eq!(mails[0].subject, "Nieuw bericht van groep Dolfijnen");
        assert!(
            mails[0]
                .body
                .starts_with("Beste Anne,\n\nGroep Dolfijnen heeft een nieuw bericht gestuurd.")
        );
        assert!(
            mails[0]
                .body
                .contains(&format!("http://x/berichten/bericht/{id}\n\nU krijgt"))
        );
        assert_eq!(mails[1].subject, "New message from group Dolfijnen");
        assert!(
            mails[1]
                .body
                .starts_with("Dear Ben,\n\nGroup Dolfijnen has sent a new message."),
            "{}",
            mails[1].body
        );
        assert!(
            mails[1]
                .body
                .contains(&format!("http://x/berichten/bericht/{id}\n\nYou get"))
        );
    }

    #[test]
    fn a_decision_mail_says_what_and_when_in_plain_dutch() {
        let to = vec![Recipient {
            parent: kring_protocol::ParentId::new(),
            name: "Sanne".into(),
            email: "sanne@example.nl".into(),
            lang: Lang::Nl,
        }];
        let d = Decision {
            child: "Sem".into(),
            day: chrono::NaiveDate::from_ymd_opt(2027, 1, 6).expect("date"),
            what: DecisionWhat::Vacation {
                part: kring_protocol::PartOfDay::Morning,
                hours: 4,
            },
            approved: false,
        };
        let m = decision_mails(&d, &to, "https://test.example");
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].subject,
            "Afgewezen: vakantieopvang (ochtend, 4 uur) voor Sem op woensdag 6 januari 2027"
        );
        assert!(
            m[0].body.contains("https://test.example/agenda"),
            "{}",
            m[0].body
        );
        assert!(m[0].body.starts_with("Beste Sanne,"));
    }

    #[test]
    fn a_decision_mail_comes_in_each_parents_language() {
        let to: Vec<Recipient> = [("Sanne", Lang::Nl), ("Sam", Lang::En)]
            .into_iter()
            .map(|(name, lang)| Recipient {
                parent: kring_protocol::ParentId::new(),
                name: name.into(),
                email: format!("{}@example.nl", name.to_lowercase()),
                lang,
            })
            .collect();
        let d = Decision {
            child: "Sem".into(),
            day: chrono::NaiveDate::from_ymd_opt(2027, 1, 6).expect("date"),
            what: DecisionWhat::ExtraDay {
                part: kring_protocol::PartOfDay::WholeDay,
                payment: crate::portal::agenda::Payment::Credit,
            },
            approved: true,
        };
        let m = decision_mails(&d, &to, "https://test.example");
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].subject,
            "Goedgekeurd: een extra dag (hele dag, van tegoed) voor Sem op woensdag 6 januari 2027"
        );
        assert!(
            m[0].body.contains("Sem wordt die dag verwacht."),
            "{}",
            m[0].body
        );
        assert!(m[1].subject.starts_with("Approved: "), "{}", m[1].subject);
        assert!(
            m[1].subject.contains("Wednesday 6 January 2027"),
            "{}",
            m[1].subject
        );
        assert!(m[1].body.starts_with("Dear Sam,"), "{}", m[1].body);
        assert!(m[1].body.contains("https://test.example/agenda"));
        assert!(!m[1].body.contains("tegoed"), "{}", m[1].body);
    }

    #[test]
    fn origin_keeps_the_port_and_the_scheme() {
        let mut s = crate::settings::Settings::default();
        s.http.public_url = "http://127.0.0.1:8080".into();
        assert_eq!(
            portal_origin(&s, "zonnebloem"),
            "http://zonnebloem.localhost:8080"
        );
        s.http.public_url = "https://kring.example.nl".into();
        s.portal.base_domain = "ouderportaal.nl".into();
        s.portal.secure_cookies = true;
        assert_eq!(portal_origin(&s, "kober"), "https://kober.ouderportaal.nl");
    }
}
