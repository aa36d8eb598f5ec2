//! Berichten: threads per child with the parents, unread first; reading sends
//! a read receipt; a message to all parents of the group.

use super::Screen;
use super::{model, s};
use crate::Page;
use crate::Words;
use crate::app::Ctx;
use crate::{AppWindow, MessageRow, MessagesAdapter, ThreadRow};
use kring_protocol::{ChildId, MessageAuthor, MessageThread, PushItem};
use kring_sync::store::{ItemKind, ItemState};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;

pub const GROUP_THREAD: &str = "group";

/// Berichten's own state: the open thread.
#[derive(Debug, Default)]
pub struct MessagesScreen {
    /// The open thread: a child's id or [`GROUP_THREAD`].
    open_thread: RefCell<Option<String>>,
}

impl Screen for MessagesScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Messages]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        self.refresh(ctx);
    }
    fn clear(&self, ctx: &Ctx) {
        *self.open_thread.borrow_mut() = None;
        let Some(ui) = ctx.ui() else { return };
        let m = ui.global::<MessagesAdapter>();
        m.set_threads(model(vec![]));
        m.set_messages(model(vec![]));
        m.set_open_id("".into());
        m.set_open_title("".into());
        m.set_draft("".into());
    }
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let screen = Rc::new(MessagesScreen::default());
    let m = ui.global::<MessagesAdapter>();
    m.on_open_thread({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            *screen.open_thread.borrow_mut() = Some(id.to_string());
            mark_read(&ctx, &id);
            screen.refresh(&ctx);
        }
    });
    m.on_close_thread({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            *screen.open_thread.borrow_mut() = None;
            screen.refresh(&ctx);
        }
    });
    m.on_send({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.send(&ctx);
        }
    });
    screen
}

fn thread_of(id: &str) -> Option<MessageThread> {
    if id == GROUP_THREAD {
        return Some(MessageThread::Group);
    }
    id.parse::<ChildId>()
        .ok()
        .map(|child_id| MessageThread::Child { child_id })
}

/// Reading a thread sends a read receipt for each unread parent message.
fn mark_read(ctx: &Rc<Ctx>, id: &str) {
    let Some(thread) = thread_of(id) else { return };
    let mut any = false;
    for m in ctx.read("messages", ctx.store.messages()) {
        if m.thread == thread
            && matches!(m.author, MessageAuthor::Parent { .. })
            && m.read_by_group_at.is_none()
            && let Ok(Some(_)) = ctx.store.save_read_receipt(m.id, ctx.staff_id(), ctx.now())
        {
            any = true;
        }
    }
    if any {
        ctx.saved();
    }
}

fn read_locally(ctx: &Ctx) -> std::collections::HashSet<uuid::Uuid> {
    ctx.read("recent_items", ctx.store.recent_items(500))
        .into_iter()
        .filter(|i| i.kind == ItemKind::ReadReceipt)
        .filter_map(|i| match ctx.store.readable(&i.id) {
            Ok(Some(PushItem::ReadReceipt(r))) => Some(r.message_id.0),
            _ => None,
        })
        .collect()
}

impl MessagesScreen {
    fn refresh(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        if ctx.staff.borrow().is_none() {
            return;
        }
        let m = ui.global::<MessagesAdapter>();
        let w = ui.global::<Words>();
        let messages = ctx.read("messages", ctx.store.messages());
        let read = read_locally(ctx);
        let kids = ctx.read("children", ctx.store.children());
        let group_title = ui.global::<Words>().invoke_all_parents().to_string();
        let calendar = ctx.calendar();
        let mut threads: Vec<ThreadRow> = Vec::new();
        let unread_in = |t: &MessageThread| {
            messages
                .iter()
                .filter(|m| {
                    m.thread == *t
                        && matches!(m.author, MessageAuthor::Parent { .. })
                        && m.read_by_group_at.is_none()
                        && !read.contains(&m.id.0)
                })
                .count() as i32
        };
        let last_in = |t: &MessageThread| {
            messages
                .iter()
                .rev()
                .find(|m| m.thread == *t)
                .map(|m| m.body.clone())
                .unwrap_or_default()
        };
        for c in &kids {
            let t = MessageThread::Child { child_id: c.id };
            if messages.iter().any(|m| m.thread == t) {
                threads.push(ThreadRow {
                    id: s(c.id.to_string()),
                    title: s(format!("{} {}", c.first_name, c.last_name)),
                    last: s(last_in(&t)),
                    unread: unread_in(&t),
                });
            }
        }
        threads.sort_by(|a, b| b.unread.cmp(&a.unread).then(a.title.cmp(&b.title)));
        threads.push(ThreadRow {
            id: s(GROUP_THREAD),
            title: s(group_title.clone()),
            last: s(last_in(&MessageThread::Group)),
            unread: 0,
        });
        m.set_threads(model(threads));
        let open = self.open_thread.borrow().clone();
        match open
            .as_deref()
            .and_then(|id| thread_of(id).map(|t| (id.to_string(), t)))
        {
            Some((id, thread)) => {
                let title = match thread {
                    MessageThread::Group => group_title.to_string(),
                    MessageThread::Child { child_id } => kids
                        .iter()
                        .find(|c| c.id == child_id)
                        .map(|c| format!("{} {}", c.first_name, c.last_name))
                        .unwrap_or_default(),
                };
                let mut rows: Vec<MessageRow> = messages
                    .iter()
                    .filter(|m| m.thread == thread)
                    .map(|msg| {
                        let (author, mine) = match &msg.author {
                            MessageAuthor::Parent { name, .. } => (name.clone(), false),
                            MessageAuthor::Staff { name, .. } => (name.clone(), true),
                        };
                        MessageRow {
                            author: s(author),
                            body: s(msg.body.clone()),
                            time: super::hhmm(&calendar, &msg.sent_at),
                            mine,
                            read_text: if !mine
                                && (msg.read_by_group_at.is_some() || read.contains(&msg.id.0))
                            {
                                w.invoke_message_read()
                            } else {
                                s("")
                            },
                        }
                    })
                    .collect();
                // messages saved here that the feed has not brought back yet
                for item in ctx
                    .read("recent_items", ctx.store.recent_items(100))
                    .into_iter()
                    .rev()
                {
                    if item.kind != ItemKind::Message || item.state == ItemState::Sent {
                        continue;
                    }
                    if let Ok(Some(PushItem::Message(sm))) = ctx.store.readable(&item.id)
                        && sm.thread == thread
                    {
                        rows.push(MessageRow {
                            author: s(ctx
                                .staff
                                .borrow()
                                .as_ref()
                                .map(|st| st.name.clone())
                                .unwrap_or_default()),
                            body: s(sm.body),
                            time: super::hhmm(&calendar, &item.created_at),
                            mine: true,
                            read_text: w.invoke_not_sent_yet(),
                        });
                    }
                }
                m.set_open_id(s(id));
                m.set_open_title(s(title));
                m.set_messages(model(rows));
            }
            None => {
                m.set_open_id("".into());
                m.set_messages(model(vec![]));
            }
        }
    }

    fn send(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let m = ui.global::<MessagesAdapter>();
        let body = m.get_draft().to_string();
        let Some(thread) = self.open_thread.borrow().as_deref().and_then(thread_of) else {
            return;
        };
        if body.trim().is_empty() {
            return;
        }
        match ctx
            .store
            .save_message(thread, &body, ctx.staff_id(), ctx.now())
        {
            Ok(_) => {
                m.set_draft("".into());
                m.set_saved_message(ui.global::<Words>().invoke_saved());
                ctx.saved();
                self.refresh(ctx);
            }
            Err(e) => m.set_saved_message(s(e.to_string())),
        }
    }
}
