//! Starting function processes in their own process group, and killing the whole group.

use tokio::process::Command;

/// A command for `argv`, in a new process group so that a timeout can kill everything it started.
pub(crate) fn command(argv: &[String]) -> Command {
    let (program, args) = argv
        .split_first()
        .expect("Config guarantees fprocess is not empty");
    let mut command = Command::new(program);
    command.args(args).process_group(0).kill_on_drop(true);
    command
}

/// Like [`command`], and the process is killed if the watchdog dies first (a long-running
/// upstream must not outlive its watchdog).
pub(crate) fn long_running_command(argv: &[String]) -> Command {
    let mut command = command(argv);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
}

/// Sends `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
    unsafe {
        libc::kill(-pid, signal);
    }
}
