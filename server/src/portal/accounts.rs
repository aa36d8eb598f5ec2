//! The portal's data: accounts.

use kring_protocol::{OrganisationId, ParentId, StaffId};

/// Who is logged in: a parent or a staff member (location manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Parent,
    Staff,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Staff => "staff",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "parent" => Some(Self::Parent),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

/// A portal account of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub kind: UserKind,
    pub id: uuid::Uuid,
    pub org: OrganisationId,
    pub name: String,
    pub email: String,
    pub must_change_password: bool,
    /// A staff member with role `manager` (the only staff who log in here).
    pub is_manager: bool,
}

impl Account {
    pub fn parent_id(&self) -> Option<ParentId> {
        (self.kind == UserKind::Parent).then_some(ParentId(self.id))
    }
    pub fn manager_id(&self) -> Option<StaffId> {
        (self.kind == UserKind::Staff && self.is_manager).then_some(StaffId(self.id))
    }
}

/// An organisation reached by its host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: OrganisationId,
    pub slug: String,
    pub name: String,
    /// The organisation's calendar: "today" for its parents and managers.
    pub calendar: kring_protocol::Calendar,
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    crate::org::verify_secret_in(hash, password, &mut crate::org::Argon2Memory::default())
}

/// Spends about the time of a real verification, for unknown addresses.
pub fn verify_dummy(password: &str, memory: &mut crate::org::Argon2Memory) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| crate::org::hash_secret("kring-dummy-password").ok());
    if let Some(h) = hash {
        let _ = crate::org::verify_secret_in(h, password, memory);
    }
}
