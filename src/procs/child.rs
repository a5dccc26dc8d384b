//! The child's side: which process started it, and stopping when that
//! process is gone, so that no orphan keeps serving on the port.

use std::time::Duration;

use super::Stop;

/// How often a child checks that its parent is still there.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// The werk process that started this one (`WERK_SUPERVISOR_PID`), if it
/// is still this process's parent. The variable is removed, so that
/// processes this one starts do not take it for theirs.
pub(crate) fn take_supervisor() -> Option<u32> {
    let value = std::env::var(super::SUPERVISOR_PID).ok();
    std::env::remove_var(super::SUPERVISOR_PID);
    value
        .and_then(|v| v.parse().ok())
        .filter(|&pid| pid == std::os::unix::process::parent_id())
}

/// Stops `target` when the parent `supervisor` goes away (its process id
/// is no longer our parent's): on systems without a parent-death signal,
/// and as a second guard on Linux, where the kernel sends SIGTERM.
pub(crate) fn watch_parent(supervisor: Option<u32>, target: impl Stop) -> std::io::Result<()> {
    let Some(supervisor) = supervisor else {
        return Ok(());
    };
    std::thread::Builder::new()
        .name("werk-parent".into())
        .spawn(move || loop {
            std::thread::sleep(PARENT_CHECK);
            if std::os::unix::process::parent_id() != supervisor {
                eprintln!(" * The process that started this one (pid {supervisor}) is gone; shutting down");
                target.stop(false);
                return;
            }
        })?;
    Ok(())
}
