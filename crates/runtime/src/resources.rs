//! Per-process handle tables and the reference-counted objects behind them.
//!
//! The model (design rule 2): a *handle* is a small integer in one process's
//! [`ResourceTable`]; it names an `Arc` of a host object (a socket, a file, a pipe end, a
//! future). The handle is a capability: no other process can name it. The object lives as
//! long as anything refers to it — a handle in any process, a stream or future derived from
//! it, a message in flight, a host pump — and the OS resource (file descriptor, bound port,
//! advisory lock) is released exactly when the last reference goes, by the object's `Drop`.
//!
//! Handles are never reused within a process: a handle that was dropped or moved away
//! stays invalid, so a stale handle can never reach a newer object.
//!
//! Handles travel in messages. Sending *moves* them: [`ResourceTable::detach`] takes them
//! out of the sender's table into an outbox that the next message (or spawn) carries; the
//! receiver's [`ResourceTable::claim`] installs them in its own table while it decodes the
//! message. Resources of a message nobody receives, or that the receiver does not claim,
//! are dropped with it.
//!
//! Any `Send + Sync + 'static` type can be a resource: warren's own (`crate::io`) and an
//! embedder's share one table, each checked by type on every access.
//!
//! What the host holds for a resource (a WebSocket's messages) can be charged to the process
//! holding its handle: the table keeps that process's *accounts* ([`ResourceTable::account`],
//! one per type, kept across hibernation), and a resource declaring the [`ChargedToHolder`]
//! interface is told of the table it moves into, so its charge follows its handle.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A handle: an index into one process's resource table.
pub type Handle = u32;

/// Most handles one process may hold at once.
pub const MAX_HANDLES: usize = 1 << 16;

/// Told of every handle a table gains or gives up, by kind (the observer's count of a
/// process's handles). Handles moving out in a message count as given up when the message
/// takes them.
pub trait HandleCensus: Send + Sync {
    /// A handle of `kind` was added.
    fn opened(&self, kind: &'static str);
    /// A handle of `kind` was removed.
    fn closed(&self, kind: &'static str);
}

/// An interface of a resource whose host-held bytes are charged to the process holding its
/// handle: told, when it moves into a process's table, to charge that table's account.
pub(crate) trait ChargedToHolder: Send + Sync {
    /// The resource was claimed into `table`.
    fn moved_to(&self, table: &mut ResourceTable);
}

/// A reference to a host object, of any type, with the name of its kind for error messages
/// and the interfaces it offers.
///
/// An *interface* is a trait object the resource can be used through, declared when it is
/// made: a socket is `dyn ReadSource` and `dyn WriteSink`, a listener is `dyn ReadReady`
/// (see `io::handles`). Calls that take "anything readable" ask for the interface, not for a
/// list of concrete types, so an embedder's own resources work with warren's `read`, `write`,
/// `copy` and `select` by declaring the same interfaces.
#[derive(Clone)]
pub struct Resource {
    object: Arc<dyn Any + Send + Sync>,
    kind: &'static str,
    /// Each an `Arc<I>` for an interface `I`, itself in an `Arc` as `Any`; shared by clones.
    interfaces: Arc<[Arc<dyn Any + Send + Sync>]>,
}

impl Resource {
    /// Wrap an object. `kind` names it in errors ("tcp-stream", "file", ...).
    pub fn new<T: Any + Send + Sync>(kind: &'static str, object: Arc<T>) -> Self {
        Resource {
            object,
            kind,
            interfaces: Arc::new([]),
        }
    }

    /// Declare that the resource can be used through interface `I` (a trait object type such
    /// as `dyn ReadSource`), given as the same object viewed as `I`.
    pub fn with<I: ?Sized + Send + Sync + 'static>(mut self, interface: Arc<I>) -> Self {
        let mut all: Vec<Arc<dyn Any + Send + Sync>> = self.interfaces.to_vec();
        all.push(Arc::new(interface));
        self.interfaces = all.into();
        self
    }

    /// The resource as interface `I`, if it declared it.
    pub fn interface<I: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<I>> {
        self.interfaces
            .iter()
            .find_map(|i| i.downcast_ref::<Arc<I>>().cloned())
    }

    /// The name of its kind, e.g. "tcp-stream".
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The object, if it is a `T`.
    pub fn downcast<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.object.clone().downcast::<T>().ok()
    }

    /// Whether two resources are the same object.
    pub fn same(&self, other: &Resource) -> bool {
        Arc::ptr_eq(&self.object, &other.object)
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resource({})", self.kind)
    }
}

impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        self.same(other)
    }
}

impl Eq for Resource {}

/// Why a handle could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Not open (never opened, dropped, or sent away): `ERR_BAD_HANDLE`.
    #[error("handle {0} is not open in this process (never opened, dropped, or sent away)")]
    NoSuchHandle(Handle),
    /// Of another kind than the call takes: `ERR_WRONG_HANDLE`.
    #[error("handle {handle} is a {found}, expected {expected}")]
    WrongKind {
        /// The handle.
        handle: Handle,
        /// What the call takes.
        expected: &'static str,
        /// The kind it is.
        found: &'static str,
    },
    /// Listed twice in one message: `ERR_BAD_HANDLE`.
    #[error("handle {0} is listed twice in one message")]
    Duplicate(Handle),
    /// The process holds as many handles as it may: `ERR_TOO_MANY_HANDLES`.
    #[error("the process holds as many handles as it may")]
    TooMany,
    /// No such resource in the last message: `ERR_BAD_HANDLE`.
    #[error("this message carries no resource #{0} (or it was already claimed)")]
    NotInMessage(u32),
}

/// One process's handles, plus the resources of the message it is sending and of the one it
/// last received.
///
/// Every resource the process holds counts against its handle limit: open handles, those
/// detached for a message not sent yet, and those of the last received message not claimed
/// yet. So detaching handles and never sending them cannot be used to hold more.
pub struct ResourceTable {
    next: Handle,
    max: usize,
    entries: HashMap<Handle, Resource>,
    /// Detached for the next outgoing message or spawn.
    /// Detached for the next message, with the handle each had (to put them back).
    outbox: Vec<(Handle, Resource)>,
    /// Carried by the last received message (or the spawn captures), until claimed.
    inbox: Vec<Option<Resource>>,
    /// Told of handles added and removed (the observer's count).
    census: Option<std::sync::Arc<dyn HandleCensus>>,
    /// The process's accounts, one per type (see [`ResourceTable::account`]).
    accounts: Vec<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for ResourceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceTable")
            .field("next", &self.next)
            .field("max", &self.max)
            .field("entries", &self.entries)
            .field("outbox", &self.outbox)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl Default for ResourceTable {
    fn default() -> Self {
        ResourceTable::with_limit(MAX_HANDLES)
    }
}

impl ResourceTable {
    /// An empty table with the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table holding at most `max` resources.
    pub fn with_limit(max: usize) -> Self {
        ResourceTable {
            next: 0,
            max,
            entries: HashMap::new(),
            outbox: Vec::new(),
            inbox: Vec::new(),
            census: None,
            accounts: Vec::new(),
        }
    }

    /// The process's account of type `A` (what the host holds for its resources of one
    /// kind), made by `make` on first use. Accounts stay with the table (across
    /// hibernation); resources charged to one keep it alive.
    pub fn account<A: Any + Send + Sync>(&mut self, make: impl FnOnce() -> Arc<A>) -> Arc<A> {
        for a in &self.accounts {
            if let Ok(a) = a.clone().downcast::<A>() {
                return a;
            }
        }
        let a = make();
        self.accounts.push(a.clone());
        a
    }

    /// Tell `census` of every handle added or removed from now on.
    pub fn with_census(mut self, census: std::sync::Arc<dyn HandleCensus>) -> Self {
        self.census = Some(census);
        self
    }

    fn opened(&self, kind: &'static str) {
        if let Some(c) = &self.census {
            c.opened(kind);
        }
    }

    fn closed(&self, kind: &'static str) {
        if let Some(c) = &self.census {
            c.closed(kind);
        }
    }

    /// Resources held: open handles, detached ones not sent yet, received ones not claimed.
    pub fn held(&self) -> usize {
        self.entries.len() + self.outbox.len() + self.inbox.iter().flatten().count()
    }

    /// Whether one more resource fits.
    pub fn has_room(&self) -> bool {
        self.held() < self.max
    }

    /// Install a resource; returns its new handle.
    pub fn push(&mut self, resource: Resource) -> Result<Handle, HandleError> {
        if self.held() >= self.max {
            return Err(HandleError::TooMany);
        }
        // Handles are never reused; 2^32 handles in one process's life is out of reach, but
        // running out is an error, not a wrap-around onto live handles.
        self.next = self.next.checked_add(1).ok_or(HandleError::TooMany)?;
        self.opened(resource.kind);
        self.entries.insert(self.next, resource);
        Ok(self.next)
    }

    /// The resource behind `handle`.
    pub fn get(&self, handle: Handle) -> Result<&Resource, HandleError> {
        self.entries
            .get(&handle)
            .ok_or(HandleError::NoSuchHandle(handle))
    }

    /// The object behind `handle`, which must be a `T` (named `expected` in the error).
    pub fn get_as<T: Any + Send + Sync>(
        &self,
        handle: Handle,
        expected: &'static str,
    ) -> Result<Arc<T>, HandleError> {
        let r = self.get(handle)?;
        r.downcast::<T>().ok_or(HandleError::WrongKind {
            handle,
            expected,
            found: r.kind,
        })
    }

    /// Remove a handle; the object lives on if something else refers to it.
    pub fn remove(&mut self, handle: Handle) -> Result<Resource, HandleError> {
        let r = self
            .entries
            .remove(&handle)
            .ok_or(HandleError::NoSuchHandle(handle))?;
        self.closed(r.kind);
        Ok(r)
    }

    /// Move `handles` into the outbox, all or none: if one is invalid or repeated, nothing
    /// changes.
    pub fn detach(&mut self, handles: &[Handle]) -> Result<(), HandleError> {
        for (i, h) in handles.iter().enumerate() {
            self.get(*h)?;
            if handles[..i].contains(h) {
                return Err(HandleError::Duplicate(*h));
            }
        }
        for h in handles {
            if let Some(r) = self.entries.remove(h) {
                self.outbox.push((*h, r));
            }
        }
        Ok(())
    }

    /// The resources detached for the next message, in order, without taking them.
    pub fn outbox(&self) -> Vec<&Resource> {
        self.outbox.iter().map(|(_, r)| r).collect()
    }

    /// Put the detached resources back under their handles (the message was refused).
    pub fn restore_outbox(&mut self) {
        for (h, r) in std::mem::take(&mut self.outbox) {
            self.entries.insert(h, r);
        }
    }

    /// The resources detached for the message being sent (empty for most messages).
    pub fn take_outbox(&mut self) -> Vec<Resource> {
        if self.outbox.is_empty() {
            return Vec::new();
        }
        let out: Vec<Resource> = std::mem::take(&mut self.outbox)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        for r in &out {
            self.closed(r.kind);
        }
        out
    }

    /// The handles detached for the next message, in the order [`ResourceTable::take_outbox`]
    /// gives their resources.
    pub fn outbox_handles(&self) -> Vec<Handle> {
        self.outbox.iter().map(|(h, _)| *h).collect()
    }

    /// Detach again, under `handles`, the `resources` of a message that was handed back
    /// unsent (a full mailbox): the next send carries them, or
    /// [`ResourceTable::restore_outbox`] puts them back in the table.
    pub fn reattach_outbox(&mut self, handles: Vec<Handle>, resources: Vec<Resource>) {
        for (h, r) in handles.into_iter().zip(resources) {
            self.opened(r.kind);
            self.outbox.push((h, r));
        }
    }

    /// Whether handles are detached for the next message.
    pub fn has_outbox(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Set the resources of the message just received; unclaimed ones of the previous
    /// message are dropped.
    pub fn set_inbox(&mut self, resources: Vec<Resource>) {
        if self.inbox.is_empty() && resources.is_empty() {
            return;
        }
        self.inbox.clear();
        self.inbox.extend(resources.into_iter().map(Some));
    }

    /// Install resource `index` of the last received message; returns its handle.
    pub fn claim(&mut self, index: u32) -> Result<Handle, HandleError> {
        let slot = self
            .inbox
            .get_mut(index as usize)
            .ok_or(HandleError::NotInMessage(index))?;
        let r = slot.take().ok_or(HandleError::NotInMessage(index))?;
        if let Some(charged) = r.interface::<dyn ChargedToHolder>() {
            charged.moved_to(self);
        }
        // Moving from the inbox to the table does not change what the process holds.
        self.next = self.next.checked_add(1).ok_or(HandleError::TooMany)?;
        self.opened(r.kind);
        self.entries.insert(self.next, r);
        Ok(self.next)
    }

    /// How many handles are open.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drop every handle, the outbox and the inbox (the process is ending).
    pub fn clear(&mut self) {
        for r in self
            .entries
            .values()
            .chain(self.outbox.iter().map(|(_, r)| r))
        {
            self.closed(r.kind);
        }
        self.entries.clear();
        self.outbox.clear();
        self.inbox.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing(u32);

    #[test]
    fn handles_are_typed_and_never_reused() {
        let mut t = ResourceTable::new();
        let a = t.push(Resource::new("thing", Arc::new(Thing(1)))).unwrap();
        assert_eq!(t.get_as::<Thing>(a, "thing").unwrap().0, 1);
        assert_eq!(
            t.get_as::<String>(a, "string").unwrap_err(),
            HandleError::WrongKind {
                handle: a,
                expected: "string",
                found: "thing"
            }
        );
        t.remove(a).unwrap();
        let b = t.push(Resource::new("thing", Arc::new(Thing(2)))).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.get(a).unwrap_err(), HandleError::NoSuchHandle(a));
    }

    #[test]
    fn detach_is_all_or_nothing_and_claim_moves_once() {
        let obj = Arc::new(Thing(7));
        let mut sender = ResourceTable::new();
        let a = sender.push(Resource::new("thing", obj.clone())).unwrap();
        assert_eq!(sender.detach(&[a, 99]), Err(HandleError::NoSuchHandle(99)));
        assert_eq!(sender.detach(&[a, a]), Err(HandleError::Duplicate(a)));
        assert_eq!(sender.len(), 1);
        sender.detach(&[a]).unwrap();
        assert!(sender.is_empty());
        let carried = sender.take_outbox();
        assert_eq!(Arc::strong_count(&obj), 2);

        let mut receiver = ResourceTable::new();
        receiver.set_inbox(carried);
        let h = receiver.claim(0).unwrap();
        assert_eq!(receiver.get_as::<Thing>(h, "thing").unwrap().0, 7);
        assert_eq!(receiver.claim(0), Err(HandleError::NotInMessage(0)));
        // Unclaimed resources go with the next message.
        receiver.set_inbox(vec![Resource::new("thing", obj.clone())]);
        receiver.set_inbox(Vec::new());
        assert_eq!(Arc::strong_count(&obj), 2);
        receiver.clear();
        assert_eq!(Arc::strong_count(&obj), 1);
    }

    #[test]
    fn detached_handles_still_count_against_the_limit() {
        let mut t = ResourceTable::with_limit(2);
        let a = t.push(Resource::new("thing", Arc::new(Thing(1)))).unwrap();
        t.push(Resource::new("thing", Arc::new(Thing(2)))).unwrap();
        t.detach(&[a]).unwrap();
        assert_eq!(
            t.push(Resource::new("thing", Arc::new(Thing(3)))),
            Err(HandleError::TooMany)
        );
        t.take_outbox();
        t.push(Resource::new("thing", Arc::new(Thing(3)))).unwrap();
    }
}
