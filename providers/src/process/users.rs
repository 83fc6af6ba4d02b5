//! One OS user per function, when the provider runs as root: a function's processes then
//! cannot read another function's `/proc/<pid>/environ` (its `envVars`) or signal it, which
//! processes of one user always can. The users exist only as numbers (no passwd entry), from
//! [`FIRST_UID`] on, one per function for the provider's lifetime.

use std::collections::HashMap;
use std::sync::Mutex;

/// The first user (and group) id given to a function; far above login users and the usual
/// subordinate id ranges of containers.
pub(crate) const FIRST_UID: u32 = 200_000;
/// How many functions can have a user at once.
const MAX_USERS: u32 = 100_000;

#[derive(Default)]
pub(crate) struct Users {
    given: Mutex<HashMap<String, u32>>,
}

impl Users {
    /// Whether this process can give functions users of their own.
    pub(crate) fn can_switch() -> bool {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    /// The user of `function` (the same for each of its replicas), if one is left.
    pub(crate) fn of(&self, function: &str) -> Option<u32> {
        let mut given = self.given.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(uid) = given.get(function) {
            return Some(*uid);
        }
        let count = u32::try_from(given.len()).ok()?;
        if count >= MAX_USERS {
            return None;
        }
        let uid = FIRST_UID + count;
        given.insert(function.to_string(), uid);
        Some(uid)
    }
}

/// Becomes `uid` (and group `uid`, no supplementary groups): every capability is gone after
/// it. Only async-signal-safe calls: this runs between fork and exec.
pub(crate) fn become_user(uid: u32) -> std::io::Result<()> {
    // SAFETY: plain system calls.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(uid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Gives `path` (and, for a directory, what is directly in it) to `uid`.
pub(crate) fn give(path: &std::path::Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(uid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)?.flatten() {
            std::os::unix::fs::chown(entry.path(), Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_keeps_one_user_of_its_own() {
        let users = Users::default();
        let a = users.of("a").expect("a user");
        let b = users.of("b.team").expect("a user");
        assert_ne!(a, b);
        assert_eq!(users.of("a"), Some(a));
        assert!(a >= FIRST_UID && b >= FIRST_UID);
    }
}
