//! A mailbox bound as the ABI and the wire carry it: `warren:message.bound`'s and
//! `spawn_bound`'s arguments, and the three numbers of a [`Signal::Bound`], a spawn order and
//! a [`Signal::Full`] (messages, bytes — `u64::MAX` for none in that dimension — and a
//! `WHEN_FULL_*` policy). Every conversion is here, so each side reads them alike.
//!
//! [`Signal::Bound`]: super::remote::Signal::Bound
//! [`Signal::Full`]: super::remote::Signal::Full

use super::mailbox::{Bound, WhenFull};

/// A bound as a `Full` signal carries it.
pub(crate) fn bound_of(messages: u64, bytes: u64, fail: bool) -> Bound {
    let narrow = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Bound {
        messages: narrow(messages),
        bytes: narrow(bytes),
        when_full: if fail {
            WhenFull::Fail
        } else {
            WhenFull::Block
        },
    }
}

/// A policy as `warren:message.bound` and `Signal::Bound` carry it.
pub(crate) fn when_full_code(when_full: WhenFull) -> u32 {
    match when_full {
        WhenFull::Block => warren_abi::WHEN_FULL_BLOCK,
        WhenFull::Fail => warren_abi::WHEN_FULL_FAIL,
        WhenFull::DropOldest => warren_abi::WHEN_FULL_DROP_OLDEST,
        WhenFull::DropNewest => warren_abi::WHEN_FULL_DROP_NEWEST,
        WhenFull::End => warren_abi::WHEN_FULL_END,
    }
}

/// A policy from its code; `None` for an unknown one.
pub(crate) fn when_full_of(code: u32) -> Option<WhenFull> {
    Some(match code {
        warren_abi::WHEN_FULL_BLOCK => WhenFull::Block,
        warren_abi::WHEN_FULL_FAIL => WhenFull::Fail,
        warren_abi::WHEN_FULL_DROP_OLDEST => WhenFull::DropOldest,
        warren_abi::WHEN_FULL_DROP_NEWEST => WhenFull::DropNewest,
        warren_abi::WHEN_FULL_END => WhenFull::End,
        _ => return None,
    })
}

/// A bound as `Signal::Bound` and a spawn order carry it.
pub(crate) fn bound_to_wire(bound: &Bound) -> (u64, u64, u32) {
    let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    (
        wide(bound.messages),
        wide(bound.bytes),
        when_full_code(bound.when_full),
    )
}

/// A bound from `warren:message.bound`'s (or `spawn_bound`'s) arguments: 0 is no limit in
/// that dimension, both 0 no bound; the error is the text of an `ERR_BAD_ARGUMENT`.
pub(crate) fn bound_from_abi(
    messages: i64,
    bytes: i64,
    when_full: u32,
) -> Result<Option<Bound>, String> {
    let (Ok(messages), Ok(bytes)) = (u64::try_from(messages), u64::try_from(bytes)) else {
        return Err(format!(
            "a negative bound ({messages} messages, {bytes} bytes)"
        ));
    };
    let Some(when_full) = when_full_of(when_full) else {
        return Err(format!(
            "unknown policy {when_full} for a full mailbox (WHEN_FULL_BLOCK..WHEN_FULL_END are \
             0..4)"
        ));
    };
    let unlimited = |n: u64| {
        if n == 0 {
            usize::MAX
        } else {
            usize::try_from(n).unwrap_or(usize::MAX)
        }
    };
    Ok((messages != 0 || bytes != 0).then(|| Bound {
        messages: unlimited(messages),
        bytes: unlimited(bytes),
        when_full,
    }))
}

/// A bound as `Signal::Bound` carries it (`u64::MAX`: none in that dimension); `None` for
/// an unknown policy (a peer of another version: the mailbox stays as it is).
pub(crate) fn bound_from_wire(messages: u64, bytes: u64, when_full: u32) -> Option<Bound> {
    let narrow = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Some(Bound {
        messages: narrow(messages),
        bytes: narrow(bytes),
        when_full: when_full_of(when_full)?,
    })
}
