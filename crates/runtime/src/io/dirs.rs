//! The directories granted to guests, and resolving a guest path inside one of them.
//!
//! Each grant pairs a host directory with the path guests name it by (`--dir host[:guest]`,
//! the same mapping WASI preview 1 preopens, so `std::fs` in a guest and warren's file API
//! see the same files). A guest path resolves to the grant with the longest matching prefix
//! and a path relative to it; everything below is opened through `cap-std`, which refuses
//! any path that would leave the directory — by `..`, an absolute symlink, or a symlink
//! pointing outside — with "a path led outside of the filesystem".

use super::IoFailure;
use cap_std::fs::Dir;
use std::path::{Path, PathBuf};
use warren_abi::ERR_DENIED;

#[derive(Debug)]
struct Grant {
    /// The guest's name for it, without a trailing `/` (`"."` for a relative grant).
    guest: String,
    host: PathBuf,
    dir: Dir,
}

/// The granted directories of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    grants: Vec<Grant>,
}

impl Grants {
    /// Open each `(host, guest)` directory now; a directory that cannot be opened is an error.
    pub(crate) fn open<'a>(
        dirs: impl IntoIterator<Item = (&'a Path, &'a str)>,
    ) -> std::io::Result<Grants> {
        let mut grants = Vec::new();
        for (host, guest) in dirs {
            let dir = Dir::open_ambient_dir(host, cap_std::ambient_authority()).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot open granted directory {}: {e}", host.display()),
                )
            })?;
            let trimmed = guest.trim_end_matches('/');
            let guest = if trimmed.is_empty() && guest.starts_with('/') {
                "/".to_string()
            } else {
                trimmed.to_string()
            };
            grants.push(Grant {
                guest,
                host: host.to_path_buf(),
                dir,
            });
        }
        Ok(Grants { grants })
    }

    /// The grant a guest path falls under, and the path relative to it.
    pub(crate) fn resolve<'a>(&'a self, path: &str) -> Result<(&'a Dir, PathBuf), IoFailure> {
        let mut best: Option<(&Grant, &str)> = None;
        for g in &self.grants {
            let rest = if g.guest == "/" {
                path.strip_prefix('/')
            } else if g.guest == "." {
                (!path.starts_with('/')).then_some(path.strip_prefix("./").unwrap_or(path))
            } else {
                match path.strip_prefix(g.guest.as_str()) {
                    Some("") => Some(""),
                    Some(r) if r.starts_with('/') => Some(r.trim_start_matches('/')),
                    _ => None,
                }
            };
            if let Some(rest) = rest
                && best.is_none_or(|(b, _)| g.guest.len() > b.guest.len())
            {
                best = Some((g, rest));
            }
        }
        match best {
            Some((g, rest)) => {
                let rel = if rest.is_empty() { "." } else { rest };
                Ok((&g.dir, PathBuf::from(rel)))
            }
            None => Err(IoFailure::new(
                ERR_DENIED,
                format!(
                    "{path:?} is not under a granted directory ({}); grant the directory to the runtime",
                    self.describe()
                ),
            )),
        }
    }

    fn describe(&self) -> String {
        if self.grants.is_empty() {
            return "none is granted".into();
        }
        let names: Vec<String> = self
            .grants
            .iter()
            .map(|g| format!("{} = {}", g.guest, g.host.display()))
            .collect();
        format!("granted: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_on_component_boundaries() {
        let tmp = std::env::temp_dir();
        let g = Grants::open([(tmp.as_path(), "/data"), (tmp.as_path(), "/data/sub")]).unwrap();
        assert_eq!(g.resolve("/data/x.txt").unwrap().1, PathBuf::from("x.txt"));
        assert_eq!(g.resolve("/data").unwrap().1, PathBuf::from("."));
        assert_eq!(g.resolve("/data/sub/y").unwrap().1, PathBuf::from("y"));
        assert_eq!(g.resolve("/database").unwrap_err().code, ERR_DENIED);
        assert_eq!(g.resolve("x.txt").unwrap_err().code, ERR_DENIED);
    }
}
