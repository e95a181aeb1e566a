//! The ABI as the host modules use it: module names, error codes, flags, kinds and tags,
//! all from `warren-abi`, the crate the guest SDK uses too (`docs/abi.md`).
//!
//! Calls return a non-negative value on success and one of the negative codes on an error
//! the guest is expected to handle. Errors that only a broken guest makes (a pointer outside
//! its memory) trap instead.

pub(crate) use warren_abi::*;
