//! `werk trust`: puts the local certificate authority's root (`local.rs`)
//! where this machine's clients look for trusted roots, takes it out
//! again, and says where it is.
//!
//! The stores, each found only when it is there:
//!
//! | store | used by | how |
//! |---|---|---|
//! | the system's anchors (Debian and Ubuntu, Fedora and RHEL, Arch, openSUSE) | curl, wget, Python, Node with `--use-openssl-ca`, Go, ... | copy to the anchors directory as `werk-ID.crt`, run the update command |
//! | the macOS login keychain | Safari, Chrome, curl on macOS | `security add-trusted-cert` |
//! | NSS databases: `~/.pki/nssdb` (made when a Chromium-family browser is installed), Firefox profiles | Chromium and Chrome on Linux, Firefox | `certutil -A` |
//!
//! Everything werk adds is named by the root's id (`werk-ID.crt`, the NSS
//! nickname and keychain name `werk local CA ID`), so `--uninstall`
//! removes exactly what it added and nothing else. Where werk lacks the
//! rights (the system store needs root) it prints the commands to run and
//! exits with [`NEEDS_YOU`].

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::local::{self, Root};

/// The exit status when some store needs commands the user must run (with
/// `sudo`, or after installing `certutil`); they were printed.
pub const NEEDS_YOU: i32 = 3;

/// What `werk trust` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create the authority if needed, and install it in every store.
    Install,
    /// Remove it from every store it was put in.
    Uninstall,
    /// Say, one line per store, where it is trusted.
    Status,
}

/// A Linux distribution family's system store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SystemStore {
    /// Which systems, for the messages.
    pub family: &'static str,
    /// The directory of extra roots.
    pub anchors: &'static str,
    /// The command that rebuilds the bundle after a root is added.
    pub update: &'static [&'static str],
    /// The command that rebuilds it after one is removed (Debian's
    /// `update-ca-certificates` leaves the removed root's links behind
    /// unless `--fresh`).
    pub refresh: &'static [&'static str],
    /// The bundle clients read, to check the root is in it.
    pub bundle: &'static str,
    /// How to install `certutil` there.
    pub certutil_package: &'static str,
}

/// The system stores werk knows, in the order they are looked for.
pub(crate) const SYSTEM_STORES: [SystemStore; 4] = [
    SystemStore {
        family: "Debian, Ubuntu",
        anchors: "/usr/local/share/ca-certificates",
        update: &["update-ca-certificates"],
        refresh: &["update-ca-certificates", "--fresh"],
        bundle: "/etc/ssl/certs/ca-certificates.crt",
        certutil_package: "sudo apt install libnss3-tools",
    },
    SystemStore {
        family: "Fedora, RHEL",
        anchors: "/etc/pki/ca-trust/source/anchors",
        update: &["update-ca-trust", "extract"],
        refresh: &["update-ca-trust", "extract"],
        bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        certutil_package: "sudo dnf install nss-tools",
    },
    SystemStore {
        family: "Arch",
        anchors: "/etc/ca-certificates/trust-source/anchors",
        update: &["update-ca-trust"],
        refresh: &["update-ca-trust"],
        bundle: "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
        certutil_package: "sudo pacman -S nss",
    },
    SystemStore {
        family: "openSUSE",
        anchors: "/etc/pki/trust/anchors",
        update: &["update-ca-certificates"],
        refresh: &["update-ca-certificates"],
        bundle: "/var/lib/ca-certificates/ca-bundle.pem",
        certutil_package: "sudo zypper install mozilla-nss-tools",
    },
];

/// One place a root can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Store {
    /// A Linux system store.
    System(SystemStore),
    /// The macOS login keychain at this path.
    Keychain(PathBuf),
    /// An NSS database directory (`certutil -d sql:DIR`); `create` when
    /// it does not exist yet and werk makes it (for a Chromium-family
    /// browser that has not run yet).
    Nss {
        dir: PathBuf,
        what: String,
        create: bool,
    },
}

impl Store {
    /// The store's name in the report, with the file or directory werk
    /// touches there.
    fn label(&self, root: &Root) -> String {
        match self {
            Store::System(s) => format!("system store ({})", system_file(s, &root.id).display()),
            Store::Keychain(path) => format!("macOS login keychain ({})", path.display()),
            Store::Nss { dir, what, .. } => format!("{what} ({})", dir.display()),
        }
    }
}

/// The file werk puts in a system store's anchors directory.
pub(crate) fn system_file(store: &SystemStore, id: &str) -> PathBuf {
    Path::new(store.anchors).join(format!("werk-{id}.crt"))
}

/// Whether this machine's Linux system store has `root` among its extra
/// roots (the file `werk trust`, or the commands it printed, put there);
/// `None` where there is no such store (macOS, another system). A glance
/// for `werk serve --cert local`, which says to run `werk trust` if not.
pub(crate) fn system_store_holds(root: &Root) -> Option<bool> {
    let store = SYSTEM_STORES
        .iter()
        .find(|s| Path::new(s.anchors).is_dir())?;
    Some(system_file(store, &root.id).is_file())
}

/// What a machine has, as far as finding stores goes: the real one reads
/// the file system; the tests describe one.
pub(crate) struct Machine<'a> {
    pub home: PathBuf,
    pub macos: bool,
    pub is_dir: &'a dyn Fn(&Path) -> bool,
    pub is_file: &'a dyn Fn(&Path) -> bool,
    /// The directories in a directory.
    pub subdirs: &'a dyn Fn(&Path) -> Vec<PathBuf>,
    pub has_program: &'a dyn Fn(&str) -> bool,
}

/// The browsers that read `~/.pki/nssdb` on Linux.
const CHROMIUM_FAMILY: [&str; 7] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "brave-browser",
    "microsoft-edge",
    "vivaldi",
];

/// Every store on `machine`: its system store (or the login keychain on
/// macOS), then its NSS databases: Chromium's (made if missing while a
/// Chromium-family browser is installed), Snap Chromium's, and each
/// Firefox profile's (those with a `cert9.db`).
pub(crate) fn stores(machine: &Machine<'_>) -> Vec<Store> {
    let home = &machine.home;
    let mut stores = Vec::new();
    if machine.macos {
        stores.push(Store::Keychain(
            home.join("Library/Keychains/login.keychain-db"),
        ));
    } else if let Some(system) = SYSTEM_STORES
        .iter()
        .find(|s| (machine.is_dir)(Path::new(s.anchors)))
    {
        stores.push(Store::System(*system));
    }
    if !machine.macos {
        let nssdb = home.join(".pki/nssdb");
        let exists = (machine.is_dir)(&nssdb);
        if exists || CHROMIUM_FAMILY.iter().any(|b| (machine.has_program)(b)) {
            stores.push(Store::Nss {
                dir: nssdb,
                what: "Chromium's NSS database".into(),
                create: !exists,
            });
        }
        let snap = home.join("snap/chromium/current/.pki/nssdb");
        if (machine.is_dir)(&snap) {
            stores.push(Store::Nss {
                dir: snap,
                what: "Snap Chromium's NSS database".into(),
                create: false,
            });
        }
    }
    let firefox_dirs = if machine.macos {
        vec![home.join("Library/Application Support/Firefox/Profiles")]
    } else {
        vec![
            home.join(".mozilla/firefox"),
            home.join("snap/firefox/common/.mozilla/firefox"),
        ]
    };
    for base in firefox_dirs {
        let mut profiles = (machine.subdirs)(&base);
        profiles.sort();
        for profile in profiles {
            if (machine.is_file)(&profile.join("cert9.db")) {
                let name = profile
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                stores.push(Store::Nss {
                    dir: profile,
                    what: format!("Firefox profile {name}"),
                    create: false,
                });
            }
        }
    }
    stores
}

/// This machine, as it is.
fn this_machine(home: PathBuf) -> Vec<Store> {
    let subdirs = |dir: &Path| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    stores(&Machine {
        home,
        macos: cfg!(target_os = "macos"),
        is_dir: &|p| p.is_dir(),
        is_file: &|p| p.is_file(),
        subdirs: &subdirs,
        has_program: &|name| find_program(name).is_some(),
    })
}

/// `name` on `PATH`, or in the system directories a user's `PATH` often
/// lacks (`update-ca-certificates` is in `/usr/sbin`).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// How one store went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Done now.
    Done,
    /// Nothing to do: it was already so.
    Already,
    /// The user must run these commands (and why).
    NeedsYou { why: String, commands: Vec<String> },
    /// A command failed.
    Failed(String),
}

/// `text` as a shell word: quoted when it holds anything but safe
/// characters.
pub(crate) fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn shell_line(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commands that install `root_file` in a system store, for a user
/// with `sudo`.
pub(crate) fn system_install_commands(
    store: &SystemStore,
    root_file: &Path,
    id: &str,
) -> Vec<String> {
    let target = system_file(store, id);
    let mut update = vec!["sudo"];
    update.extend_from_slice(store.update);
    vec![
        shell_line(&[
            "sudo",
            "install",
            "-m",
            "644",
            &root_file.to_string_lossy(),
            &target.to_string_lossy(),
        ]),
        shell_line(&update),
    ]
}

/// The commands that remove the root from a system store.
pub(crate) fn system_uninstall_commands(store: &SystemStore, id: &str) -> Vec<String> {
    let target = system_file(store, id);
    let mut refresh = vec!["sudo"];
    refresh.extend_from_slice(store.refresh);
    vec![
        shell_line(&["sudo", "rm", &target.to_string_lossy()]),
        shell_line(&refresh),
    ]
}

/// Runs a program; its output if it exits with 0, else what it said.
fn run_tool(program: &str, args: &[&OsStr]) -> Result<String, String> {
    let path = find_program(program).ok_or_else(|| format!("{program} is not installed"))?;
    let out = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!(
            "{program} failed ({}): {}",
            out.status,
            said.trim()
        ))
    }
}

fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

/// The PEM certificate's base64 without line breaks, to look for it in a
/// bundle whatever its line length.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}

/// True if the bundle file holds the certificate.
fn bundle_holds(bundle: &Path, cert_pem: &str) -> bool {
    let Ok(text) = fs::read_to_string(bundle) else {
        return false;
    };
    let flat: String = text.split_whitespace().collect();
    flat.contains(&pem_body(cert_pem))
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

fn install_system(store: &SystemStore, root: &Root) -> Outcome {
    let target = system_file(store, &root.id);
    let root_file = Root::cert_path(&root.dir);
    let copied = fs::read_to_string(&target).is_ok_and(|t| t == root.cert_pem);
    if copied && bundle_holds(Path::new(store.bundle), &root.cert_pem) {
        return Outcome::Already;
    }
    if !copied {
        if let Err(e) = fs::write(&target, &root.cert_pem) {
            if is_permission(&e) {
                return Outcome::NeedsYou {
                    why: format!("writing to {} needs root", store.anchors),
                    commands: system_install_commands(store, &root_file, &root.id),
                };
            }
            return Outcome::Failed(format!("cannot write {}: {e}", target.display()));
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&target, fs::Permissions::from_mode(0o644));
    }
    let args: Vec<&OsStr> = store.update[1..].iter().map(|a| os(a)).collect();
    if let Err(e) = run_tool(store.update[0], &args) {
        return Outcome::Failed(e);
    }
    if bundle_holds(Path::new(store.bundle), &root.cert_pem) {
        Outcome::Done
    } else {
        Outcome::Failed(format!(
            "{} ran, but {} does not hold the root",
            store.update.join(" "),
            store.bundle
        ))
    }
}

fn uninstall_system(store: &SystemStore, root: &Root) -> Outcome {
    let target = system_file(store, &root.id);
    if !target.exists() {
        return Outcome::Already;
    }
    if let Err(e) = fs::remove_file(&target) {
        if is_permission(&e) {
            return Outcome::NeedsYou {
                why: format!("removing a file from {} needs root", store.anchors),
                commands: system_uninstall_commands(store, &root.id),
            };
        }
        return Outcome::Failed(format!("cannot remove {}: {e}", target.display()));
    }
    let args: Vec<&OsStr> = store.refresh[1..].iter().map(|a| os(a)).collect();
    match run_tool(store.refresh[0], &args) {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

fn status_system(store: &SystemStore, root: &Root) -> String {
    let target = system_file(store, &root.id);
    match (
        target.exists(),
        bundle_holds(Path::new(store.bundle), &root.cert_pem),
    ) {
        (_, true) => "trusted".into(),
        (true, false) => format!(
            "copied, but not in {} yet: run sudo {}",
            store.bundle,
            store.update.join(" ")
        ),
        (false, false) => "not trusted".into(),
    }
}

/// `sql:DIR`, how certutil names a database directory.
fn sql_dir(dir: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from("sql:");
    arg.push(dir);
    arg
}

fn nss_holds(dir: &Path, nickname: &str) -> bool {
    run_tool(
        "certutil",
        &[os("-L"), os("-d"), &sql_dir(dir), os("-n"), os(nickname)],
    )
    .is_ok()
}

fn certutil_missing(system: Option<&SystemStore>) -> Outcome {
    let install = system.map_or(
        if cfg!(target_os = "macos") {
            "brew install nss"
        } else {
            "install NSS's certutil"
        },
        |s| s.certutil_package,
    );
    Outcome::NeedsYou {
        why: "certutil (NSS's tool) is not installed".into(),
        commands: vec![install.to_owned(), "werk trust".to_owned()],
    }
}

fn install_nss(dir: &Path, create: bool, root: &Root, system: Option<&SystemStore>) -> Outcome {
    if find_program("certutil").is_none() {
        return certutil_missing(system);
    }
    if create {
        if let Err(e) = local::make_private_dir(dir) {
            return Outcome::Failed(format!("cannot create {}: {e}", dir.display()));
        }
        if let Err(e) = run_tool(
            "certutil",
            &[os("-N"), os("-d"), &sql_dir(dir), os("--empty-password")],
        ) {
            return Outcome::Failed(e);
        }
    } else if nss_holds(dir, &root.common_name) {
        return Outcome::Already;
    }
    let root_file = Root::cert_path(&root.dir);
    let added = run_tool(
        "certutil",
        &[
            os("-A"),
            os("-d"),
            &sql_dir(dir),
            // A trusted issuer of server certificates.
            os("-t"),
            os("C,,"),
            os("-n"),
            os(&root.common_name),
            os("-i"),
            root_file.as_os_str(),
        ],
    );
    match added {
        Ok(_) if nss_holds(dir, &root.common_name) => Outcome::Done,
        Ok(_) => Outcome::Failed(format!(
            "certutil added the root, but {} lacks it",
            dir.display()
        )),
        Err(e) => Outcome::Failed(e),
    }
}

fn uninstall_nss(dir: &Path, root: &Root, system: Option<&SystemStore>) -> Outcome {
    if !dir.exists() {
        return Outcome::Already;
    }
    if find_program("certutil").is_none() {
        return certutil_missing(system);
    }
    if !nss_holds(dir, &root.common_name) {
        return Outcome::Already;
    }
    // A nickname can name more than one certificate; a few rounds at most.
    for _ in 0..8 {
        if !nss_holds(dir, &root.common_name) {
            return Outcome::Done;
        }
        if let Err(e) = run_tool(
            "certutil",
            &[
                os("-D"),
                os("-d"),
                &sql_dir(dir),
                os("-n"),
                os(&root.common_name),
            ],
        ) {
            return Outcome::Failed(e);
        }
    }
    Outcome::Failed(format!(
        "{} still holds {}",
        dir.display(),
        root.common_name
    ))
}

fn status_nss(dir: &Path, root: &Root) -> String {
    if !dir.exists() {
        return "not trusted (no database yet)".into();
    }
    if find_program("certutil").is_none() {
        return "unknown: certutil (NSS's tool) is not installed".into();
    }
    if nss_holds(dir, &root.common_name) {
        "trusted".into()
    } else {
        "not trusted".into()
    }
}

fn keychain_holds(keychain: &Path, root: &Root) -> bool {
    run_tool(
        "security",
        &[
            os("find-certificate"),
            os("-c"),
            os(&root.common_name),
            keychain.as_os_str(),
        ],
    )
    .is_ok()
}

fn install_keychain(keychain: &Path, root: &Root) -> Outcome {
    if keychain_holds(keychain, root) {
        return Outcome::Already;
    }
    let root_file = Root::cert_path(&root.dir);
    // macOS asks for the user's password in a dialog.
    match run_tool(
        "security",
        &[
            os("add-trusted-cert"),
            os("-r"),
            os("trustRoot"),
            os("-k"),
            keychain.as_os_str(),
            root_file.as_os_str(),
        ],
    ) {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

fn uninstall_keychain(keychain: &Path, root: &Root) -> Outcome {
    if !keychain_holds(keychain, root) {
        return Outcome::Already;
    }
    match run_tool(
        "security",
        &[
            os("delete-certificate"),
            os("-c"),
            os(&root.common_name),
            // Its trust settings too.
            os("-t"),
            keychain.as_os_str(),
        ],
    ) {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

/// Installs or removes `root` in one store.
fn apply(store: &Store, root: &Root, action: Action, system: Option<&SystemStore>) -> Outcome {
    match (store, action) {
        (Store::System(s), Action::Install) => install_system(s, root),
        (Store::System(s), _) => uninstall_system(s, root),
        (Store::Keychain(k), Action::Install) => install_keychain(k, root),
        (Store::Keychain(k), _) => uninstall_keychain(k, root),
        (Store::Nss { dir, create, .. }, Action::Install) => {
            install_nss(dir, *create, root, system)
        }
        (Store::Nss { dir, .. }, _) => uninstall_nss(dir, root, system),
    }
}

fn status(store: &Store, root: &Root) -> String {
    match store {
        Store::System(s) => status_system(s, root),
        Store::Keychain(k) => {
            if keychain_holds(k, root) {
                "trusted".into()
            } else {
                "not trusted".into()
            }
        }
        Store::Nss { dir, .. } => status_nss(dir, root),
    }
}

/// The end of a root's validity as a date, `2036-12-02`.
fn date(unix: u64) -> String {
    let t = crate::sys::local_time(unix as i64);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

fn describe(root: &Root) {
    let permits: Vec<String> = root.permits.iter().map(ToString::to_string).collect();
    out!(
        "Local certificate authority: {} ({}), in {}",
        root.common_name,
        root.unit,
        root.dir.display()
    );
    out!(
        "  permits {}; valid until {}",
        permits.join(", "),
        date(root.not_after)
    );
}

/// Applies `action` to every store and prints one line per store (and the
/// commands a store needs); the exit status.
fn apply_all(root: &Root, stores: &[Store], action: Action) -> i32 {
    let system = stores.iter().find_map(|s| match s {
        Store::System(s) => Some(*s),
        _ => None,
    });
    if system.is_none() && !cfg!(target_os = "macos") && action == Action::Install {
        out!(
            "system store: none that werk knows here; add {} to your system's trusted roots",
            Root::cert_path(&root.dir).display()
        );
    }
    let mut status = 0;
    for store in stores {
        let outcome = apply(store, root, action, system.as_ref());
        let label = store.label(root);
        match (outcome, action) {
            (Outcome::Done, Action::Install) => out!("{label}: trusted now"),
            (Outcome::Done, _) => out!("{label}: removed"),
            (Outcome::Already, Action::Install) => out!("{label}: already trusted"),
            (Outcome::Already, _) => out!("{label}: not there"),
            (Outcome::NeedsYou { why, commands }, _) => {
                out!("{label}: {why}; run:");
                for command in commands {
                    out!("    {command}");
                }
                status = status.max(NEEDS_YOU);
            }
            (Outcome::Failed(why), _) => {
                out!("{label}: failed: {why}");
                status = 1;
            }
        }
    }
    status
}

/// `werk trust [--name NAME]... [--uninstall | --status]`; the exit
/// status: 0 done, 1 a failure, [`NEEDS_YOU`] when commands were printed
/// for the user to run (or, for `--status`, when the root is not trusted
/// everywhere).
pub fn main(action: Action, names: &[String]) -> i32 {
    let Some(dir) = local::data_dir() else {
        say!("werk trust: set HOME (or XDG_DATA_HOME): the authority lives in the data directory");
        return 1;
    };
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        say!("werk trust: set HOME, where the browsers' certificate databases are");
        return 1;
    };
    let loaded = match Root::load(&dir) {
        Ok(root) => root,
        Err(e) => {
            say!("werk trust: {e}");
            return 1;
        }
    };
    let stores = this_machine(home);
    match action {
        Action::Status => {
            let Some(root) = loaded else {
                out!(
                    "No local certificate authority yet (it would be in {}): run werk trust",
                    dir.display()
                );
                return 1;
            };
            describe(&root);
            let mut everywhere = true;
            for store in &stores {
                let said = status(store, &root);
                everywhere &= said == "trusted";
                out!("{}: {said}", store.label(&root));
            }
            if everywhere {
                0
            } else {
                NEEDS_YOU
            }
        }
        Action::Uninstall => {
            let Some(root) = loaded else {
                out!(
                    "No local certificate authority in {}: nothing to remove",
                    dir.display()
                );
                return 0;
            };
            describe(&root);
            let status = apply_all(&root, &stores, Action::Uninstall);
            out!(
                "Its files stay in {} (werk serve --cert local still serves with it, trusted by \
                 no one); remove the directory to forget it.",
                dir.display()
            );
            status
        }
        Action::Install => install(loaded, &dir, &stores, names),
    }
}

fn install(loaded: Option<Root>, dir: &Path, stores: &[Store], names: &[String]) -> i32 {
    let wanted = match local::permits_with(names) {
        Ok(permits) => permits,
        Err(e) => {
            say!("werk trust: {e}");
            return 2;
        }
    };
    let now = local::unix_now();
    let mut status = 0;
    let root = match loaded {
        Some(root) if root.not_after > now && wanted.iter().all(|p| p.is_within(&root.permits)) => {
            root
        }
        old => {
            let mut permits = wanted;
            if let Some(old) = old {
                out!(
                    "The names a root permits are written in it, so a new root replaces {}; \
                     removing that one first:",
                    old.common_name
                );
                status = apply_all(&old, stores, Action::Uninstall);
                for permit in old.permits {
                    if !permits.contains(&permit) {
                        permits.push(permit);
                    }
                }
            }
            match Root::create(dir, &permits, now) {
                Ok(root) => root,
                Err(e) => {
                    say!("werk trust: {e}");
                    return 1;
                }
            }
        }
    };
    describe(&root);
    status = status.max(apply_all(&root, stores, Action::Install));
    match status {
        0 => {
            out!("Serve with: werk serve --cert local (a browser that is open may need a restart)")
        }
        NEEDS_YOU => out!("Then check with: werk trust --status"),
        _ => {}
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine_with<'a>(
        dirs: &'a [&'a str],
        files: &'a [&'a str],
        programs: &'a [&'a str],
        macos: bool,
        subdirs: &'a dyn Fn(&Path) -> Vec<PathBuf>,
    ) -> Machine<'a> {
        Machine {
            home: PathBuf::from("/home/u"),
            macos,
            is_dir: Box::leak(Box::new(move |p: &Path| {
                dirs.iter().any(|d| Path::new(d) == p)
            })),
            is_file: Box::leak(Box::new(move |p: &Path| {
                files.iter().any(|f| Path::new(f) == p)
            })),
            subdirs,
            has_program: Box::leak(Box::new(move |name: &str| programs.contains(&name))),
        }
    }

    fn no_subdirs(_: &Path) -> Vec<PathBuf> {
        Vec::new()
    }

    #[test]
    fn the_system_store_is_found_by_its_directory() {
        let debian = machine_with(
            &["/usr/local/share/ca-certificates"],
            &[],
            &[],
            false,
            &no_subdirs,
        );
        assert_eq!(stores(&debian), vec![Store::System(SYSTEM_STORES[0])]);
        let fedora = machine_with(
            &["/etc/pki/ca-trust/source/anchors"],
            &[],
            &[],
            false,
            &no_subdirs,
        );
        assert_eq!(stores(&fedora), vec![Store::System(SYSTEM_STORES[1])]);
        let arch = machine_with(
            &["/etc/ca-certificates/trust-source/anchors"],
            &[],
            &[],
            false,
            &no_subdirs,
        );
        assert_eq!(stores(&arch)[0], Store::System(SYSTEM_STORES[2]));
        let none = machine_with(&[], &[], &[], false, &no_subdirs);
        assert!(stores(&none).is_empty());
        let mac = machine_with(
            &["/usr/local/share/ca-certificates"],
            &[],
            &["chromium"],
            true,
            &no_subdirs,
        );
        assert_eq!(
            stores(&mac),
            vec![Store::Keychain(PathBuf::from(
                "/home/u/Library/Keychains/login.keychain-db"
            ))],
            "macOS: the keychain, which Chrome reads too"
        );
    }

    #[test]
    fn nss_databases_chromium_s_made_when_a_browser_is_there_and_firefox_profiles() {
        let nss = |dir: &str, what: &str, create: bool| Store::Nss {
            dir: PathBuf::from(dir),
            what: what.into(),
            create,
        };
        let with_browser = machine_with(&[], &[], &["google-chrome"], false, &no_subdirs);
        assert_eq!(
            stores(&with_browser),
            vec![nss("/home/u/.pki/nssdb", "Chromium's NSS database", true)]
        );
        let existing = machine_with(&["/home/u/.pki/nssdb"], &[], &[], false, &no_subdirs);
        assert_eq!(
            stores(&existing),
            vec![nss("/home/u/.pki/nssdb", "Chromium's NSS database", false)]
        );
        let profiles = |dir: &Path| -> Vec<PathBuf> {
            if dir == Path::new("/home/u/.mozilla/firefox") {
                vec![
                    dir.join("b.default-release"),
                    dir.join("a.old"),
                    dir.join("Crash Reports"),
                ]
            } else {
                Vec::new()
            }
        };
        let firefox = machine_with(
            &[],
            &[
                "/home/u/.mozilla/firefox/b.default-release/cert9.db",
                "/home/u/.mozilla/firefox/a.old/cert9.db",
            ],
            &[],
            false,
            &profiles,
        );
        assert_eq!(
            stores(&firefox),
            vec![
                nss(
                    "/home/u/.mozilla/firefox/a.old",
                    "Firefox profile a.old",
                    false
                ),
                nss(
                    "/home/u/.mozilla/firefox/b.default-release",
                    "Firefox profile b.default-release",
                    false
                ),
            ],
            "profiles with a cert9.db only, in order"
        );
    }

    #[test]
    fn commands_for_the_user_name_the_files() {
        let debian = &SYSTEM_STORES[0];
        assert_eq!(
            system_install_commands(
                debian,
                Path::new("/home/u/.local/share/werk/root.crt"),
                "0a1b2c3d4e5f"
            ),
            vec![
                "sudo install -m 644 /home/u/.local/share/werk/root.crt \
                 /usr/local/share/ca-certificates/werk-0a1b2c3d4e5f.crt",
                "sudo update-ca-certificates",
            ]
        );
        assert_eq!(
            system_uninstall_commands(debian, "0a1b2c3d4e5f"),
            vec![
                "sudo rm /usr/local/share/ca-certificates/werk-0a1b2c3d4e5f.crt",
                "sudo update-ca-certificates --fresh",
            ]
        );
        assert_eq!(
            system_install_commands(&SYSTEM_STORES[1], Path::new("/r.crt"), "x")[1],
            "sudo update-ca-trust extract"
        );
        assert_eq!(
            shell_word("/Users/u/Library/Application Support/werk/root.crt"),
            "'/Users/u/Library/Application Support/werk/root.crt'"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn a_bundle_holds_a_root_whatever_its_line_breaks() {
        let dir = std::env::temp_dir().join(format!("werk-trust-bundle-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n";
        let bundle = dir.join("bundle.pem");
        fs::write(
            &bundle,
            "other\n-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(bundle_holds(&bundle, pem));
        fs::write(
            &bundle,
            "-----BEGIN CERTIFICATE-----\nQUJDREVH\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(!bundle_holds(&bundle, pem));
        assert!(!bundle_holds(&dir.join("missing"), pem));
        let _ = fs::remove_dir_all(&dir);
    }
}
