//! Names, as cfgs, the systems whose file events the reloader reads from
//! the kernel: `werk_inotify` and `werk_kqueue`. Cargo.toml gives the
//! same systems the `inotify` and `kqueue` dependencies (tests/layers.rs
//! checks that the two lists agree); everywhere else the reloader polls.

/// Systems with inotify.
const INOTIFY: [&str; 2] = ["linux", "android"];

/// Systems with kqueue.
const KQUEUE: [&str; 6] = ["macos", "ios", "freebsd", "openbsd", "netbsd", "dragonfly"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(werk_inotify, werk_kqueue)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if INOTIFY.contains(&os.as_str()) {
        println!("cargo::rustc-cfg=werk_inotify");
    }
    if KQUEUE.contains(&os.as_str()) {
        println!("cargo::rustc-cfg=werk_kqueue");
    }
}
