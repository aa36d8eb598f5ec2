//! The photo consent rule (see design.md, "Consent"). A pure function, used by
//! the device before saving (to show the audience) and by the server at every
//! read (with the consents that hold at that moment).

use crate::ChildId;
use serde::{Deserialize, Serialize};

/// Per child, set by the parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoConsent {
    /// No photos of this child.
    None,
    /// Only the child's own parents may see photos of it.
    OwnParents,
    /// The child may also appear in photos that other parents of the group see.
    Group,
}

impl PhotoConsent {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::OwnParents => "own_parents",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "own_parents" => Some(Self::OwnParents),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// A tagged child with its consent as known to the one deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentedChild {
    pub id: ChildId,
    pub consent: PhotoConsent,
}

/// Why the parents of a tagged child do not see the photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum HiddenReason {
    /// These other tagged children may be seen by their own parents only.
    OtherChildrenOwnParentsOnly { children: Vec<ChildId> },
}

/// Who may see a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "audience")]
pub enum Audience {
    /// No child tagged and not confirmed "geen kinderen herkenbaar": staff only.
    StaffOnly,
    /// Confirmed "geen kinderen herkenbaar": all parents of the group.
    WholeGroup,
    /// The parents of `visible_to` see it; the parents of each child in
    /// `hidden_from` do not, for the reason given.
    TaggedParents {
        visible_to: Vec<ChildId>,
        hidden_from: Vec<(ChildId, HiddenReason)>,
    },
    /// A tagged child has consent `none`: the photo cannot be saved.
    Refused { no_consent: Vec<ChildId> },
}

impl Audience {
    /// True when the parents of `child` may see the photo.
    pub fn visible_to_parents_of(&self, child: &ChildId) -> bool {
        match self {
            Self::TaggedParents { visible_to, .. } => visible_to.contains(child),
            Self::WholeGroup => true,
            Self::StaffOnly | Self::Refused { .. } => false,
        }
    }
}

/// Decides the audience of a photo from its tagged children and their consents.
///
/// - a tagged child with `none` refuses the photo;
/// - the parents of tagged child X see it only if every *other* tagged child has `group`;
/// - no tags: staff only, unless confirmed "geen kinderen herkenbaar" (whole group).
///
/// Tags win over the "no children recognizable" flag when both are given.
pub fn decide_audience(tagged: &[ConsentedChild], no_children_recognizable: bool) -> Audience {
    let mut seen: Vec<ConsentedChild> = Vec::with_capacity(tagged.len());
    for c in tagged {
        if !seen.iter().any(|s| s.id == c.id) {
            seen.push(*c);
        }
    }
    if seen.is_empty() {
        return if no_children_recognizable {
            Audience::WholeGroup
        } else {
            Audience::StaffOnly
        };
    }
    let no_consent: Vec<ChildId> = seen
        .iter()
        .filter(|c| c.consent == PhotoConsent::None)
        .map(|c| c.id)
        .collect();
    if !no_consent.is_empty() {
        return Audience::Refused { no_consent };
    }
    let mut visible_to = Vec::new();
    let mut hidden_from = Vec::new();
    for x in &seen {
        let blocking: Vec<ChildId> = seen
            .iter()
            .filter(|o| o.id != x.id && o.consent != PhotoConsent::Group)
            .map(|o| o.id)
            .collect();
        if blocking.is_empty() {
            visible_to.push(x.id);
        } else {
            hidden_from.push((
                x.id,
                HiddenReason::OtherChildrenOwnParentsOnly { children: blocking },
            ));
        }
    }
    Audience::TaggedParents {
        visible_to,
        hidden_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PhotoConsent::*;

    fn ids(n: usize) -> Vec<ChildId> {
        (0..n).map(|_| ChildId::new()).collect()
    }

    #[test]
    fn consent_table() {
        let c = ids(3);
        let tag = |i: usize, consent| ConsentedChild { id: c[i], consent };
        // (tags, no_children_recognizable, visible for child i?)
        let cases: Vec<(Vec<ConsentedChild>, bool, Audience)> = vec![
            (vec![], false, Audience::StaffOnly),
            (vec![], true, Audience::WholeGroup),
            (
                vec![tag(0, None)],
                false,
                Audience::Refused {
                    no_consent: vec![c[0]],
                },
            ),
            (
                vec![tag(0, OwnParents)],
                false,
                Audience::TaggedParents {
                    visible_to: vec![c[0]],
                    hidden_from: vec![],
                },
            ),
            (
                vec![tag(0, Group), tag(1, Group)],
                true,
                Audience::TaggedParents {
                    visible_to: vec![c[0], c[1]],
                    hidden_from: vec![],
                },
            ),
            (
                vec![tag(0, Group), tag(1, OwnParents), tag(2, Group)],
                false,
                Audience::TaggedParents {
                    visible_to: vec![c[1]],
                    hidden_from: vec![
                        (
                            c[0],
                            HiddenReason::OtherChildrenOwnParentsOnly {
                                children: vec![c[1]],
                            },
                        ),
                        (
                            c[2],
                            HiddenReason::OtherChildrenOwnParentsOnly {
                                children: vec![c[1]],
                            },
                        ),
                    ],
                },
            ),
            (
                vec![tag(0, OwnParents), tag(1, OwnParents)],
                false,
                Audience::TaggedParents {
                    visible_to: vec![],
                    hidden_from: vec![
                        (
                            c[0],
                            HiddenReason::OtherChildrenOwnParentsOnly {
                                children: vec![c[1]],
                            },
                        ),
                        (
                            c[1],
                            HiddenReason::OtherChildrenOwnParentsOnly {
                                children: vec![c[0]],
                            },
                        ),
                    ],
                },
            ),
            (
                vec![tag(0, Group), tag(1, None)],
                false,
                Audience::Refused {
                    no_consent: vec![c[1]],
                },
            ),
            // a child tagged twice counts once
            (
                vec![tag(0, OwnParents), tag(0, OwnParents)],
                false,
                Audience::TaggedParents {
                    visible_to: vec![c[0]],
                    hidden_from: vec![],
                },
            ),
        ];
        for (i, (tags, nocr, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide_audience(&tags, nocr), want, "case {i}");
        }
    }

    #[test]
    fn visibility_helper() {
        let c = ids(2);
        let a = decide_audience(
            &[
                ConsentedChild {
                    id: c[0],
                    consent: Group,
                },
                ConsentedChild {
                    id: c[1],
                    consent: OwnParents,
                },
            ],
            false,
        );
        assert!(!a.visible_to_parents_of(&c[0]));
        assert!(a.visible_to_parents_of(&c[1]));
        assert!(Audience::WholeGroup.visible_to_parents_of(&c[0]));
        assert!(!Audience::StaffOnly.visible_to_parents_of(&c[0]));
    }
}
