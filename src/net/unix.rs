//! Unix domain sockets: `unix:///path/app.sock`.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::{Bound, ListenAddr, Listener};
use crate::Error;

/// Binds a Unix socket at `path` (relative paths are taken from the
/// current directory, as Werkzeug does).
///
/// A file already at `path` is removed only if it is a socket that no
/// server answers on (a stale socket from a previous run); a live socket
/// or any other kind of file is an error and is left alone.
pub(crate) fn bind(path: &str) -> Result<Bound, Error> {
    let path = absolute(Path::new(path))?;
    clear_stale(&path)?;
    let listener = UnixListener::bind(&path).map_err(|source| Error::UnixBind {
        path: path.clone(),
        source,
    })?;
    Ok(Bound {
        listener: Listener::Unix(listener),
        addr: ListenAddr::Unix(path.clone()),
        why: None,
        created_file: Some(path),
    })
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    if path.as_os_str().is_empty() {
        return Err(Error::Config(
            "unix:// needs a socket path, as in unix:///tmp/app.sock".into(),
        ));
    }
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()?.join(path))
}

fn clear_stale(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Io(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::Config(format!(
            "{} exists and is not a socket; not replacing it",
            path.display()
        )));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(Error::Config(format!(
            "another server is listening on unix socket {}",
            path.display()
        ))),
        Err(_) => std::fs::remove_file(path).map_err(Error::Io),
    }
}

/// Removes a socket file this process created, if it is still a socket.
pub(crate) fn remove_socket_file(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("werk-unix-{}-{name}", std::process::id()))
    }

    #[test]
    fn stale_socket_is_replaced() {
        let path = temp("stale.sock");
        let _ = std::fs::remove_file(&path);
        drop(UnixListener::bind(&path).unwrap());
        let bound = bind(path.to_str().unwrap()).expect("stale socket replaced");
        drop(bound);
        remove_socket_file(&path);
    }

    #[test]
    fn live_socket_is_kept() {
        let path = temp("live.sock");
        let _ = std::fs::remove_file(&path);
        let _live = UnixListener::bind(&path).unwrap();
        let err = bind(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("another server"), "{err}");
        remove_socket_file(&path);
    }

    #[test]
    fn a_missing_directory_is_named_with_what_to_do() {
        let path = temp("no-such-dir").join("app.sock");
        let err = bind(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("does not exist: create it (mkdir -p"), "{err}");
        assert!(!err.contains("invalid option"), "{err}");
    }

    #[test]
    fn regular_file_is_never_deleted() {
        let path = temp("file.txt");
        std::fs::write(&path, b"keep me").unwrap();
        let err = bind(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
        std::fs::remove_file(&path).unwrap();
    }
}
