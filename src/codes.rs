//! The Slint enums of `ui/codes.slint` from (and to) the domain's types: the
//! one place each code crosses between Rust and Slint.

use crate as ui;
use kring_protocol as p;
use kring_sync::decide::Reason;
use kring_sync::store as s;

impl From<&p::Audience> for ui::AudienceKind {
    fn from(a: &p::Audience) -> Self {
        match a {
            p::Audience::StaffOnly => Self::StaffOnly,
            p::Audience::WholeGroup => Self::WholeGroup,
            p::Audience::TaggedParents { .. } => Self::TaggedParents,
            p::Audience::Refused { .. } => Self::Refused,
        }
    }
}

impl From<p::PhotoConsent> for ui::PhotoConsent {
    fn from(c: p::PhotoConsent) -> Self {
        match c {
            p::PhotoConsent::None => Self::NoPhotos,
            p::PhotoConsent::OwnParents => Self::OwnParents,
            p::PhotoConsent::Group => Self::Group,
        }
    }
}

impl From<p::AbsenceReason> for ui::AbsenceReason {
    fn from(r: p::AbsenceReason) -> Self {
        match r {
            p::AbsenceReason::Ziek => Self::Sick,
            p::AbsenceReason::Vakantie => Self::Holiday,
            p::AbsenceReason::Anders => Self::Other,
        }
    }
}

impl From<p::PartOfDay> for ui::PartOfDay {
    fn from(d: p::PartOfDay) -> Self {
        match d {
            p::PartOfDay::WholeDay => Self::WholeDay,
            p::PartOfDay::Morning => Self::Morning,
            p::PartOfDay::Afternoon => Self::Afternoon,
        }
    }
}

impl From<s::ItemKind> for ui::ItemKind {
    fn from(k: s::ItemKind) -> Self {
        match k {
            s::ItemKind::Photo => Self::Photo,
            s::ItemKind::Diary => Self::Diary,
            s::ItemKind::Message => Self::Message,
            s::ItemKind::ReadReceipt => Self::ReadReceipt,
            s::ItemKind::Attendance => Self::Attendance,
        }
    }
}

/// How far an outbox item got; `sending` when the engine says it sends it now.
pub fn sync_state(state: &s::ItemState, sending: bool) -> ui::SyncState {
    match state {
        s::ItemState::Waiting if sending => ui::SyncState::Sending,
        s::ItemState::Waiting => ui::SyncState::Waiting,
        s::ItemState::Sent => ui::SyncState::Sent,
        s::ItemState::Wedged { .. } => ui::SyncState::NeedsAttention,
    }
}

/// Why an item is not sent, in the UI's words (`Words.sync-reason`).
pub fn sync_reason(w: &ui::Words<'_>, r: &Reason) -> slint::SharedString {
    let none = slint::SharedString::default;
    let (code, status, detail) = match r {
        Reason::NoConnection { .. } => (ui::SyncReason::NoConnection, 0, none()),
        Reason::ServerBusy => (ui::SyncReason::ServerBusy, 0, none()),
        Reason::ServerError { status } => (ui::SyncReason::ServerError, *status, none()),
        Reason::UpdateNeeded { status, message } => {
            (ui::SyncReason::UpdateNeeded, *status, message.into())
        }
        Reason::Refused { status, message } => (
            ui::SyncReason::Refused,
            *status,
            message.as_deref().unwrap_or_default().into(),
        ),
        Reason::Unreadable { .. } => (ui::SyncReason::Unreadable, 0, none()),
        Reason::PhotoGone => (ui::SyncReason::PhotoGone, 0, none()),
        Reason::Text { text } => (ui::SyncReason::Text, 0, text.into()),
    };
    w.invoke_sync_reason(code, i32::from(status), detail)
}

impl From<p::NappyKind> for ui::NappyKind {
    fn from(k: p::NappyKind) -> Self {
        match k {
            p::NappyKind::Droog => Self::Dry,
            p::NappyKind::Nat => Self::Wet,
            p::NappyKind::Poep => Self::Dirty,
        }
    }
}

impl From<ui::AbsenceReason> for p::AbsenceReason {
    fn from(r: ui::AbsenceReason) -> Self {
        match r {
            ui::AbsenceReason::Sick => Self::Ziek,
            ui::AbsenceReason::Holiday => Self::Vakantie,
            ui::AbsenceReason::Other => Self::Anders,
        }
    }
}

impl From<ui::NappyKind> for p::NappyKind {
    fn from(k: ui::NappyKind) -> Self {
        match k {
            ui::NappyKind::Dry => Self::Droog,
            ui::NappyKind::Wet => Self::Nat,
            ui::NappyKind::Dirty => Self::Poep,
        }
    }
}

impl From<p::Mood> for ui::Mood {
    fn from(m: p::Mood) -> Self {
        match m {
            p::Mood::Blij => Self::Happy,
            p::Mood::Rustig => Self::Calm,
            p::Mood::Moe => Self::Tired,
            p::Mood::Huilerig => Self::Tearful,
        }
    }
}

impl From<ui::Mood> for p::Mood {
    fn from(m: ui::Mood) -> Self {
        match m {
            ui::Mood::Happy => Self::Blij,
            ui::Mood::Calm => Self::Rustig,
            ui::Mood::Tired => Self::Moe,
            ui::Mood::Tearful => Self::Huilerig,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_go_both_ways() {
        for k in [p::NappyKind::Droog, p::NappyKind::Nat, p::NappyKind::Poep] {
            assert_eq!(p::NappyKind::from(ui::NappyKind::from(k)), k);
        }
        for m in [
            p::Mood::Blij,
            p::Mood::Rustig,
            p::Mood::Moe,
            p::Mood::Huilerig,
        ] {
            assert_eq!(p::Mood::from(ui::Mood::from(m)), m);
        }
        for r in [
            p::AbsenceReason::Ziek,
            p::AbsenceReason::Vakantie,
            p::AbsenceReason::Anders,
        ] {
            assert_eq!(p::AbsenceReason::from(ui::AbsenceReason::from(r)), r);
        }
        assert_eq!(
            sync_state(&s::ItemState::Waiting, true),
            ui::SyncState::Sending
        );
        assert_eq!(
            sync_state(&s::ItemState::Sent, true),
            ui::SyncState::Sent,
            "only a waiting item is being sent"
        );
    }
}
