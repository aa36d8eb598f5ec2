//! Typed ids. Every id is a UUID; ids minted by the device or the server for
//! new items are UUIDv7 (time-ordered), minted once when the item is created.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_newtype {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new UUIDv7 id (time-ordered). Mint it once, when the thing is created.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    )*};
}

id_newtype! {
    /// An organisation (tenant).
    OrganisationId;
    /// A location (building) of an organisation.
    LocationId;
    /// A group room.
    GroupId;
    /// A child.
    ChildId;
    /// A parent or carer.
    ParentId;
    /// A staff member (pedagogisch medewerker, manager).
    StaffId;
    /// An enrolled group-room device.
    DeviceId;
    /// A photo.
    PhotoId;
    /// A diary entry (by staff or by a parent).
    DiaryEntryId;
    /// A message in a child's thread or to the whole group.
    MessageId;
    /// A read receipt.
    ReadReceiptId;
    /// A reported absence.
    AbsenceId;
    /// A resumable upload.
    UploadId;
    /// A release of the appliance: one uploaded, signed RAUC bundle.
    ReleaseId;
    /// An attendance event (a child or staff member in or out, a break, an undo).
    AttendanceId;
}
