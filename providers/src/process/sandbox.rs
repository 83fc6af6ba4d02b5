//! A Landlock sandbox per replica: the watchdog and the function it runs may read and execute
//! the system's programs and libraries, read their own secrets, and write only their own
//! scratch directory; nothing else of the file system (Switchyard's data directory, its keys,
//! other functions' secrets and files). Processes outside the sandbox cannot be signalled or
//! traced from inside it (Landlock scopes ptrace, and signals from ABI 6 on), so a function
//! cannot read another replica's `/proc/<pid>/environ` either.
//!
//! The rule set is built in the provider before the fork; the child only enforces it
//! ([`Sandbox::enforce`]: two system calls, async-signal-safe).
//!
//! Landlock is a Linux security module (5.13 and later). Where the kernel lacks it,
//! [`Sandbox::supported`] says so and the provider runs replicas unconfined (see
//! `IsolationPolicy`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

// From <linux/landlock.h>.
const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;
const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// Rights that apply to a file (not a directory), for rules on single files.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
const READ_RIGHTS: u64 = EXECUTE | READ_FILE | READ_DIR;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// What the system offers every replica to read and execute.
const SYSTEM_READ: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc", "/sys",
];
/// Devices every replica may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// Paths a replica may use besides the system's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowed {
    pub(crate) read: Vec<PathBuf>,
    pub(crate) write: Vec<PathBuf>,
}

/// A rule set ready to be enforced in a child process.
#[derive(Debug)]
pub(crate) struct Sandbox {
    ruleset: OwnedFd,
}

impl Sandbox {
    /// The Landlock ABI version the kernel offers, if any.
    pub(crate) fn supported() -> Option<u32> {
        // SAFETY: the version query takes no attribute pointer.
        let version = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        u32::try_from(version).ok().filter(|v| *v >= 1)
    }

    /// The rule set for a replica allowed `allowed` besides the system's paths. Paths that do
    /// not exist are left out.
    pub(crate) fn new(allowed: &Allowed) -> io::Result<Self> {
        let abi = Self::supported().ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "the kernel offers no Landlock")
        })?;
        let handled = handled_fs(abi);
        let attr = RulesetAttr {
            handled_access_fs: handled,
            handled_access_net: 0,
            scoped: if abi >= 6 {
                SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
            } else {
                0
            },
        };
        // SAFETY: `attr` is a valid ruleset attribute of the size given.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0u32,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us this descriptor.
        let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let sandbox = Sandbox { ruleset };
        for path in SYSTEM_READ
            .iter()
            .map(Path::new)
            .chain(allowed.read.iter().map(PathBuf::as_path))
        {
            sandbox.allow(path, READ_RIGHTS & handled)?;
        }
        for path in DEVICES.iter().map(Path::new) {
            sandbox.allow(path, (READ_FILE | WRITE_FILE) & handled)?;
        }
        for path in &allowed.write {
            sandbox.allow(path, handled)?;
        }
        Ok(sandbox)
    }

    fn allow(&self, path: &Path, rights: u64) -> io::Result<()> {
        let Ok(metadata) = std::fs::metadata(path) else {
            return Ok(());
        };
        let rights = if metadata.is_dir() {
            rights
        } else {
            rights & FILE_RIGHTS
        };
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: a valid NUL-terminated path; O_PATH opens no content.
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just opened.
        let parent = unsafe { OwnedFd::from_raw_fd(fd) };
        let rule = PathBeneathAttr {
            allowed_access: rights,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: `rule` is a valid path-beneath attribute; both descriptors are open.
        let done = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        if done < 0 {
            let error = io::Error::last_os_error();
            return Err(io::Error::new(
                error.kind(),
                format!("{}: {error}", path.display()),
            ));
        }
        Ok(())
    }

    /// Enforces the rule set on the calling process and everything it will start. Only
    /// async-signal-safe calls: this runs between fork and exec.
    pub(crate) fn enforce(&self) -> io::Result<()> {
        // SAFETY: plain system calls on an open descriptor.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(
                libc::SYS_landlock_restrict_self,
                self.ruleset.as_raw_fd(),
                0u32,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Every file-system right the kernel's ABI knows: all of them are denied unless a rule allows.
fn handled_fs(abi: u32) -> u64 {
    // ABI 1: bits 0-12; 2 adds REFER (13); 3 TRUNCATE (14); 5 IOCTL_DEV (15).
    let bits = match abi {
        1 => 13,
        2 => 14,
        3 | 4 => 15,
        _ => 16,
    };
    (1u64 << bits) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A child under the sandbox reads what it was given and nothing else (a real kernel
    /// check: Landlock is on every machine these tests run on; see `./scripts/test`).
    #[test]
    fn a_sandboxed_child_reads_only_what_it_was_given() {
        assert!(
            Sandbox::supported().is_some(),
            "this kernel offers no Landlock: process replicas cannot be isolated here"
        );
        let root = std::env::temp_dir().join(format!("sy-sandbox-{}", std::process::id()));
        let mine = root.join("mine");
        let theirs = root.join("theirs");
        std::fs::create_dir_all(&mine).expect("dir");
        std::fs::create_dir_all(&theirs).expect("dir");
        std::fs::write(theirs.join("secret"), "s3cret").expect("file");
        let sandbox = std::sync::Arc::new(
            Sandbox::new(&Allowed {
                read: vec![],
                write: vec![mine.clone()],
            })
            .expect("a rule set"),
        );
        let run = |script: &str| {
            let sandbox = sandbox.clone();
            let mut command = Command::new("/bin/sh");
            command.arg("-c").arg(script);
            // SAFETY: `enforce` makes only async-signal-safe calls.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                    sandbox.enforce()
                });
            }
            command.output().expect("runs")
        };
        let reading = run(&format!("cat {}", theirs.join("secret").display()));
        assert!(!reading.status.success(), "{reading:?}");
        let writing = run(&format!("echo ok > {0}/out && cat {0}/out", mine.display()));
        assert_eq!(
            String::from_utf8_lossy(&writing.stdout),
            "ok\n",
            "{writing:?}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
